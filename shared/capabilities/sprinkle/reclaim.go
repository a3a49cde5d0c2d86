package sprinkle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"minipay/shared/capabilities/notify"
	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// ReclaimSummary is what one reclaim run did.
type ReclaimSummary struct {
	httpapi.DueTally
	Reclaimed int   `json:"reclaimed"` // sprinkles marked reclaimed by this run
	Returned  int64 `json:"returned"`  // won returned to sprinklers
}

var errAlreadyReclaimed = errors.New("sprinkle: already reclaimed")

// ReclaimJob is the sprinkle-reclaim scheduled job: every sprinkle whose window
// closed at or before now (everything due, so missed runs catch up) gets its
// unclaimed remainder back to the sprinkler's main account. Idempotent: a
// reclaimed sprinkle leaves the due index, and the reclaim transaction
// re-checks it was not reclaimed.
func ReclaimJob(d httpapi.Services) httpapi.DueJob[ReclaimSummary] {
	return httpapi.DueJob[ReclaimSummary]{
		Services: d,
		Name:     "sprinkle reclaim",
		Passes: []httpapi.DuePass[ReclaimSummary]{{Kinds: dueSprinkle.Kinds(), Fetch: true,
			Each: func(ctx context.Context, item ddb.Item, now time.Time, sum *ReclaimSummary) error {
				sp, err := sprinkleFromItem(item)
				if err != nil {
					return err
				}
				returned, reclaimed, err := reclaim(ctx, d, sp, now)
				if reclaimed {
					sum.Reclaimed++
					sum.Returned += returned
				}
				return err
			}}},
		Counts: func(sum *ReclaimSummary) []any { return []any{"reclaimed", sum.Reclaimed, "returned", sum.Returned} },
	}
}

// reclaim returns a closed sprinkle's unpaid pockets to the sprinkler (in
// chunks: a transaction holds at most ledger.MaxItems items), then marks the
// sprinkle reclaimed, notifies the sprinkler and takes it out of the due
// index. Each pocket is paid once, so a claim that lands while the reclaim
// runs either gets its pocket or fails on it: read again.
func reclaim(ctx context.Context, d httpapi.Services, sp sprinkle, now time.Time) (int64, bool, error) {
	const chunk = ledger.MaxItems - 10
	var returned int64
	for attempt := 0; attempt < 5; attempt++ {
		paid, err := d.Ledger.PaidPockets(ctx, escrowID(sp.ID))
		if err != nil {
			return returned, false, fmt.Errorf("reclaim %s: %w", sp.ID, err)
		}
		unpaid := map[int]int64{}
		for i, amount := range sp.Shares {
			if _, ok := paid[i]; !ok {
				unpaid[i] = amount
			}
		}
		var batch map[int]int64
		var remainder int64
		if len(unpaid) > chunk {
			batch = map[int]int64{}
			for i, a := range unpaid {
				if len(batch) < chunk {
					batch[i] = a
				}
			}
		} else {
			batch = unpaid
		}
		for _, a := range batch {
			remainder += a
		}
		last := len(batch) == len(unpaid)
		tx := &ledger.Tx{}
		if last {
			tx.Update(sprinkleKey(sp.ID), "SET reclaimed = :r, reclaimedAt = :at REMOVE #b, #d", ledger.Cond{
				Expr:   "attribute_exists(PK) AND attribute_not_exists(reclaimed) AND closesAtMs <= :now",
				Names:  map[string]string{"#b": ddb.AttrDuePK, "#d": ddb.AttrDueSK},
				Values: ddb.Item{":r": ddb.N(returned + remainder), ":at": ddb.Time(now), ":now": ddb.Millis(now)},
			}, func(old ddb.Item) error {
				if len(old) == 0 || ddb.Decode(old).Has("reclaimed") {
					return errAlreadyReclaimed
				}
				return fmt.Errorf("sprinkle %s is not closed yet", sp.ID)
			})
		}
		if remainder > 0 {
			tx.PayPockets(escrowID(sp.ID), batch, ledger.Movement{
				ID: ledger.NewMovementID(now), Type: TypeSprinkleReclaim, At: now, FromKind: ledger.KindEscrow, FromLabel: "sprinkle " + sp.Token,
				To: ledger.MainAccount(sp.Sprinkler), ToKind: ledger.KindMain, ToLabel: sp.Sprinkler,
				Memo: "unclaimed remainder of sprinkle " + sp.Token + " in room " + sp.RoomID,
			})
		}
		if last && returned+remainder > 0 {
			notify.Add(tx, notify.Notification{UserID: sp.Sprinkler, Type: NotifyReclaimed, At: now,
				Data: map[string]any{"amount": returned + remainder, "roomId": sp.RoomID, "token": sp.Token}})
		}
		err = d.Ledger.Commit(ctx, tx)
		var taken *ledger.PocketTakenError
		switch {
		case err == nil && last:
			return returned + remainder, true, nil
		case err == nil:
			returned += remainder
			attempt = -1 // progress: the next chunk
		case errors.Is(err, errAlreadyReclaimed):
			return returned, returned > 0, nil
		case errors.As(err, &taken):
			continue // a claim landed meanwhile: read again
		default:
			return returned, false, fmt.Errorf("reclaim %s: %w", sp.ID, err)
		}
	}
	return returned, false, fmt.Errorf("reclaim %s: its pockets kept changing", sp.ID)
}
