package ledger

// Holds: two-phase transfers, after TigerBeetle's two-phase transfers. A hold
// reserves Amount on its debit account (held up, available down, balance
// unchanged) for a credit account, until Timeout. It then resolves exactly
// once: posted (all or part of it moves to the credit account; the rest is
// released), voided (released), or expired (released, only once Timeout has
// passed). Every resolution is one transaction conditioned on the hold
// still being open, so concurrent resolutions end with exactly one
// outcome; the others get ErrHoldPosted, ErrHoldVoided or ErrHoldExpired.
//
//	item  PK           SK     notes
//	hold  HOLD#<hid>   HOLD   debit/credit accounts, amount, timeoutAtMs, status, posted,
//	                          movementId, createdAt, resolvedAt; ttl = resolution + 1 year
//
// The capability that owns a hold decides when it is due (its own items sit
// in the due index); the audit checks each account's held against its open
// holds.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/kernel/ddb"
)

const (
	pkHold = "HOLD#"
	skHold = "HOLD"
)

// HoldStatus is where a hold is in its life.
type HoldStatus string

const (
	HoldOpen    HoldStatus = "open" // reserved, not resolved yet
	HoldPosted  HoldStatus = "posted"
	HoldVoided  HoldStatus = "voided"
	HoldExpired HoldStatus = "expired"
)

// Hold is a hold's facts.
type Hold struct {
	ID         string
	Debit      AccountRef
	DebitKind  Kind // required kind of the debit account; "" any
	Credit     AccountRef
	CreditKind Kind // required kind of the credit account; "" any
	Amount     int64
	Timeout    time.Time // after it the hold can only expire (millisecond precision)
	Status     HoldStatus
	Posted     int64 // amount posted, once posted
	MovementID string
	CreatedAt  time.Time
	ResolvedAt time.Time
}

func holdKey(id string) ddb.Item { return ddb.Key(pkHold+id, skHold) }

// ErrHoldNotDue is ExpireHold's refusal before the timeout: a bug or a
// clock skew, never a client's doing.
var ErrHoldNotDue = errors.New("ledger: hold is not due to expire")

// Hold adds h: the reservation on h.Debit (available >= amount) and the
// hold item.
func (tx *Tx) Hold(h Hold) {
	if !tx.checkHold(h) {
		return
	}
	tx.holdOn(h.Debit, h.DebitKind, h.Amount)
	tx.putHold(h)
}

// HoldWithTopUp adds an automatic top-up into h.Debit and h, as ONE update
// of the account, exact at commit like MoveWithTopUp. Items: the top-up's
// source, the account, the hold, two entries.
func (tx *Tx) HoldWithTopUp(h Hold, t TopUp) {
	if !tx.checkHold(h) || !tx.checkTopUp(h.Debit, h.Amount, t) {
		return
	}
	tx.debit(t.From, t.FromKind, t.Amount, t.ID, t.At)
	tx.holdAfterTopUp(h.Debit, cmp.Or(h.DebitKind, t.ToKind), h.Amount, t.Amount, t.Step)
	tx.putHold(h)
	tx.entries(t.Movement)
}

func (tx *Tx) checkHold(h Hold) bool {
	switch {
	case h.ID == "" || h.CreatedAt.IsZero() || !h.Timeout.After(h.CreatedAt):
		tx.Fail(fmt.Errorf("ledger: hold %q needs an id, a creation time and a later timeout", h.ID))
	case h.Amount <= 0:
		tx.Fail(fmt.Errorf("ledger: hold %s of %d", h.ID, h.Amount))
	case h.Debit.outside || h.Debit == h.Credit:
		tx.Fail(ErrSameAccount.With("a hold needs two accounts, the debit one inside minipay"))
	default:
		return true
	}
	return false
}

func (tx *Tx) putHold(h Hold) {
	item := holdKey(h.ID)
	item["holdId"] = ddb.S(h.ID)
	item["debitId"] = ddb.S(h.Debit.ID)
	item["creditId"] = ddb.S(h.Credit.ID)
	item["creditOutside"] = ddb.Bool(h.Credit.outside)
	ddb.SetStrings(item, map[string]string{"debitOwner": h.Debit.Owner, "creditOwner": h.Credit.Owner,
		"debitKind": string(h.DebitKind), "creditKind": string(h.CreditKind)})
	item["amount"] = ddb.N(h.Amount)
	item["timeoutAtMs"] = ddb.Millis(h.Timeout)
	item["status"] = ddb.S(string(HoldOpen))
	item["createdAt"] = ddb.Time(h.CreatedAt)
	tx.add(types.TransactWriteItem{Put: &types.Put{Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		op{onFail: func(ddb.Item) error { return fmt.Errorf("ledger: id collision for hold %s", h.ID) }})
}

// PostHold adds the posting of amount (1..h.Amount) of h to h.Credit at
// m.At: the hold item (still open, not timed out, the same amount and
// accounts as read), the debit account (balance down by amount, the whole
// hold lifted), the credit and two entries. m names the movement (id,
// type, labels, memo); its accounts and amount come from h.
func (tx *Tx) PostHold(h Hold, amount int64, m Movement) {
	if amount <= 0 || amount > h.Amount {
		tx.Fail(fmt.Errorf("ledger: posting %d of a hold of %d", amount, h.Amount))
		return
	}
	m.From, m.To, m.Amount = h.Debit, h.Credit, amount
	if err := m.check(); err != nil {
		tx.Fail(err)
		return
	}
	tx.resolve(h, HoldPosted, m.At, "SET posted = :posted, movementId = :mid",
		ddb.Item{":posted": ddb.N(amount), ":mid": ddb.S(m.ID)})
	tx.postHeld(h.Debit, h.Amount, amount)
	tx.credit(h.Credit, h.CreditKind, amount, m.ID, m.At, false)
	tx.entries(m)
}

// VoidHold adds the release of h at `at` (before its timeout).
func (tx *Tx) VoidHold(h Hold, at time.Time) {
	tx.resolve(h, HoldVoided, at, "", nil)
	tx.release(h.Debit, h.Amount)
}

// ExpireHold adds the release of h at `at`, which must be at or after its
// timeout.
func (tx *Tx) ExpireHold(h Hold, at time.Time) {
	tx.resolve(h, HoldExpired, at, "", nil)
	tx.release(h.Debit, h.Amount)
}

// resolve updates the hold item from open to status, on the conditions
// that make each resolution happen at most once and at the right time.
func (tx *Tx) resolve(h Hold, status HoldStatus, at time.Time, set string, vals ddb.Item) {
	timing := "timeoutAtMs > :now"
	if status == HoldExpired {
		timing = "timeoutAtMs <= :now"
	}
	update := "SET #s = :status, resolvedAt = :at, expiresAt = :ttl"
	if set != "" {
		update += ", " + set[len("SET "):]
	}
	v := ddb.Item{":status": ddb.S(string(status)), ":at": ddb.Time(at), ":ttl": ddb.Epoch(at.Add(HistoryRetention)),
		":open": ddb.S(string(HoldOpen)), ":now": ddb.Millis(at), ":amount": ddb.N(h.Amount),
		":debit": ddb.S(h.Debit.ID), ":credit": ddb.S(h.Credit.ID)}
	for k, x := range vals {
		v[k] = x
	}
	tx.add(types.TransactWriteItem{Update: &types.Update{
		Key:                       holdKey(h.ID),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("#s = :open AND " + timing + " AND amount = :amount AND debitId = :debit AND creditId = :credit"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: v,
	}}, op{onFail: func(old ddb.Item) error { return holdRefusal(h.ID, old, status, at) }})
}

// holdRefusal reads a failed resolution: which outcome won, or why not.
func holdRefusal(id string, old ddb.Item, want HoldStatus, at time.Time) error {
	if len(old) == 0 {
		return ErrHoldNotFound.With("no hold %s", id)
	}
	d := ddb.Decode(old)
	resolved := d.S("resolvedAt")
	timeout := d.Millis("timeoutAtMs")
	switch HoldStatus(d.S("status")) {
	case HoldPosted:
		return ErrHoldPosted.With("hold %s was posted at %s", id, resolved)
	case HoldVoided:
		return ErrHoldVoided.With("hold %s was voided at %s", id, resolved)
	case HoldExpired:
		return ErrHoldExpired.With("hold %s expired at %s", id, timeout.Format(time.RFC3339))
	}
	timedOut := !at.Before(timeout)
	switch {
	case want == HoldExpired && !timedOut:
		return ErrHoldNotDue
	case want != HoldExpired && timedOut:
		return ErrHoldExpired.With("hold %s expired at %s", id, timeout.Format(time.RFC3339))
	}
	return fmt.Errorf("ledger: hold %s is not the one read (amount or accounts differ)", id)
}

// GetHold reads a hold (strongly consistent).
func (l *Ledger) GetHold(ctx context.Context, id string) (Hold, error) {
	item, err := l.table.Get(ctx, holdKey(id))
	if err != nil {
		return Hold{}, err
	}
	if item == nil {
		return Hold{}, ErrHoldNotFound.With("no hold %s", id)
	}
	return holdFromItem(item)
}

func holdFromItem(item ddb.Item) (Hold, error) {
	d := ddb.Decode(item)
	h := Hold{
		ID:         d.MustS("holdId"),
		Debit:      AccountRef{Owner: d.S("debitOwner"), ID: d.MustS("debitId")},
		DebitKind:  Kind(d.S("debitKind")),
		Credit:     AccountRef{Owner: d.S("creditOwner"), ID: d.MustS("creditId"), outside: d.Bool("creditOutside")},
		CreditKind: Kind(d.S("creditKind")),
		Amount:     d.MustN("amount"),
		Timeout:    d.Millis("timeoutAtMs"),
		Status:     HoldStatus(d.MustS("status")),
		Posted:     d.N("posted"),
		MovementID: d.S("movementId"),
		CreatedAt:  d.Time("createdAt"),
		ResolvedAt: d.Time("resolvedAt"),
	}
	return h, d.Err()
}
