package ledger_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"minipay/localstack/ddbtest"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

func newHold(e *ddbtest.Env, from, to user, amount int64) ledger.Hold {
	now := e.Clock.Now()
	return ledger.Hold{ID: ddb.NewTimeID(now), Debit: ledger.MainAccount(from.ID), DebitKind: ledger.KindMain,
		Credit: ledger.MainAccount(to.ID), CreditKind: ledger.KindMain, Amount: amount, Timeout: now.Add(time.Hour).Truncate(time.Millisecond), CreatedAt: now}
}

func commit(t testing.TB, e *ddbtest.Env, build func(tx *ledger.Tx)) error {
	t.Helper()
	tx := &ledger.Tx{}
	build(tx)
	return e.Ledger.Commit(ctx, tx)
}

func wantAccount(t testing.TB, e *ddbtest.Env, u user, balance, held int64) {
	t.Helper()
	a := account(t, e, ledger.MainAccount(u.ID))
	if a.Balance != balance || a.Held != held || a.Available != balance-held {
		t.Fatalf("%s: balance %d held %d available %d, want %d %d %d", u.ID, a.Balance, a.Held, a.Available, balance, held, balance-held)
	}
}

// A hold reserves money without moving it; it resolves once, and each
// losing resolution says which outcome won.
func TestHoldLifeCycle(t *testing.T) {
	e := ddbtest.New(t)
	kim, lee := register(t, e, "Kim"), register(t, e, "Lee")
	if err := e.Ledger.Commit(ctx, charge(kim.ID, 10_000, e.Clock.Now())); err != nil {
		t.Fatal(err)
	}
	post := func(h ledger.Hold, amount int64) func(*ledger.Tx) {
		return func(tx *ledger.Tx) {
			tx.PostHold(h, amount, ledger.Movement{ID: ledger.NewMovementID(e.Clock.Now()), Type: "test", At: e.Clock.Now()})
		}
	}
	void := func(h ledger.Hold) func(*ledger.Tx) { return func(tx *ledger.Tx) { tx.VoidHold(h, e.Clock.Now()) } }
	expire := func(h ledger.Hold) func(*ledger.Tx) { return func(tx *ledger.Tx) { tx.ExpireHold(h, e.Clock.Now()) } }

	// More than available cannot be held.
	big := newHold(e, kim, lee, 10_001)
	if err := commit(t, e, func(tx *ledger.Tx) { tx.Hold(big) }); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("hold above available: %v", err)
	}
	h1, h2, h3 := newHold(e, kim, lee, 6_000), newHold(e, kim, lee, 3_000), newHold(e, kim, lee, 1_000)
	for _, h := range []ledger.Hold{h1, h2, h3} {
		if err := commit(t, e, func(tx *ledger.Tx) { tx.Hold(h) }); err != nil {
			t.Fatal(err)
		}
	}
	wantAccount(t, e, kim, 10_000, 10_000)
	if err := commit(t, e, func(tx *ledger.Tx) { tx.Hold(newHold(e, kim, lee, 1)) }); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("held money is spent: %v", err)
	}

	// h1 posted in part: 4,000 moves, 2,000 is released.
	if err := commit(t, e, post(h1, 4_000)); err != nil {
		t.Fatal(err)
	}
	wantAccount(t, e, kim, 6_000, 4_000)
	wantAccount(t, e, lee, 4_000, 0)
	// h2 voided; h3 expires once its timeout passes, not before.
	if err := commit(t, e, void(h2)); err != nil {
		t.Fatal(err)
	}
	if err := commit(t, e, expire(h3)); !errors.Is(err, ledger.ErrHoldNotDue) {
		t.Fatalf("expire before the timeout: %v", err)
	}
	e.Clock.Advance(time.Hour)
	if err := commit(t, e, expire(h3)); err != nil {
		t.Fatal(err)
	}
	wantAccount(t, e, kim, 6_000, 0)

	tests := []struct {
		name  string
		build func(*ledger.Tx)
		want  error
	}{
		{"post a posted hold", post(h1, 1), ledger.ErrHoldPosted},
		{"void a posted hold", void(h1), ledger.ErrHoldPosted},
		{"post a voided hold", post(h2, 1), ledger.ErrHoldVoided},
		{"expire a voided hold", expire(h2), ledger.ErrHoldVoided},
		{"post an expired hold", post(h3, 1), ledger.ErrHoldExpired},
		{"void an expired hold", void(h3), ledger.ErrHoldExpired},
		{"post an unknown hold", post(newHold(e, kim, lee, 5), 5), ledger.ErrHoldNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := commit(t, e, tc.build); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// A pending hold past its timeout can no longer be posted or voided.
	e.Clock.Advance(-2 * time.Hour)
	late := newHold(e, kim, lee, 100)
	if err := commit(t, e, func(tx *ledger.Tx) { tx.Hold(late) }); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Hour)
	if err := commit(t, e, post(late, 100)); !errors.Is(err, ledger.ErrHoldExpired) {
		t.Fatalf("post after the timeout: %v", err)
	}
	if err := commit(t, e, expire(late)); err != nil {
		t.Fatal(err)
	}
	for name, build := range map[string]func(*ledger.Tx){
		"post nothing":        post(late, 0),
		"post more than held": post(late, 101),
	} {
		if err := commit(t, e, build); err == nil {
			t.Fatalf("%s was accepted", name)
		}
	}
	wantAccount(t, e, kim, 6_000, 0)
}

// Twenty posts, voids and expiries race for each of ten holds: each hold
// resolves exactly once, and the money equals that outcome.
func TestHoldResolvesOnceUnderRaces(t *testing.T) {
	e := ddbtest.New(t)
	kim, lee := register(t, e, "Kim"), register(t, e, "Lee")
	if err := e.Ledger.Commit(ctx, charge(kim.ID, 100_000, e.Clock.Now())); err != nil {
		t.Fatal(err)
	}
	var holds []ledger.Hold
	for i := 0; i < 10; i++ {
		h := newHold(e, kim, lee, 1_000)
		h.Timeout = e.Clock.Now().Add(time.Hour).Truncate(time.Millisecond)
		if err := commit(t, e, func(tx *ledger.Tx) { tx.Hold(h) }); err != nil {
			t.Fatal(err)
		}
		holds = append(holds, h)
	}
	var mu sync.Mutex
	wins := map[string]int{}
	var wg sync.WaitGroup
	for _, h := range holds {
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				now := e.Clock.Now()
				err := commit(t, e, func(tx *ledger.Tx) {
					switch i % 2 {
					case 0:
						tx.PostHold(h, h.Amount, ledger.Movement{ID: ledger.NewMovementID(now), Type: "test", At: now})
					default:
						tx.VoidHold(h, now)
					}
				})
				switch {
				case err == nil:
					mu.Lock()
					wins[h.ID]++
					mu.Unlock()
				case !errors.Is(err, ledger.ErrHoldPosted) && !errors.Is(err, ledger.ErrHoldVoided):
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	var posted int64
	for _, h := range holds {
		if wins[h.ID] != 1 {
			t.Fatalf("hold %s resolved %d times", h.ID, wins[h.ID])
		}
		got, err := e.Ledger.GetHold(ctx, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == ledger.HoldPosted {
			posted += got.Posted
		}
	}
	wantAccount(t, e, kim, 100_000-posted, 0)
	wantAccount(t, e, lee, posted, 0)
}
