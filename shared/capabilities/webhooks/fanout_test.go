package webhooks

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"minipay/localstack/ddbtest"
	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

func TestMain(m *testing.M) { os.Exit(ddbtest.Main(m)) }

// A pass reads a store's endpoints once for the events made before that
// read, and again for an event made after it: an endpoint added while a
// pass runs (a due worker's runs 40 s) gets every event made after it.
func TestFanOutSeesAnEndpointAddedDuringThePass(t *testing.T) {
	e := ddbtest.New(t)
	ctx := context.Background()
	d := httpapi.Services{Table: e.Table, Ledger: e.Ledger, Clock: e.Clock, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	const store = "st_fanouttest"
	event := func(at time.Time) ddb.Item {
		t.Helper()
		ev := Event{ID: NewEventID(at), Type: OrderPlaced, Created: at, Store: store, Sequence: 1}
		commit := func() error {
			tx := &ledger.Tx{}
			Emit(tx, "owner", ev)
			return e.Ledger.Commit(ctx, tx)
		}
		err := commit()
		if Hooked(err) { // a store made before the markers (none here): built again, with the event
			err = commit()
		}
		if err != nil {
			t.Fatal(err)
		}
		item, err := e.Table.Get(ctx, eventKey(ev.ID))
		if err != nil || item == nil {
			t.Fatal("read the event", err)
		}
		return item
	}
	sum := &SweepSummary{}
	fan := func(item ddb.Item) int {
		t.Helper()
		msgs, err := fanOut(ctx, d, item, e.Clock.Now(), sum)
		if err != nil {
			t.Fatal(err)
		}
		return len(msgs)
	}
	if n := fan(event(e.Clock.Now().Add(-time.Second))); n != 0 {
		t.Fatalf("%d deliveries for a store with no endpoint", n)
	}
	e.Clock.Advance(time.Second)
	tx := &ledger.Tx{}
	saveEndpoint(tx, endpoint{ID: ddb.NewID(prefixEP), Store: store, Owner: "owner", URL: "https://example.com/hook",
		Status: EndpointEnabled, Secret: "whsec_test", CreatedAt: e.Clock.Now()}, -1, nil)
	if err := e.Ledger.Commit(ctx, tx); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Second)
	if n := fan(event(e.Clock.Now())); n != 1 {
		t.Fatalf("%d deliveries for an event made after the endpoint; want 1", n)
	}
}
