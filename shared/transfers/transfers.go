// Package transfers is sending money to a friend: POST /transfers moves
// money from the caller's main account into the friend's main account in
// one transaction, charging the caller's bank automatically (in steps of
// money.AutoChargeStep, within the daily limit) when the balance is short.
//
// Pending transfers (issue 4): with the sender's default (PUT /me/settings)
// or "pending": true, the transfer HOLDS the amount on the sender's main
// account instead and waits for the receiver (see package pending and
// store/pending.go). Without an override the handler adds no read: the
// immediate transaction carries a ConditionCheck that the sender's profile
// is not pending by default; if it fails (problem.PendingByDefault, an
// internal signal) the retry hook builds the pending variant, which
// re-checks pendingByDefault = true in its own transaction.
package transfers

import (
	"context"
	"errors"
	"net/http"
	"time"

	"minipay/shared/api"
	"minipay/shared/money"
	"minipay/shared/problem"
	"minipay/shared/store"
)

// Movement types and labels as they appear in history.
const (
	TypeTransfer = "transfer"
	TypeCharge   = "charge" // the automatic charge; the same type as a manual one
	LabelBank    = "bank"
)

// Field limits.
const (
	MaxDisplayName = 50
	MaxMemo        = 200
)

// autoChargeAttempts is how many times the automatic charge is computed: the
// first time from the balance the plain transfer found, then again if the
// balance changed before the charge committed.
const autoChargeAttempts = 3

type request struct {
	To          string          `json:"to"`
	Amount      api.AmountField `json:"amount"`
	DisplayName string          `json:"displayName"`
	Memo        string          `json:"memo"`
	// Pending, if set, overrides the sender's default (PUT /me/settings):
	// true makes the transfer wait for the receiver, false sends it now.
	Pending *bool `json:"pending"`
}

// Response is what a completed transfer returns (and replays).
type Response struct {
	ID          string    `json:"id"`
	Type        string    `json:"type"`
	From        string    `json:"from"`      // the sender's main account
	To          string    `json:"to"`        // the receiver's user id
	ToAccount   string    `json:"toAccount"` // the receiver's main account
	Amount      int64     `json:"amount"`
	AutoCharged int64     `json:"autoCharged"` // charged from the sender's bank for this transfer; 0 if none
	DisplayName string    `json:"displayName,omitempty"`
	Memo        string    `json:"memo,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	// Status is "completed" (the money is in the receiver's account) or
	// "pending" (held on the sender's account until the receiver accepts,
	// rejects, the sender cancels, or it expires at ExpiresAt).
	Status    string     `json:"status"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// Create is POST /transfers {to, amount, displayName?, memo?}.
//
// It costs one DynamoDB request when the balance covers the amount: the
// receiver's main account is derived from their user id, the sender's name
// comes from the authorizer context, and the receiver is labelled by user
// id on the sender's side (the sender knows whom they paid). An unknown
// receiver fails the credit's attribute_exists: 404, nothing moves.
//
// When the balance is short, the refusal carries the available balance the
// debit's condition saw; the handler then tries a second transaction with an
// automatic charge of the shortfall rounded up to money.AutoChargeStep,
// counted against the daily limit, and the transfer. Its condition
// (available + charge >= amount) re-checks the balance the charge was
// computed from; if the balance moved meanwhile, it recomputes (bounded).
func Create(d api.Deps) api.LambdaHandler {
	return api.Handle(d, "transfer", api.Money(d, func(ctx context.Context, r *api.Request) (*api.Movement, error) {
		var in request
		if err := r.Decode(&in); err != nil {
			return nil, err
		}
		if !store.ValidID(in.To, "u_") {
			return nil, problem.InvalidField.With("to must be the receiver's user id, such as u_0123456789abcdef").WithExtra("field", "to")
		}
		if in.To == r.Caller {
			return nil, problem.SelfTransfer.With("to is your own user id; move money between your own accounts with deposits")
		}
		amount, err := api.Amount("amount", in.Amount)
		if err != nil {
			return nil, err
		}
		displayName, err := api.Text("displayName", in.DisplayName, MaxDisplayName, false)
		if err != nil {
			return nil, err
		}
		memo, err := api.Text("memo", in.Memo, MaxMemo, false)
		if err != nil {
			return nil, err
		}
		name := r.CallerName
		if name == "" {
			// A token issued before names were stored on token items: one
			// read, only for such tokens.
			u, err := d.Store.GetUser(ctx, r.Caller)
			if err != nil {
				return nil, err
			}
			name = u.Name
		}
		t := &transfer{d: d, caller: r.Caller, to: in.To, amount: amount, name: name, displayName: displayName, memo: memo}
		if in.Pending != nil {
			t.pending, t.override = *in.Pending, true
		}
		return t.plain(), nil
	}))
}

// transfer is one request's decided facts; its methods build the
// transactions to try.
type transfer struct {
	d                       api.Deps
	caller, to              string
	amount                  int64
	name, displayName, memo string
	autoCharges             int // retries built so far (bounded by autoChargeAttempts)
	// pending: build the pending variant (hold, accept later). override: the
	// request chose; otherwise the transaction re-checks the sender's
	// default that pending was chosen from (RequirePendingDefault).
	pending, override bool
}

func (t *transfer) movement(id string, at time.Time) store.Movement {
	return store.Movement{
		ID: id, Type: TypeTransfer, Amount: t.amount, At: at,
		From: store.MainAccount(t.caller), FromKind: store.KindMain, FromLabel: t.name,
		To: store.MainAccount(t.to), ToKind: store.KindMain, ToLabel: t.to,
		Originator: t.name, DisplayName: t.displayName, Memo: t.memo,
	}
}

// plain is the transfer alone: one debit, one credit, two entries (or, for
// a pending transfer, the hold and the pending items).
func (t *transfer) plain() *api.Movement {
	now := t.d.Clock.Now()
	m := t.movement(store.NewMovementID(now), now)
	tx := t.newTx()
	if t.pending {
		tx.Hold(m.From, store.KindMain, t.amount)
		return t.createPending(tx, m, 0)
	}
	tx.Move(m)
	return t.respond(m, 0, tx)
}

// newTx starts a transaction; without an override its first item re-checks
// the sender's default the variant was chosen from, so a setting that
// differs fails the check (an internal signal, see retry) before anything
// else is judged. It is a ConditionCheck of the profile: no read.
func (t *transfer) newTx() *store.Tx {
	tx := &store.Tx{}
	if !t.override {
		tx.RequirePendingDefault(t.caller, t.pending)
	}
	return tx
}

// createPending adds the pending transfer's items after its hold.
func (t *transfer) createPending(tx *store.Tx, m store.Movement, charged int64) *api.Movement {
	p := store.NewPendingTransfer(m.ID, t.caller, t.to, t.amount, t.name, t.displayName, t.memo, m.At)
	tx.CreatePending(p)
	resp := t.respond(m, charged, tx)
	body := resp.Body.(Response)
	body.Status, body.ExpiresAt = store.StatusPending, &p.ExpiresAt
	resp.Body = body
	return resp
}

// withCharge is the automatic charge and the transfer in one transaction.
func (t *transfer) withCharge(charge int64) *api.Movement {
	now := t.d.Clock.Now()
	// Two ids from the same instant, the smaller for the charge, so the
	// history (newest first) shows the transfer above the charge it paid for.
	chargeID, transferID := store.NewMovementID(now), store.NewMovementID(now)
	if transferID < chargeID {
		chargeID, transferID = transferID, chargeID
	}
	m := t.movement(transferID, now)
	c := store.Movement{
		ID: chargeID, Type: TypeCharge, Amount: charge, At: now,
		From: store.ExternalAccount(t.caller), FromLabel: LabelBank,
		To: store.MainAccount(t.caller), ToKind: store.KindMain, ToLabel: t.caller,
		Memo: "automatic charge for transfer " + transferID,
	}
	tx := t.newTx()
	t.autoCharges++
	if t.pending {
		c.Memo = "automatic charge for pending transfer " + transferID
		tx.HoldWithTopUp(m.From, store.KindMain, t.amount, c)
		tx.ChargeLimit(t.caller, now, charge, money.DailyChargeLimit)
		return t.createPending(tx, m, charge)
	}
	tx.MoveWithTopUp(m, c)
	tx.ChargeLimit(t.caller, now, charge, money.DailyChargeLimit)
	return t.respond(m, charge, tx)
}

func (t *transfer) respond(m store.Movement, charged int64, tx *store.Tx) *api.Movement {
	return &api.Movement{Tx: tx, Status: http.StatusCreated, Retry: t.retry, Body: Response{
		ID: m.ID, Type: m.Type, From: m.From.ID, To: t.to, ToAccount: m.To.ID, Amount: m.Amount,
		AutoCharged: charged, DisplayName: m.DisplayName, Memo: m.Memo, CreatedAt: m.At.UTC(), Status: "completed",
	}}
}

// retry answers a refusal: insufficient funds becomes an automatic charge of
// the shortfall (at most autoChargeAttempts times); anything else stands
// (an unknown receiver is the credit's 404, a spent limit the limit's 422).
//
// The sender's default disagreeing with the variant tried
// (problem.PendingByDefault / NotPendingByDefault from the profile's
// ConditionCheck) switches variant; the auto-charge count starts again, as
// the new variant has its own balance check.
func (t *transfer) retry(_ context.Context, refusal *problem.Problem) (*api.Movement, error) {
	switch {
	case errors.Is(refusal, problem.PendingByDefault):
		t.pending, t.autoCharges = true, 0
		return t.plain(), nil
	case errors.Is(refusal, problem.NotPendingByDefault):
		t.pending, t.autoCharges = false, 0
		return t.plain(), nil
	}
	if !errors.Is(refusal, problem.InsufficientFunds) || t.autoCharges >= autoChargeAttempts {
		return nil, nil
	}
	available, ok := refusal.Extra["available"].(int64)
	if !ok {
		return nil, nil
	}
	if available >= t.amount { // money arrived meanwhile: no charge needed now
		t.autoCharges++
		return t.plain(), nil
	}
	return t.withCharge(money.CeilTo(t.amount-available, money.AutoChargeStep)), nil
}
