package ledger_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"minipay/localstack/contention"
	"minipay/localstack/ddbtest"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

const kindMerchant ledger.Kind = "merchant"

// openReceiver creates an account of the user's spread over shards.
func openReceiver(t testing.TB, e *ddbtest.Env, u user, shards int) ledger.AccountRef {
	t.Helper()
	id := ddb.NewID("ma_")
	tx := &ledger.Tx{}
	tx.CreateAccount(ledger.Account{ID: id, Owner: u.ID, Kind: kindMerchant, Name: "store", CreatedAt: e.Clock.Now(), Shards: shards}, nil)
	if err := e.Ledger.Commit(ctx, tx); err != nil {
		t.Fatal(err)
	}
	return ledger.UserAccount(u.ID, id)
}

// hotReceiver pays n credits of 1 won from 20 payers (each funded and
// folded first) into one new account of the given shards, under the
// contention model with a stopped clock: every partition has exactly one
// second's capacity (1,000 WCU) for the whole run, and items are never
// occupied (capacity alone is measured). It returns how many credits
// committed and the model's report.
func hotReceiver(t *testing.T, shards, n int) (*ddbtest.Env, ledger.AccountRef, int, contention.Report) {
	stopped := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	model := contention.Wrap(ddbtest.Client(), contention.Config{NoOccupancy: true, NoPadding: true, Now: func() time.Time { return stopped }})
	e := ddbtest.New(t, func(ddb.Client) ddb.Client { return model })
	e.Ledger.SetRetryPolicy(2, time.Millisecond)
	owner := register(t, e, "store owner")
	receiver := openReceiver(t, e, owner, shards)
	payers := make([]user, 20)
	for i := range payers {
		payers[i] = register(t, e, "payer")
		if err := e.Ledger.Commit(ctx, charge(payers[i].ID, int64(n), e.Clock.Now())); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Ledger.FoldAccount(ctx, ledger.MainAccount(payers[i].ID)); err != nil {
			t.Fatal(err)
		}
	}
	model.Reset()
	var ok atomic.Int64
	var wg sync.WaitGroup
	for _, p := range payers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/len(payers); i++ {
				err := e.Ledger.Commit(ctx, move(ledger.MainAccount(p.ID), receiver, ledger.KindMain, kindMerchant, 1, e.Clock.Now()))
				switch {
				case err == nil:
					ok.Add(1)
				case !errors.Is(err, ledger.ErrBusy):
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	rep := model.Report(3)
	hottest := ""
	for _, k := range rep.Hottest {
		hottest += fmt.Sprintf(" %s/%s (%d attempts, %d throttles);", k.Key.Partition, k.Key.Sort, k.Attempts, k.Throttles)
	}
	t.Logf("%d shards: %d of %d credits into one account within one second's capacity; %d throttles; hottest:%s",
		shards, ok.Load(), n, rep.Total.Throttles, hottest)
	return e, receiver, int(ok.Load()), rep
}

// One partition takes 1,000 WCU a second and a transactional item of up to
// 1 KB costs 2 WCU ("TransactWriteItems ... 2 WCU per item up to 1 KB"), so
// an unsharded receiver, whose every credit writes a posting and a history
// entry on its own two partitions, takes 500 credits a second; one spread
// over 16 shards takes 2,000 (and its fold) without a throttle, and
// everything reads back exact: the balance, the history newest first over
// pages, the fold of every shard.
func TestShardedReceiverTakesTwoThousandCreditsASecond(t *testing.T) {
	t.Run("unsharded: capped at one partition's 500 credits", func(t *testing.T) {
		e, receiver, ok, rep := hotReceiver(t, 1, 700)
		if ok > 500 || rep.Total.Throttles == 0 {
			t.Fatalf("%d credits committed with %d throttles; one partition should cap them at 500", ok, rep.Total.Throttles)
		}
		if got := account(t, e, receiver); got.Balance != int64(ok) {
			t.Fatalf("balance %d, want %d", got.Balance, ok)
		}
	})
	t.Run("16 shards: 2,000 credits, no throttle", func(t *testing.T) {
		const n = 2_000
		e, receiver, ok, rep := hotReceiver(t, ledger.MaxShards, n)
		if ok != n || rep.Total.Throttles != 0 {
			t.Fatalf("%d of %d credits, %d throttles:\n%s", ok, n, rep.Total.Throttles, rep)
		}
		got := account(t, e, receiver)
		if got.Balance != n || got.Shards != ledger.MaxShards {
			t.Fatalf("receiver %+v, want balance %d over %d shards", got, n, ledger.MaxShards)
		}
		// Every shard took some of them.
		for s := 0; s < ledger.MaxShards; s++ {
			items, _, err := e.Table.QueryPage(ctx, ddb.Listing{Name: "probe", PartitionAttr: ddb.AttrPK,
				Partition: ddb.ShardKey("POSTING#"+receiver.Owner, s), Lower: receiver.ID, Upper: receiver.ID + "~", Now: e.Clock.Now()}, ddb.PageRequest{Limit: 1})
			if err != nil || len(items) == 0 {
				t.Fatalf("posting shard %d is empty (%v)", s, err)
			}
		}
		// History: one listing, newest first, over pages, each entry once.
		seen := map[string]bool{}
		last, cursor, pages := "~", "", 0
		for {
			page, next, err := e.Ledger.ListEntries(ctx, ledger.EntryQuery{AccountID: receiver.ID, Shards: got.Shards, Page: ddb.PageRequest{Limit: 100, Cursor: cursor}})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, en := range page {
				if seen[en.ID] || en.ID >= last {
					t.Fatalf("page %d: entry %s out of order or twice (after %s)", pages, en.ID, last)
				}
				seen[en.ID], last = true, en.ID
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if len(seen) != n {
			t.Fatalf("history listed %d entries in %d pages, want %d", len(seen), pages, n)
		}
		in, _, err := e.Ledger.ListEntries(ctx, ledger.EntryQuery{AccountID: receiver.ID, Shards: got.Shards, Direction: ledger.DirectionIn, Page: ddb.PageRequest{Limit: 10}})
		if err != nil || len(in) != 10 {
			t.Fatalf("direction listing: %d entries, %v", len(in), err)
		}
		// The fold: at most FoldPerAccount postings per account, shard and
		// pass, so one pass folds all 2,000 of a 16-shard receiver's.
		run, err := e.Ledger.FoldPostings(ctx, time.Minute)
		if err != nil || run.Err() != nil || run.Bounded != 0 || !run.Done || run.Postings < n {
			t.Fatalf("fold pass: %+v %v", run, err)
		}
		item, err := e.Table.Get(ctx, receiver.Key())
		if err != nil || ddb.Decode(item).N("balance") != n {
			t.Fatalf("the account item after the fold: %v %v", item, err)
		}
		if got := account(t, e, receiver); got.Balance != n {
			t.Fatalf("balance after the fold %d", got.Balance)
		}
	})
}

// A debit short of funds on a sharded account folds postings from every
// shard in its own transaction, and a debit beyond them is still refused.
func TestShardedAccountSpendFoldsEveryShard(t *testing.T) {
	e := ddbtest.New(t)
	owner, payer := register(t, e, "owner"), register(t, e, "payer")
	receiver := openReceiver(t, e, owner, 4)
	if err := e.Ledger.Commit(ctx, charge(payer.ID, 100_000, e.Clock.Now())); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		if err := e.Ledger.Commit(ctx, move(ledger.MainAccount(payer.ID), receiver, ledger.KindMain, kindMerchant, 100, e.Clock.Now())); err != nil {
			t.Fatal(err)
		}
	}
	// The receiver spends all 4,000 won: every shard's postings fold in.
	if err := e.Ledger.Commit(ctx, move(receiver, ledger.MainAccount(owner.ID), kindMerchant, ledger.KindMain, 4_000, e.Clock.Now())); err != nil {
		t.Fatal(err)
	}
	if err := e.Ledger.Commit(ctx, move(receiver, ledger.MainAccount(owner.ID), kindMerchant, ledger.KindMain, 1, e.Clock.Now())); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("a spend beyond every shard: %v", err)
	}
	for s := 0; s < 4; s++ {
		items, _, err := e.Table.QueryPage(ctx, ddb.Listing{Name: "probe", PartitionAttr: ddb.AttrPK,
			Partition: ddb.ShardKey("POSTING#"+owner.ID, s), Lower: receiver.ID, Upper: receiver.ID + "~", Now: e.Clock.Now()}, ddb.PageRequest{Limit: 1})
		if err != nil || len(items) != 0 {
			t.Fatalf("shard %d still holds postings (%v)", s, err)
		}
	}
	accounts, err := e.Ledger.ListAccounts(ctx, owner.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accounts {
		if want := map[string]int64{receiver.ID: 0, ledger.MainAccountID(owner.ID): 4_000}[a.ID]; a.Balance != want {
			t.Errorf("%s: balance %d, want %d", a.ID, a.Balance, want)
		}
	}
}
