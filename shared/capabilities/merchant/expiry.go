package merchant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"minipay/shared/capabilities/webhooks"
	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// ExpirySummary is what one expiry run did.
type ExpirySummary struct {
	httpapi.DueTally
	Expired  int   `json:"expired"`
	Released int   `json:"released"`       // orders whose refund window closed: reserve -> merchant account
	Amount   int64 `json:"releasedAmount"` // won they released
}

// errResolved: a participant resolved the order first (or another run did).
var errResolved = errors.New("merchant: no longer due")

// ExpiryJob is the order-expiry scheduled job: every order still authorized or
// accepted whose authorization lapsed (cooking never started) is expired:
// ONE transaction per order, conditioned on the status read and the expiry
// having passed, that expires the hold (the money is available to the
// customer again), removes the order from the due index, moves its
// pointers, adds a timeline item and notifies the customer and the store.
// Missed runs catch up (the due index is read up to now); running twice
// expires nothing twice.
//
// With the time left it releases the reserves: every captured order whose
// refund window closed moves what was not refunded from the store's
// reserve account to its merchant account (release; once per order).
func ExpiryJob(d httpapi.Services) httpapi.DueJob[ExpirySummary] {
	return httpapi.DueJob[ExpirySummary]{
		Services: d,
		Name:     "order expiry",
		Passes: []httpapi.DuePass[ExpirySummary]{
			{Kinds: dueOrder.Kinds(), Each: func(ctx context.Context, item ddb.Item, now time.Time, sum *ExpirySummary) error {
				return expireOne(ctx, d, ddb.Decode(item).S("orderId"), now, sum)
			}},
			{Kinds: dueReserve.Kinds(), Each: func(ctx context.Context, item ddb.Item, now time.Time, sum *ExpirySummary) error {
				amount, released, err := release(ctx, d, ddb.Decode(item).S("orderId"), now)
				if released {
					sum.Released++
					sum.Amount += amount
				}
				return err
			}},
		},
		Counts: func(sum *ExpirySummary) []any {
			return []any{"expired", sum.Expired, "released", sum.Released, "releasedAmount", sum.Amount}
		},
	}
}

// expireOne expires one order due for expiry. The index is eventually
// consistent and a participant may be moving the order: each try reads the
// order item (strongly consistent), and a status that changed into another
// open one is read and tried again.
func expireOne(ctx context.Context, d httpapi.Services, id string, now time.Time, sum *ExpirySummary) error {
	for attempt := 0; attempt < 3; attempt++ {
		item, err := d.Table.Get(ctx, orderKey(id))
		if err != nil || item == nil {
			return err
		}
		o, err := orderFromItem(item)
		if err != nil {
			return err
		}
		if !has(open, o.Status) || now.Before(o.ExpiresAt) {
			return nil
		}
		err = d.Ledger.Commit(ctx, expireTx(o, now))
		var changed *statusChanged
		switch {
		case err == nil:
			sum.Expired++
			return nil
		case errors.Is(err, errResolved):
			return nil
		case !errors.As(err, &changed) && !webhooks.Hooked(err):
			return fmt.Errorf("order %s: %w", o.ID, err)
		}
	}
	return nil
}

func expireTx(o Order, now time.Time) *ledger.Tx {
	at := now.UTC()
	tx := &ledger.Tx{}
	vals := ddb.Item{":to": ddb.S(StatusExpired), ":now": ddb.Time(at), ":from": ddb.S(o.Status),
		":amount": ddb.N(o.Amount), ":nowms": ddb.Millis(now)}
	seqCond, seqSet, seq := o.sequence(vals)
	tx.Update(orderKey(o.ID), "SET #s = :to, updatedAt = :now"+seqSet+" REMOVE #b, #d", ledger.Cond{
		Expr:   "#s = :from AND amount = :amount AND expiresAtMs <= :nowms" + seqCond,
		Names:  map[string]string{"#s": "status", "#b": ddb.AttrDuePK, "#d": ddb.AttrDueSK},
		Values: vals,
	}, func(old ddb.Item) error {
		if len(old) > 0 && has(open, ddb.Decode(old).S("status")) && ddb.Decode(old).S("status") != o.Status {
			return &statusChanged{id: o.ID}
		}
		return errResolved
	})
	tx.ExpireHold(o.hold(), now)
	next := o
	next.Status, next.UpdatedAt = StatusExpired, at
	pointers(tx, next.OrderSummary, o.Status)
	next.event(tx, Event{Action: "expired", Status: StatusExpired, Actor: ActorSystem, At: at})
	next.notify(tx, o.Customer, NotifExpired, at, nil)
	next.notify(tx, o.storeOwner, NotifExpired, at, nil)
	next.hook(tx, "expired", seq, at, nil, nil)
	return tx
}

// release moves order id's unrefunded payment from the store's reserve
// account to its merchant account once its refund window closed: ONE
// transaction of the reserve item's delete (the schedule; once), the
// order's released amount (conditioned on the window having closed and on
// the refunded total read, so a refund that committed first is counted),
// the movement and a timeline item. A refund that read the order just
// before the window closed and commits after is refused by its own
// condition (refundUntilMs > now), so each won goes one way.
func release(ctx context.Context, d httpapi.Services, id string, now time.Time) (amount int64, released bool, err error) {
	for attempt := 0; attempt < 3; attempt++ {
		item, err := d.Table.Get(ctx, orderKey(id))
		if err != nil {
			return 0, false, err
		}
		if item == nil { // gone with its TTL: the schedule item goes too
			return 0, false, d.Ledger.Commit(ctx, deleteReserve(id))
		}
		o, err := orderFromItem(item)
		if err != nil {
			return 0, false, err
		}
		if o.ReleasedAt != nil || o.RefundableUntil == nil || now.Before(*o.RefundableUntil) {
			return 0, false, nil // released (the index lags) or not due
		}
		tx, amount := releaseTx(o, now)
		err = d.Ledger.Commit(ctx, tx)
		var changed *statusChanged
		switch {
		case err == nil:
			return amount, true, nil
		case errors.Is(err, errResolved):
			return 0, false, nil
		case !errors.As(err, &changed) && !webhooks.Hooked(err):
			return 0, false, fmt.Errorf("order %s: %w", id, err)
		}
	}
	return 0, false, nil
}

func deleteReserve(id string) *ledger.Tx {
	tx := &ledger.Tx{}
	tx.Delete(reserveKey(id), ledger.Cond{}, nil)
	return tx
}

func releaseTx(o Order, now time.Time) (*ledger.Tx, int64) {
	at := now.UTC()
	amount := o.Captured - o.Refunded
	tx := &ledger.Tx{}
	tx.Delete(reserveKey(o.ID), ledger.Cond{Expr: "attribute_exists(PK)"}, func(ddb.Item) error { return errResolved })
	vals := ddb.Item{":amt": ddb.N(amount), ":now": ddb.Time(at), ":nowms": ddb.Millis(now),
		":captured": ddb.N(o.Captured), ":refunded": ddb.N(o.Refunded)}
	seqCond, seqSet, seq := o.sequence(vals)
	tx.Update(orderKey(o.ID), "SET released = :amt, releasedAt = :now"+seqSet, ledger.Cond{
		Expr:   "attribute_not_exists(releasedAt) AND refundUntilMs <= :nowms AND captured = :captured AND refunded = :refunded" + seqCond,
		Values: vals,
	}, func(old ddb.Item) error {
		if len(old) == 0 || ddb.Decode(old).Has("releasedAt") {
			return errResolved
		}
		return &statusChanged{id: o.ID} // a refund committed since the read
	})
	ev := Event{Action: "released", Status: o.Status, Actor: ActorSystem, Amount: amount, At: at}
	if amount > 0 {
		ev.MovementID = ledger.NewMovementID(now)
		tx.Move(ledger.Movement{ID: ev.MovementID, Type: TypeReserveRelease, Amount: amount, At: now,
			From: ledger.UserAccount(o.storeOwner, o.reserveAccount), FromKind: KindReserve, FromLabel: o.StoreName,
			To: ledger.UserAccount(o.storeOwner, o.merchantAccount), ToKind: KindMerchant, ToLabel: o.StoreName,
			Memo: "refund window closed", Reference: "order " + o.ID})
	}
	o.event(tx, ev)
	o.hook(tx, "released", seq, at, nil, &webhooks.EventPayout{ID: ev.MovementID, Amount: amount})
	return tx, amount
}
