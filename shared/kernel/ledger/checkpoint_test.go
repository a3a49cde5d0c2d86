package ledger_test

import (
	"testing"
	"time"

	"minipay/localstack/ddbtest"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// Thirteen months of activity with TTL deleting year-old entries: the audit
// (run when the test ends) still holds because the daily checkpoint job
// folds entries into each account's checkpoint before they expire. Without
// the checkpoints, the entries left would no longer add up to the balances.
func TestAuditStaysTrueAcrossTTLWithCheckpoints(t *testing.T) {
	e := ddbtest.New(t)
	kim, lee := register(t, e, "Kim"), register(t, e, "Lee")
	start := e.Clock.Now()
	var swept, rolled int
	for day := 0; day < 400; day++ {
		e.Clock.Set(start.Add(time.Duration(day) * 24 * time.Hour))
		if day%3 == 0 {
			now := e.Clock.Now()
			if err := e.Ledger.Commit(ctx, charge(kim.ID, 10_000, now)); err != nil {
				t.Fatal(err)
			}
			if err := e.Ledger.Commit(ctx, move(ledger.MainAccount(kim.ID), ledger.MainAccount(lee.ID), ledger.KindMain, ledger.KindMain, 3_000+int64(day), now.Add(time.Second))); err != nil {
				t.Fatal(err)
			}
			w := &ledger.Tx{}
			w.Move(ledger.Movement{ID: ledger.NewMovementID(now.Add(2 * time.Second)), Type: "withdrawal", Amount: 1_000, At: now.Add(2 * time.Second),
				From: ledger.MainAccount(lee.ID), To: ledger.ExternalAccount(lee.ID)})
			if err := e.Ledger.Commit(ctx, w); err != nil {
				t.Fatal(err)
			}
		}
		// The jobs: the fold job (every minute in the stack) and the 03:00
		// checkpoint job, every day.
		e.Clock.Set(start.Add(time.Duration(day)*24*time.Hour + 17*time.Hour))
		if fold, err := e.Ledger.FoldPostings(ctx, time.Minute); err != nil || fold.Err() != nil {
			t.Fatalf("day %d: fold: %v %v", day, err, fold.Err())
		}
		run, err := e.Ledger.RollCheckpoints(ctx, time.Minute)
		if err != nil || run.Err() != nil || !run.Done {
			t.Fatalf("day %d: checkpoint run %+v: %v %v", day, run, err, run.Err())
		}
		rolled += run.Rolled
		if day%30 == 29 {
			swept += e.Sweep(t)
		}
	}
	swept += e.Sweep(t)
	if swept == 0 || rolled < 6 {
		t.Fatalf("swept %d items, rolled %d checkpoints: the test did not exercise TTL", swept, rolled)
	}
	// A second run on the same day rolls nothing twice.
	if run, err := e.Ledger.RollCheckpoints(ctx, time.Minute); err != nil || run.Rolled != 0 {
		t.Fatalf("second run: %+v %v", run, err)
	}
	// What TTL left does not add up to the balance on its own.
	var sum int64
	oldest := e.Clock.Now()
	for cursor, pages := "", 0; pages == 0 || cursor != ""; pages++ {
		entries, next, err := e.Ledger.ListEntries(ctx, ledger.EntryQuery{AccountID: ledger.MainAccountID(kim.ID), Page: ddb.PageRequest{Limit: 100, Cursor: cursor}})
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			sum += en.Amount
			if en.At.Before(oldest) {
				oldest = en.At
			}
		}
		cursor = next
	}
	if bal := account(t, e, ledger.MainAccount(kim.ID)).Balance; sum == bal || e.Clock.Now().Sub(oldest) > ledger.HistoryRetention {
		t.Fatalf("kim's remaining entries sum to %d, balance %d, oldest %s: TTL did not remove history", sum, bal, oldest)
	}
	// Kim's and Lee's mains and their bank-side accounts: two external
	// shards, or one when their ids hash alike.
	want := 4
	if ledger.ExternalAccount(kim.ID) == ledger.ExternalAccount(lee.ID) {
		want = 3
	}
	if r := ddbtest.Audit(t, e.Name); r.Accounts < want {
		t.Fatalf("audit saw %d accounts, want %d", r.Accounts, want)
	}
}
