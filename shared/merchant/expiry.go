package merchant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"minipay/shared/ddb"
	"minipay/shared/httpapi"
	"minipay/shared/ledger"
	"minipay/shared/routes"
)

// ExpirySummary is what one expiry run did.
type ExpirySummary struct {
	Due     int  `json:"due"`
	Expired int  `json:"expired"`
	Done    bool `json:"done"` // false: the time budget ended the run; the next resumes
}

// ExpiryBudget bounds one run (the function's timeout is 10 s).
const ExpiryBudget = 7 * time.Second

// errResolved: a participant resolved the order first (or another run did).
var errResolved = errors.New("merchant: no longer due")

// Expire is the order-expiry scheduled job: every order still authorized or
// accepted whose authorization lapsed (cooking never started) is expired:
// ONE transaction per order, conditioned on the status read and the expiry
// having passed, that expires the hold (the money is available to the
// customer again), removes the order from the due index, moves its
// pointers, adds a timeline item and notifies the customer and the store.
// Missed runs catch up (the due index is read up to now); running twice
// expires nothing twice.
func Expire(d httpapi.Deps) func(context.Context, routes.ScheduledEvent) (ExpirySummary, error) {
	return func(ctx context.Context, ev routes.ScheduledEvent) (ExpirySummary, error) {
		now := d.Clock.Now()
		var sum ExpirySummary
		run, err := d.Table.ForEachDue(ctx, ddb.DueWork{Kinds: dueOrder.Kinds(), Until: now, Budget: ExpiryBudget}, func(ctx context.Context, item ddb.Item) error {
			// The index is eventually consistent and a participant may be
			// moving the order: each try reads the order item (strongly
			// consistent), and a status that changed into another open one
			// is read and tried again.
			id := ddb.Decode(item).S("orderId")
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
				case !errors.As(err, &changed):
					return fmt.Errorf("order %s: %w", o.ID, err)
				}
			}
			return nil
		})
		sum.Due, sum.Done = run.Seen, run.Done
		d.Log.InfoContext(ctx, "order expiry", "job", ev.Job, "scheduledTime", ev.ScheduledTime,
			"due", sum.Due, "expired", sum.Expired, "done", sum.Done, "errors", run.Failed)
		if err != nil {
			return sum, err
		}
		if err := run.Err(); err != nil {
			return sum, fmt.Errorf("order expiry: %w", err)
		}
		return sum, nil
	}
}

func expireTx(o Order, now time.Time) *ledger.Tx {
	at := now.UTC()
	tx := &ledger.Tx{}
	tx.Update(orderKey(o.ID), "SET #s = :to, updatedAt = :now REMOVE #b, #d", ledger.Cond{
		Expr:  "#s = :from AND amount = :amount AND expiresAtMs <= :nowms",
		Names: map[string]string{"#s": "status", "#b": ddb.AttrDuePK, "#d": ddb.AttrDueSK},
		Values: ddb.Item{":to": ddb.S(StatusExpired), ":now": ddb.Time(at), ":from": ddb.S(o.Status),
			":amount": ddb.N(o.Amount), ":nowms": ddb.Millis(now)},
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
	return tx
}
