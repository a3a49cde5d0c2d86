package stacktest_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"minipay/localstack/stacktest"
	"minipay/shared/edge/httpapi"
	"minipay/shared/edge/routes"
)

// dueWorkerEvent is the due-work queue's message for one bucket of a job.
func dueWorkerEvent(t *testing.T, job, bucket string) []byte {
	return sqsEvent(t, httpapi.DueMessage{Job: job, Bucket: bucket})
}

// The due worker, through the emulator, does a one-minute job's work on
// the buckets it is handed: every lapsed order of a backlog expires once
// and its hold goes back, though each bucket's message arrives three
// times at once; the scheduled run then finds nothing due.
func TestTheDueWorkerExpiresABacklogOnce(t *testing.T) {
	sh := newShop(t, 200_000)
	const orders = 12
	var ids []string
	for i := 0; i < orders; i++ {
		ids = append(ids, sh.place(t, 10_000))
	}
	if got := sh.mainBalance(t); got != 200_000-orders*10_000 {
		t.Fatalf("Kim's available after the holds: %d", got)
	}
	sh.Clock.Advance(time.Hour) // every authorization lapsed
	s, _ := routes.ScheduleNamed("order-expiry")
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 3*len(s.Due))
	for _, bucket := range s.Due {
		for copy := 0; copy < 3; copy++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := sh.Emulator.Invoke(ctx, "due-worker", dueWorkerEvent(t, "order-expiry", bucket))
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		if st := sh.order(t, id)["status"]; st != "expired" {
			t.Fatalf("order %s is %v after the due worker", id, st)
		}
	}
	if got := sh.mainBalance(t); got != 200_000 {
		t.Fatalf("Kim's available after the expiries: %d, want every hold back", got)
	}
	if out := sh.expiryJob(t); !strings.Contains(out, `"due":0`) {
		t.Fatalf("the scheduled run after the workers: %s", out)
	}
	if n := notifiedCount(sh, t, "order_expired"); n != orders {
		t.Fatalf("%d order_expired notices, want %d (one per order)", n, orders)
	}
}

func notifiedCount(sh *shop, t *testing.T, typ string) int {
	n := 0
	for _, got := range sh.notified(t, sh.kim) {
		if got == typ {
			n++
		}
	}
	return n
}

// mainBalance is Kim's main account's available won.
func (sh *shop) mainBalance(t testing.TB) int64 {
	t.Helper()
	r := sh.must(t, sh.Get(t, "/accounts", sh.kim.Token), 200)
	for _, a := range r.Body["accounts"].([]any) {
		a := a.(map[string]any)
		if a["kind"] == "main" {
			return stacktest.Int(a["available"])
		}
	}
	t.Fatalf("Kim has no main account: %s", r.Raw)
	return 0
}
