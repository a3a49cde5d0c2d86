package ledger_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"minipay/localstack/contention"
	"minipay/localstack/ddbtest"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// A credit is spendable and visible the moment it commits, though it is
// folded into the balance only later: the owner's spend that would be
// refused folds it in (its own transaction), reads count it, and the fold
// job folds what is left.
func TestPostingsAreSpendableAtOnceAndFoldedLater(t *testing.T) {
	e := ddbtest.New(t)
	kim, lee := register(t, e, "Kim"), register(t, e, "Lee")
	now := e.Clock.Now()
	if err := e.Ledger.Commit(ctx, charge(kim.ID, 10_000, now)); err != nil {
		t.Fatal(err)
	}
	// The account item holds nothing yet; the read shows the credit.
	if got := account(t, e, ledger.MainAccount(kim.ID)); got.Balance != 10_000 || got.Available != 10_000 {
		t.Fatalf("kim after a charge: %+v", got)
	}
	// Spending more than the item holds folds the credit in.
	if err := e.Ledger.Commit(ctx, move(ledger.MainAccount(kim.ID), ledger.MainAccount(lee.ID), ledger.KindMain, ledger.KindMain, 7_000, now)); err != nil {
		t.Fatal(err)
	}
	if err := e.Ledger.Commit(ctx, move(ledger.MainAccount(kim.ID), ledger.MainAccount(lee.ID), ledger.KindMain, ledger.KindMain, 3_001, now)); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("more than there is: %v", err)
	}
	// Lee's credits wait as postings until the fold job.
	run, err := e.Ledger.FoldPostings(ctx, time.Minute)
	if err != nil || run.Err() != nil || run.Postings < 2 {
		t.Fatalf("fold: %+v %v", run, err)
	}
	if again, _ := e.Ledger.FoldPostings(ctx, time.Minute); again.Postings != 0 {
		t.Fatalf("a second fold found %d postings", again.Postings)
	}
	wantAccount(t, e, kim, 3_000, 0)
	wantAccount(t, e, lee, 7_000, 0)
	// A credit to an account that does not exist (or of the wrong kind) is
	// refused before anything is written.
	ghost := ledger.MainAccount(ddb.NewID("u_"))
	if err := e.Ledger.Commit(ctx, move(ledger.MainAccount(kim.ID), ghost, ledger.KindMain, ledger.KindMain, 1, now)); !errors.Is(err, ledger.ErrAccountNotFound) {
		t.Fatalf("credit to nobody: %v", err)
	}
	if err := e.Ledger.Commit(ctx, move(ledger.MainAccount(kim.ID), ledger.MainAccount(lee.ID), ledger.KindMain, kindSavings, 1, now)); !errors.Is(err, ledger.ErrWrongKind) {
		t.Fatalf("credit needing savings into main: %v", err)
	}
}

// Under the contention model (the cloud's conflicts and per-partition
// capacity), 100 payers pay one receiver at the same moment: every payment
// commits at its first attempt, none conflicts, and the receiver's balance
// is exact to the won.
func TestHundredPayersIntoOneAccountNeverConflict(t *testing.T) {
	model := contention.Wrap(ddbtest.Client(), contention.Config{})
	e := ddbtest.New(t, func(ddb.Client) ddb.Client { return model })
	receiver := register(t, e, "receiver")
	payers := make([]user, 100)
	for i := range payers {
		payers[i] = register(t, e, "payer")
		if err := e.Ledger.Commit(ctx, charge(payers[i].ID, 5_000, e.Clock.Now())); err != nil {
			t.Fatal(err)
		}
	}
	model.Reset()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, len(payers))
	for _, p := range payers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- e.Ledger.Commit(ctx, move(ledger.MainAccount(p.ID), ledger.MainAccount(receiver.ID), ledger.KindMain, ledger.KindMain, 1_000, e.Clock.Now()))
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rep := model.Report(5)
	if rep.Total.Conflicts != 0 || rep.Total.Throttles != 0 {
		t.Fatalf("conflicts on the way in:\n%s", rep)
	}
	if got := account(t, e, ledger.MainAccount(receiver.ID)); got.Balance != 100_000 {
		t.Fatalf("receiver %d, want 100,000", got.Balance)
	}
}

// A credit in place updates the receiving account's item in the payer's
// transaction: no posting, nothing to fold, no read of the account first;
// the update's own condition refuses a missing account or the wrong kind.
func TestCreditsInPlaceNeedNoPosting(t *testing.T) {
	e := ddbtest.New(t)
	kim := register(t, e, "Kim")
	savings := openSavings(t, e, kim)
	now := e.Clock.Now()
	if err := e.Ledger.Commit(ctx, charge(kim.ID, 10_000, now)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Ledger.FoldPostings(ctx, time.Minute); err != nil { // the charge's
		t.Fatal(err)
	}
	inPlace := func(to ledger.AccountRef, kind ledger.Kind, amount int64) error {
		tx := &ledger.Tx{}
		tx.Move(ledger.Movement{ID: ledger.NewMovementID(now), Type: "test", Amount: amount, At: now,
			From: ledger.MainAccount(kim.ID), FromKind: ledger.KindMain, To: to, ToKind: kind, CreditInPlace: true})
		return e.Ledger.Commit(ctx, tx)
	}
	if err := inPlace(savings, kindSavings, 4_000); err != nil {
		t.Fatal(err)
	}
	item, err := e.Table.Get(ctx, savings.Key())
	if err != nil || ddb.Decode(item).N("balance") != 4_000 {
		t.Fatalf("the savings item after an in-place credit: %v %v", item, err)
	}
	if run, err := e.Ledger.FoldPostings(ctx, time.Minute); err != nil || run.Postings != 0 {
		t.Fatalf("postings to fold after in-place credits: %+v %v", run, err)
	}
	for _, c := range []struct {
		name string
		to   ledger.AccountRef
		kind ledger.Kind
		want error
	}{
		{"a missing account", ledger.UserAccount(kim.ID, ddb.NewID("s_")), kindSavings, ledger.ErrAccountNotFound},
		{"someone else's id under my key", ledger.UserAccount(ddb.NewID("u_"), savings.ID), kindSavings, ledger.ErrAccountNotFound},
		{"the wrong kind", savings, ledger.KindMain, ledger.ErrWrongKind},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := inPlace(c.to, c.kind, 1); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	wantAccount(t, e, kim, 6_000, 0) // and the audit at cleanup
}

// The fold job with its shards taken n at a time (SetFoldParallel, the
// local stack's 2) still reaches every shard within its budget and folds
// each posting once; the money ends where it went.
func TestFoldParallelReachesEveryShard(t *testing.T) {
	for _, parallel := range []int{1, 2, 0} {
		t.Run(fmt.Sprint("parallel ", parallel), func(t *testing.T) {
			e := ddbtest.New(t)
			e.Ledger.SetFoldParallel(parallel)
			defer e.Ledger.SetFoldParallel(0)
			kim := register(t, e, "Kim")
			now := e.Clock.Now()
			if err := e.Ledger.Commit(ctx, charge(kim.ID, 100_000, now)); err != nil {
				t.Fatal(err)
			}
			const receivers = 40
			var paid []user
			for i := range receivers {
				u := register(t, e, fmt.Sprint("r", i))
				if err := e.Ledger.Commit(ctx, move(ledger.MainAccount(kim.ID), ledger.MainAccount(u.ID), ledger.KindMain, ledger.KindMain, 100, now)); err != nil {
					t.Fatal(err)
				}
				paid = append(paid, u)
			}
			run, err := e.Ledger.FoldPostings(ctx, time.Minute)
			if err != nil || run.Err() != nil || !run.Done || run.Postings < receivers {
				t.Fatalf("fold: %+v %v", run, err)
			}
			if again, _ := e.Ledger.FoldPostings(ctx, time.Minute); again.Postings != 0 {
				t.Fatalf("a second fold found %d postings", again.Postings)
			}
			for _, u := range paid {
				wantAccount(t, e, u, 100, 0)
			}
		})
	}
}
