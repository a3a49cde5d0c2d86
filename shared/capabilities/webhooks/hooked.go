package webhooks

// Stores without endpoints. Most stores never register an endpoint, and
// an event made for one would cost the sweep a read and a write for
// nothing. So a store is made with a "no endpoint" marker on each of
// MarkerShards partitions (WHSTORE#<sid>[#<n>], sort key NOHOOK), and an
// order change of a store that has them writes no event: its transaction
// checks instead that its shard's marker (the order id's hash) is still
// there. Creating a store's first endpoint deletes the markers (one
// transaction) BEFORE it writes the endpoint, and nothing writes them
// again, so:
//
//   - a change that commits after the markers are gone is refused by that
//     check and built again with its event (Hooked), which the sweep fans
//     out to the endpoint;
//   - a change that committed while they were there happened before the
//     endpoint existed, and an endpoint gets only the events made after it.
//
// A store made before the markers has none, so its changes write their
// events, as they always did. A warm instance remembers the stores it
// found without markers (they never come back), so only its first change
// of such a store is refused and built again.

import (
	"context"
	"errors"
	"sync"
	"time"

	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// MarkerShards spreads the markers like the store's order shards: every
// order change checks one.
const MarkerShards = 64

const skNoHook = "NOHOOK"

func markerKey(store string, n int) ddb.Item {
	return ddb.Key(ddb.ShardKey(pkStore+store, n), skNoHook)
}

// hooked are the stores this instance found without markers.
var hooked sync.Map

// hookedSignal: the store's markers went (its first endpoint) since the
// change was built; build it again (it then writes its event).
type hookedSignal struct{}

func (hookedSignal) Error() string {
	return "webhooks: the store has a webhook endpoint now; build the change again with its event"
}

// Transient: an internal signal, never a client's answer (domainerr).
func (hookedSignal) Transient() bool { return true }

// Hooked reports whether err is a change refused because its store has
// endpoints now: build it again, and it writes its event.
func Hooked(err error) bool {
	var h hookedSignal
	return errors.As(err, &h)
}

// MarkNoEndpoints writes a new store's markers: its own transaction,
// BEFORE the store's, so no endpoint of the store can be made before them
// (one made between the two would find none to delete, and the markers
// written after it would hide its events). A store left without them only
// costs the sweep more.
func MarkNoEndpoints(ctx context.Context, l *ledger.Ledger, store string, at time.Time) error {
	tx := &ledger.Tx{}
	for n := 0; n < MarkerShards; n++ {
		item := markerKey(store, n)
		item["storeId"] = ddb.S(store)
		item["createdAt"] = ddb.Time(at)
		tx.Put(item, ledger.Cond{}, nil)
	}
	return l.Commit(ctx, tx)
}

// DropMarkers deletes a store's markers: those of a store whose creation
// was refused, and (unmark) those of a store getting its first endpoint.
func DropMarkers(ctx context.Context, l *ledger.Ledger, store string) error {
	tx := &ledger.Tx{}
	for n := 0; n < MarkerShards; n++ {
		tx.Delete(markerKey(store, n), ledger.Cond{}, nil)
	}
	return l.Commit(ctx, tx)
}

// unmark deletes the store's markers: before its first endpoint is
// written, so that every change committed after it writes its event.
func unmark(ctx context.Context, l *ledger.Ledger, store string) error {
	if _, ok := hooked.Load(store); ok {
		return nil
	}
	if err := DropMarkers(ctx, l, store); err != nil {
		return err
	}
	hooked.Store(store, true)
	return nil
}

// withoutEvent puts into tx, for an event of a store not known to have
// endpoints, the check that stands for it: the marker of the order's
// shard is there. It reports false (write the event) for a store known
// to have none.
func withoutEvent(tx *ledger.Tx, ev Event) bool {
	if _, ok := hooked.Load(ev.Store); ok {
		return false
	}
	of := ev.ID
	if ev.Data.Order != nil {
		of = ev.Data.Order.ID
	}
	tx.Check(markerKey(ev.Store, ddb.HashShard(of, MarkerShards)), ledger.Cond{Expr: "attribute_exists(PK)"}, func(ddb.Item) error {
		hooked.Store(ev.Store, true)
		return hookedSignal{}
	})
	return true
}
