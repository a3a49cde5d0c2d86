package settlement_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"minipay/localstack/ddbtest"
	"minipay/shared/capabilities/settlement"
	"minipay/shared/kernel/ddb"
)

// 20 concurrent pays of one share (a double-tap from many devices, each
// with its own Idempotency-Key) move the money once; the same key from 20
// goroutines commits once and replays.
func TestTwentyConcurrentPaysOfOneShare(t *testing.T) {
	w := newWorld(t)
	kim, lee, park := w.Register(t, "Kim"), w.Register(t, "Lee"), w.Register(t, "Park")
	w.fund(t, lee, 100_000)
	w.fund(t, park, 100_000)
	sid, _ := w.mustCreate(t, kim, body(20_000, []user{lee, park}, ""))
	share := amounts(w.view(t, kim, sid))

	var mu sync.Mutex
	counts := map[string]int{}
	burst(20, func(int) {
		r := w.pay(t, lee, sid, lee.ID, "")
		mu.Lock()
		counts[outcome(r)]++
		mu.Unlock()
	})
	if counts["201"] != 1 || counts["409 settlement_share_paid"] != 19 {
		t.Fatalf("outcomes %v", counts)
	}
	if a := w.available(t, lee); a != 100_000-share[lee.ID] {
		t.Errorf("lee has %d: paid more than once", a)
	}
	if a := w.available(t, kim); a != share[lee.ID] {
		t.Errorf("kim has %d", a)
	}
	if w.notifCount(t, kim, settlement.NotifPaid, sid) != 1 {
		t.Error("more than one payment notification")
	}

	// Park's share is the last: 20 at once, the same key.
	key := newKey()
	bodies := map[string]int{}
	counts = map[string]int{}
	burst(20, func(int) {
		r := w.pay(t, park, sid, park.ID, key)
		mu.Lock()
		counts[outcome(r)]++
		if r.Status == 201 {
			bodies[r.Raw]++
		}
		mu.Unlock()
	})
	if counts["201"] < 1 || counts["201"]+counts["409 idempotency_key_in_use"] != 20 || len(bodies) != 1 {
		t.Fatalf("same key: %v (%d distinct bodies)", counts, len(bodies))
	}
	if a := w.available(t, park); a != 100_000-share[park.ID] {
		t.Errorf("park has %d", a)
	}
	if v := w.view(t, kim, sid); v.Status != "completed" || v.Collected != 20_000 {
		t.Errorf("view %+v", v)
	}
	if w.notifCount(t, kim, settlement.NotifCompleted, sid) != 1 {
		t.Error("completed more than once")
	}

	// And 20 pays of a last share with different keys: one pays and
	// completes; the others find the request completed.
	sid2, _ := w.mustCreate(t, kim, body(5_000, []user{lee, park}, ""))
	w.mustPay(t, lee, sid2)
	counts = map[string]int{}
	burst(20, func(int) {
		r := w.pay(t, park, sid2, park.ID, "")
		mu.Lock()
		counts[outcome(r)]++
		mu.Unlock()
	})
	if counts["201"] != 1 || counts["409 settlement_completed"] != 19 {
		t.Fatalf("last share, 20 keys: %v", counts)
	}
	if w.notifCount(t, kim, settlement.NotifCompleted, sid2) != 1 {
		t.Error("completed more than once")
	}
}

// All participants pay at the same moment: every payment lands once, the
// request completes exactly once (one completion notification, one
// "completed" answer), and the requester has the total.
func TestAllParticipantsPayAtOnce(t *testing.T) {
	for round := 0; round < 3; round++ {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			w := newWorld(t)
			kim := w.Register(t, "Kim")
			ps := w.users(t, 10, "p")
			for _, p := range ps {
				w.fund(t, p, 200_000) // more than any share: no automatic charge
			}
			all := append([]user{kim}, ps...) // Kim's own share is settled at once
			sid, _ := w.mustCreate(t, kim, body(123_457, all, `"split":"random","minimumShare":1000`))
			share := amounts(w.view(t, kim, sid))
			var mu sync.Mutex
			counts := map[string]int{}
			completed := 0
			burst(len(ps), func(i int) {
				r := w.pay(t, ps[i], sid, ps[i].ID, "")
				mu.Lock()
				defer mu.Unlock()
				counts[outcome(r)]++
				if r.Body["settlementStatus"] == "completed" {
					completed++
				}
			})
			if counts["201"] != len(ps) || completed != 1 {
				t.Fatalf("outcomes %v, %d completed answers", counts, completed)
			}
			v := w.view(t, kim, sid)
			want := 123_457 - share[kim.ID]
			if v.Status != "completed" || v.Collected != want || v.PaidCount != int64(len(all)) || v.OpenCount != 0 || v.Outstanding != 0 {
				t.Fatalf("view %+v", v)
			}
			if a := w.available(t, kim); a != want {
				t.Errorf("kim has %d, want %d", a, want)
			}
			for _, p := range ps {
				if a := w.available(t, p); a != 200_000-share[p.ID] {
					t.Errorf("%s has %d", p.Name, a)
				}
			}
			if n := w.notifCount(t, kim, settlement.NotifCompleted, sid); n != 1 {
				t.Errorf("%d completion notifications", n)
			}
			if n := w.notifCount(t, kim, settlement.NotifPaid, sid); n != len(ps) {
				t.Errorf("%d payment notifications", n)
			}
			if got := w.list(t, kim, "requested", "completed"); len(got) != 1 {
				t.Errorf("requested completed %v", got)
			}
		})
	}
}

// Cancel racing payments: each payment lands before the cancellation (its
// share paid, its money in the requester's account) or is refused
// settlement_cancelled (nothing moved); the view, the balances and the
// lists agree with each other.
func TestCancelRacingPayments(t *testing.T) {
	for round := 0; round < 4; round++ {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			w := newWorld(t)
			kim := w.Register(t, "Kim")
			ps := w.users(t, 4, "p")
			for _, p := range ps {
				w.fund(t, p, 10_000)
			}
			sid, _ := w.mustCreate(t, kim, body(8_000, ps, ""))
			var mu sync.Mutex
			outcomes := map[string]string{}
			var cancel result
			burst(len(ps[:3])+1, func(i int) {
				if i == 3 {
					cancel = w.cancel(t, kim, sid)
					return
				}
				r := w.pay(t, ps[i], sid, ps[i].ID, "")
				mu.Lock()
				outcomes[ps[i].ID] = outcome(r)
				mu.Unlock()
			})
			if cancel.Status != 200 {
				t.Fatalf("cancel: %s", cancel.Raw)
			}
			v := w.view(t, kim, sid)
			st := statuses(v)
			var paid int64
			for _, p := range ps {
				switch o := outcomes[p.ID]; {
				case o == "201":
					paid += 2_000
					if st[p.ID] != "paid" || w.available(t, p) != 8_000 {
						t.Errorf("%s paid, but its share is %s with %d", p.Name, st[p.ID], w.available(t, p))
					}
					if got := w.list(t, p, "received", "paid"); len(got) != 1 {
						t.Errorf("%s's paid list %v", p.Name, got)
					}
				case o == "409 settlement_cancelled" || o == "":
					if st[p.ID] != "cancelled" || w.available(t, p) != 10_000 {
						t.Errorf("%s refused (%q), but its share is %s with %d", p.Name, o, st[p.ID], w.available(t, p))
					}
					if got := w.list(t, p, "received", "cancelled"); len(got) != 1 {
						t.Errorf("%s's cancelled list %v", p.Name, got)
					}
					if w.notifCount(t, p, settlement.NotifCancelled, sid) != 1 {
						t.Errorf("%s not told of the cancellation", p.Name)
					}
				default:
					t.Errorf("%s: %s", p.Name, o)
				}
				if got := w.list(t, p, "received", "open"); len(got) != 0 {
					t.Errorf("%s still has it open", p.Name)
				}
			}
			if v.Status != "cancelled" || v.Collected != paid || w.available(t, kim) != paid || num(cancel.Body["collected"]) != paid {
				t.Errorf("collected %d (cancel said %v), kim has %d, payments %d", v.Collected, cancel.Body["collected"], w.available(t, kim), paid)
			}
		})
	}
}

// TransactionConflict (never returned by DynamoDB Local, injected here) on
// a payment is retried with the same request token: a conflicted attempt
// that did commit is not applied twice.
func TestPaymentConflictsAreRetried(t *testing.T) {
	faulty := &ddbtest.Faulty{ApplyFirst: true}
	w := newWorld(t, func(db ddb.Client) ddb.Client { faulty.Client = db; return faulty })
	w.Ledger.SetRetryPolicy(5, time.Millisecond)
	kim, lee, park := w.Register(t, "Kim"), w.Register(t, "Lee"), w.Register(t, "Park")
	w.fund(t, lee, 10_000)
	w.fund(t, park, 10_000)
	sid, _ := w.mustCreate(t, kim, body(4_000, []user{lee, park}, ""))
	faulty.Conflicts.Store(2)
	r := w.pay(t, lee, sid, lee.ID, "")
	faulty.Conflicts.Store(0)
	if r.Status != 201 {
		t.Fatalf("pay: %s", r.Raw)
	}
	if w.available(t, lee) != 8_000 || w.available(t, kim) != 2_000 {
		t.Errorf("lee %d kim %d", w.available(t, lee), w.available(t, kim))
	}
	if v := w.view(t, kim, sid); v.PaidCount != 1 || v.Collected != 2_000 || v.OpenCount != 1 {
		t.Errorf("view %+v", v)
	}
}

// Requester actions at once: of 10 reminders one goes (the others 429), of
// 10 cancellations one wins (the others 409); participants paying and
// declining at once complete the request once.
func TestConcurrentRequesterActionsAndMixedResolutions(t *testing.T) {
	w := newWorld(t)
	kim := w.Register(t, "Kim")
	ps := w.users(t, 6, "p")
	for _, p := range ps {
		w.fund(t, p, 10_000)
	}
	sid, _ := w.mustCreate(t, kim, body(6_000, ps, ""))
	var mu sync.Mutex
	counts := map[string]int{}
	burst(10, func(int) {
		r := w.remind(t, kim, sid)
		mu.Lock()
		counts[outcome(r)]++
		mu.Unlock()
	})
	if counts["200"] != 1 || counts["429 settlement_remind_too_soon"] != 9 {
		t.Fatalf("reminders %v", counts)
	}
	for _, p := range ps {
		if n := w.notifCount(t, p, settlement.NotifReminder, sid); n != 1 {
			t.Errorf("%s reminded %d times", p.Name, n)
		}
	}
	counts = map[string]int{}
	completed := 0
	burst(len(ps), func(i int) {
		var r result
		if i%2 == 0 {
			r = w.pay(t, ps[i], sid, ps[i].ID, "")
		} else {
			r = w.decline(t, ps[i], sid, ps[i].ID)
		}
		mu.Lock()
		counts[outcome(r)]++
		if r.Body["settlementStatus"] == "completed" {
			completed++
		}
		mu.Unlock()
	})
	if counts["201"] != 3 || counts["200"] != 3 || completed != 1 {
		t.Fatalf("resolutions %v, %d completed", counts, completed)
	}
	if v := w.view(t, kim, sid); v.Status != "completed" || v.Collected != 3_000 || v.PaidCount != 3 || v.DeclinedCount != 3 {
		t.Fatalf("view %+v", v)
	}
	if w.notifCount(t, kim, settlement.NotifCompleted, sid) != 1 || w.available(t, kim) != 3_000 {
		t.Error("completion")
	}

	sid2, _ := w.mustCreate(t, kim, body(6_000, ps, ""))
	counts = map[string]int{}
	burst(10, func(int) {
		r := w.cancel(t, kim, sid2)
		mu.Lock()
		counts[outcome(r)]++
		mu.Unlock()
	})
	if counts["200"] != 1 || counts["409 settlement_cancelled"] != 9 {
		t.Fatalf("cancellations %v", counts)
	}
	for _, p := range ps {
		if n := w.notifCount(t, p, settlement.NotifCancelled, sid2); n != 1 {
			t.Errorf("%s told of the cancellation %d times", p.Name, n)
		}
	}
}
