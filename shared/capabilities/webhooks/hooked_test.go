package webhooks

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"minipay/localstack/ddbtest"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// emitted commits one order change's event of store the way the order
// routes do (refused because the store got an endpoint: built again) and
// reports whether the event was written.
func emitted(ctx context.Context, t *testing.T, e *ddbtest.Env, store, order string) bool {
	t.Helper()
	ev := Event{ID: NewEventID(e.Clock.Now()), Type: OrderPlaced, Created: e.Clock.Now(), Store: store, Sequence: 1,
		Data: EventData{Order: &EventOrder{ID: order}}}
	for try := 0; ; try++ {
		tx := &ledger.Tx{}
		Emit(tx, "owner", ev)
		err := e.Ledger.Commit(ctx, tx)
		if Hooked(err) && try == 0 {
			continue
		}
		if err != nil {
			t.Error(err)
			return false
		}
		item, err := e.Table.Get(ctx, eventKey(ev.ID))
		if err != nil {
			t.Error(err)
		}
		return item != nil
	}
}

func TestAStoreWithoutEndpointsWritesNoEvents(t *testing.T) {
	e := ddbtest.New(t)
	ctx := context.Background()
	tests := []struct {
		name           string
		markers        bool // made with its markers (a store made before them has none)
		unmark, forget bool // its first endpoint: markers deleted here, or by another instance
		wantEvent      bool
	}{
		{"a new store", true, false, false, false},
		{"a store made before the markers", false, false, false, true},
		{"a store with an endpoint", true, true, false, true},
		{"a store another instance gave an endpoint", true, false, true, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := fmt.Sprintf("st_hooked%04d", i)
			if tt.markers {
				if err := MarkNoEndpoints(ctx, e.Ledger, store, e.Clock.Now()); err != nil {
					t.Fatal(err)
				}
			}
			if tt.unmark {
				if err := unmark(ctx, e.Ledger, store); err != nil {
					t.Fatal(err)
				}
			}
			if tt.forget { // another instance deleted them: this one does not know
				unmarkElsewhere(ctx, t, e, store)
			}
			for o := 0; o < 3; o++ { // the first change may be refused and built again; the others know
				if got := emitted(ctx, t, e, store, ddb.NewID("o_")); got != tt.wantEvent {
					t.Fatalf("change %d: event written %v, want %v", o, got, tt.wantEvent)
				}
			}
		})
	}
}

// unmarkElsewhere deletes store's markers as another instance's first
// endpoint does: this instance does not learn of it.
func unmarkElsewhere(ctx context.Context, t *testing.T, e *ddbtest.Env, store string) {
	t.Helper()
	tx := &ledger.Tx{}
	for n := 0; n < MarkerShards; n++ {
		tx.Delete(markerKey(store, n), ledger.Cond{}, nil)
	}
	if err := e.Ledger.Commit(ctx, tx); err != nil {
		t.Fatal(err)
	}
}

// Every shard's marker stands for its orders: once the first endpoint's
// creation (here or in another instance) deleted them, a change on any
// shard by an instance that does not know is refused and written again
// with its event.
func TestEveryShardsMarkerIsChecked(t *testing.T) {
	e := ddbtest.New(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		unmark func(store string)
	}{
		{"the endpoint's creation", func(store string) {
			if err := unmark(ctx, e.Ledger, store); err != nil {
				t.Fatal(err)
			}
		}},
		{"another instance's", func(store string) { unmarkElsewhere(ctx, t, e, store) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := "st_shards" + ddb.NewID("")[:8]
			if err := MarkNoEndpoints(ctx, e.Ledger, store, e.Clock.Now()); err != nil {
				t.Fatal(err)
			}
			tt.unmark(store)
			shards := map[int]bool{}
			for i := 0; len(shards) < MarkerShards && i < 40*MarkerShards; i++ {
				hooked.Delete(store) // an instance that never saw this store
				order := fmt.Sprintf("o_shard%012d", i)
				shards[ddb.HashShard(order, MarkerShards)] = true
				if !emitted(ctx, t, e, store, order) {
					t.Fatalf("order %s (shard %d): no event after the markers went", order, ddb.HashShard(order, MarkerShards))
				}
			}
			if len(shards) < MarkerShards {
				t.Fatalf("only %d shards met", len(shards))
			}
		})
	}
}

// Changes racing the store's first endpoint (made by another instance):
// each either committed while the markers stood (no event) or writes its
// event, and every change begun after the markers were deleted writes it.
func TestChangesRacingTheFirstEndpoint(t *testing.T) {
	e := ddbtest.New(t)
	ctx := context.Background()
	const store, changes = "st_hookedrace", 4 * MarkerShards
	if err := MarkNoEndpoints(ctx, e.Ledger, store, e.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	unmarked := false
	after, afterWithEvent := 0, 0
	for i := 0; i < changes; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			mu.Lock()
			begunAfter := unmarked
			mu.Unlock()
			got := emitted(ctx, t, e, store, fmt.Sprintf("o_race%012d", i))
			if begunAfter {
				mu.Lock()
				after++
				if got {
					afterWithEvent++
				}
				mu.Unlock()
			}
		}(i)
		if i == changes/4 {
			unmarkElsewhere(ctx, t, e, store)
			mu.Lock()
			unmarked = true
			mu.Unlock()
		}
	}
	wg.Wait()
	if after == 0 || afterWithEvent != after {
		t.Fatalf("%d of %d changes begun after the markers went wrote their event", afterWithEvent, after)
	}
}
