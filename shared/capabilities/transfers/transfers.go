// Package transfers is sending money to a friend: POST /transfers moves
// money from the caller's main account into the friend's main account in
// one transaction, charging the caller's bank automatically (in steps of
// money.AutoChargeStep, within the daily limit) when the balance is short.
//
// A transfer is immediate, or pending (the sender's default from PUT
// /me/settings, or "pending": true): then it HOLDS the amount on the
// sender's main account (a ledger hold) and waits for the receiver to
// accept; see pending.go.
//
// Costs: one DynamoDB request when the balance covers the amount (the
// receiver's main account is derived from their user id, the sender's name
// comes from the authorizer context). Without an override the transaction
// carries a ConditionCheck that the sender's default is the variant tried;
// if it changed, the other variant is tried (an internal signal, never an
// answer). When the balance is short, the refusal carries the available
// balance the debit saw, and the next transaction adds an automatic charge
// of the shortfall rounded up to 10,000 won, counted against the daily
// limit; its condition requires the balance to still need exactly that
// charge, so racing transfers end as in some serial order.
package transfers

import (
	"context"
	"errors"
	"net/http"
	"time"

	"minipay/shared/capabilities/users"
	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/ledger"
)

// Movement types as they appear in history.
const TypeTransfer = "transfer"

// MaxDisplayName bounds a transfer's displayName.
const MaxDisplayName = 50

// DisplayName is how the receiver's history names the sender: Text's
// rules, at most MaxDisplayName characters (an httpapi.Field).
type DisplayName string

func (n *DisplayName) CheckField(name string, required bool) error {
	v, err := httpapi.Text(name, string(*n), MaxDisplayName, required)
	*n = DisplayName(v)
	return err
}

func (DisplayName) FieldSchema() httpapi.FieldSchema {
	return httpapi.FieldSchema{MaxLength: MaxDisplayName}
}

// ErrSelfTransfer refuses a transfer to oneself.
var ErrSelfTransfer = domainerr.New("self_transfer")

// maxVariantSwitches bounds how often one request follows a sender's
// default that keeps flipping (then: 503, retry).
const maxVariantSwitches = 2

// Request is the body of POST /transfers.
type Request struct {
	To          string       `json:"to" openapi:"required" doc:"the receiver's user id"`
	Amount      httpapi.Won  `json:"amount" openapi:"required" doc:"whole won, a JSON integer"`
	DisplayName DisplayName  `json:"displayName" doc:"how the receiver's history names the sender (default: the sender's name)"`
	Memo        httpapi.Memo `json:"memo" doc:"a note for both histories"`
	// Pending, if set, overrides the sender's default (PUT /me/settings):
	// true makes the transfer wait for the receiver, false sends it now.
	Pending *bool `json:"pending" doc:"true: the transfer waits for the receiver (a hold); false: it completes now; absent or null: my default (PUT /me/settings)"`
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
	Status    string     `json:"status" openapi:"enum=completed|pending"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty" doc:"when a pending transfer expires (pending only)"`
}

// Create is POST /transfers {to, amount, displayName?, memo?, pending?}.
func Create(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "transfer", httpapi.MoneyBody(d, func(ctx context.Context, r *httpapi.Request, in Request) (*httpapi.Movement, error) {
		if !users.ValidUserID(in.To) {
			return nil, domainerr.Field("to", "to must be the receiver's user id, such as u_0123456789abcdef")
		}
		if in.To == r.Caller {
			return nil, ErrSelfTransfer.With("to is your own user id; move money between your own accounts with deposits")
		}
		name, err := users.CallerName(ctx, d, r)
		if err != nil {
			return nil, err
		}
		t := &transfer{d: d, caller: r.Caller, to: in.To, amount: in.Amount.Int64(), name: name,
			displayName: string(in.DisplayName), memo: string(in.Memo)}
		if in.Pending != nil {
			t.pending, t.override = *in.Pending, true
		}
		return t.build(0), nil
	}))
}

// transfer is one request's decided facts; build makes the transactions to try.
type transfer struct {
	d                       httpapi.Services
	caller, to              string
	amount                  int64
	name, displayName, memo string
	// pending: build the pending variant. override: the request chose;
	// otherwise the transaction re-checks the sender's default.
	pending, override bool
	switches          int
}

// build is the transfer with an automatic charge of charge won (0: none).
func (t *transfer) build(charge int64) *httpapi.Movement {
	now := t.d.Clock.Now()
	id, autoCharge := ledger.PaymentIDs(now, charge)
	m := ledger.Movement{
		ID: id, Type: TypeTransfer, Amount: t.amount, At: now,
		From: ledger.MainAccount(t.caller), FromKind: ledger.KindMain, FromLabel: t.name,
		To: ledger.MainAccount(t.to), ToKind: ledger.KindMain, ToLabel: t.to,
		Originator: t.name, DisplayName: t.displayName, Memo: t.memo,
	}
	tx := &ledger.Tx{}
	if !t.override {
		requireDefault(tx, t.caller, t.pending)
	}
	body := Response{ID: m.ID, Type: m.Type, From: m.From.ID, To: t.to, ToAccount: m.To.ID, Amount: m.Amount,
		AutoCharged: charge, DisplayName: m.DisplayName, Memo: m.Memo, CreatedAt: now.UTC(), Status: "completed"}
	if t.pending {
		p := newPending(m, t.caller, t.to, t.name)
		createPending(tx, p, autoCharge)
		body.Status, body.ExpiresAt = StatusPending, &p.ExpiresAt
	} else {
		tx.DebitWithAutoCharge(m, autoCharge, "transfer "+id)
	}
	return &httpapi.Movement{Tx: tx, Status: http.StatusCreated, Body: body, Retry: t.retry}
}

// retry answers a refusal or a signal: a default that changed switches
// variant; insufficient funds (or a stale automatic charge) builds the
// automatic charge the balance the refusal saw needs; anything else stands
// (an unknown receiver is the credit's 404, a spent limit the limit's 422).
func (t *transfer) retry(_ context.Context, err error) (*httpapi.Movement, error) {
	var changed *defaultChanged
	if errors.As(err, &changed) {
		if t.switches++; t.switches > maxVariantSwitches {
			return nil, err
		}
		t.pending = changed.pending
		return t.build(0), nil
	}
	if charge, ok := ledger.NextAutoCharge(err, t.amount); ok {
		return t.build(charge), nil
	}
	return nil, nil
}
