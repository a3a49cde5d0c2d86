package ledger_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/localstack/ddbtest"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// fundPayers registers n payers with amount each, folded.
func fundPayers(t *testing.T, e *ddbtest.Env, n int, amount int64) []ledger.AccountRef {
	t.Helper()
	var out []ledger.AccountRef
	for range n {
		p := register(t, e, "payer")
		if err := e.Ledger.Commit(ctx, charge(p.ID, amount, e.Clock.Now())); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Ledger.FoldAccount(ctx, ledger.MainAccount(p.ID)); err != nil {
			t.Fatal(err)
		}
		out = append(out, ledger.MainAccount(p.ID))
	}
	return out
}

// credit pays 1 won from each payer into to, k times each, all at once,
// through l (nil: the env's ledger). It returns how many committed.
func credit(t *testing.T, e *ddbtest.Env, l *ledger.Ledger, payers []ledger.AccountRef, to ledger.AccountRef, k int) int64 {
	t.Helper()
	if l == nil {
		l = e.Ledger
	}
	var ok atomic.Int64
	var wg sync.WaitGroup
	for _, p := range payers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range k {
				if err := l.Commit(ctx, move(p, to, ledger.KindMain, ledger.KindMain, 1, e.Clock.Now())); err != nil {
					t.Error(err)
					return
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	return ok.Load()
}

// postingShards is how many of the owner's posting shards hold postings.
func postingShards(t *testing.T, e *ddbtest.Env, a ledger.AccountRef) int {
	t.Helper()
	n := 0
	for s := 0; s < ledger.MaxShards; s++ {
		items, _, err := e.Table.QueryPage(ctx, ddb.Listing{Name: "probe", PartitionAttr: ddb.AttrPK,
			Partition: ddb.ShardKey("POSTING#"+a.Owner, s), Lower: a.ID, Upper: a.ID + "~", Now: e.Clock.Now()}, ddb.PageRequest{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(items) > 0 {
			n++
		}
	}
	return n
}

func itemShards(t *testing.T, e *ddbtest.Env, a ledger.AccountRef) int64 {
	t.Helper()
	item, err := e.Table.Get(ctx, a.Key())
	if err != nil {
		t.Fatal(err)
	}
	return ddb.Decode(item).N("shards")
}

// An ordinary main account stays on one shard; when one fold run folds
// more than the threshold of its postings (many payers crediting it at
// once), the fold promotes it to MaxShards in the same write, and the
// credits that follow spread over the shards. Its history then pages
// across the shards, newest first, each entry once.
func TestFoldPromotesAHighVolumeReceiver(t *testing.T) {
	e := ddbtest.New(t)
	e.Ledger.SetPromotion(100, 0) // writers re-read an unpromoted count every time
	receiver := ledger.MainAccount(register(t, e, "popular").ID)
	payers := fundPayers(t, e, 10, 1_000)

	// Below the threshold: folded, not promoted.
	got := credit(t, e, nil, payers, receiver, 4) // 40
	run, err := e.Ledger.FoldPostings(ctx, time.Minute)
	if err != nil || run.Promoted != 0 || itemShards(t, e, receiver) != 0 {
		t.Fatalf("a fold of 40 postings promoted: %+v %v", run, err)
	}
	got += credit(t, e, nil, payers, receiver, 12) // 120 at once
	if n := postingShards(t, e, receiver); n != 1 {
		t.Fatalf("an unpromoted account's postings in %d shards", n)
	}
	run, err = e.Ledger.FoldPostings(ctx, time.Minute)
	if err != nil || run.Promoted != 1 || itemShards(t, e, receiver) != ledger.MaxShards {
		t.Fatalf("a fold of 120 postings did not promote: %+v %v", run, err)
	}
	got += credit(t, e, nil, payers, receiver, 20) // 200 more, spread
	if n := postingShards(t, e, receiver); n < ledger.MaxShards/2 {
		t.Fatalf("the promoted account's postings in only %d shards", n)
	}
	a := account(t, e, receiver)
	if a.Balance != got || a.Shards != ledger.MaxShards {
		t.Fatalf("receiver %+v, want balance %d over %d shards", a, got, ledger.MaxShards)
	}
	// The next folds never lower it.
	got += credit(t, e, nil, payers, receiver, 1)
	if _, err := e.Ledger.FoldPostings(ctx, time.Minute); err != nil || itemShards(t, e, receiver) != ledger.MaxShards {
		t.Fatalf("shards after another fold: %d %v", itemShards(t, e, receiver), err)
	}
	if n := postingShards(t, e, receiver); n != 0 {
		t.Fatalf("%d shards still hold postings after the fold", n)
	}

	// History: every entry once, newest first, across pages and shards.
	seen := map[string]bool{}
	last, cursor := "~", ""
	for pages := 1; ; pages++ {
		page, next, err := e.Ledger.ListEntries(ctx, ledger.EntryQuery{AccountID: receiver.ID, Shards: ledger.MaxShards, Page: ddb.PageRequest{Limit: 7, Cursor: cursor}})
		if err != nil {
			t.Fatal(err)
		}
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
	if int64(len(seen)) != got {
		t.Fatalf("history listed %d entries, want %d", len(seen), got)
	}
	if a := account(t, e, receiver); a.Balance != got {
		t.Fatalf("balance %d, want %d", a.Balance, got)
	}
}

// Credits, folds and reads all at once while the account is promoted:
// writers that still believe in one shard (a process that read the account
// before the promotion) and writers that know of 16; folds on two
// processes; readers that check every balance they read existed (credits
// only add: at least what had committed before the read began, at most
// what had begun by its end). Nothing is lost or doubled.
func TestPromotionUnderConcurrentCreditsFoldsAndReads(t *testing.T) {
	e := ddbtest.New(t)
	e.Ledger.SetPromotion(60, time.Hour) // a process keeps what it read
	receiver := ledger.MainAccount(register(t, e, "popular").ID)
	payers := fundPayers(t, e, 16, 1_000)
	stale := e.Ledger.Fork()
	if _, err := stale.GetAccount(ctx, receiver.Owner, receiver.ID); err != nil { // remembers 1 shard
		t.Fatal(err)
	}
	var begun, done atomic.Int64
	stop := make(chan struct{})
	var bg sync.WaitGroup
	// Two fold processes. They start once 120 credits committed, so their
	// first run folds more than the 60 that promote (folds keeping pace with
	// the credits from the first one would never reach it on a busy
	// machine); the other 280 credits race the folds and the promotion.
	for range 2 {
		f := e.Ledger.Fork()
		bg.Add(1)
		go func() {
			defer bg.Done()
			for done.Load() < 120 {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
				}
			}
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := f.FoldPostings(ctx, time.Minute); err != nil && !strings.Contains(err.Error(), "folded meanwhile") {
					t.Error(err)
					return
				}
			}
		}()
	}
	// Readers.
	var reads atomic.Int64
	for range 3 {
		r := e.Ledger.Fork()
		bg.Add(1)
		go func() {
			defer bg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				lo := done.Load()
				a, err := r.GetAccount(ctx, receiver.Owner, receiver.ID)
				hi := begun.Load()
				if err != nil {
					if strings.Contains(err.Error(), "busy") || strings.Contains(err.Error(), "contention") {
						continue
					}
					t.Error(err)
					return
				}
				if a.Balance < lo || a.Balance > hi {
					t.Errorf("read a balance of %d, never there: between %d and %d", a.Balance, lo, hi)
					return
				}
				reads.Add(1)
			}
		}()
	}
	// Writers: half through the stale process, half through fresh ones.
	var wg sync.WaitGroup
	for i, p := range payers {
		l := stale
		if i%2 == 1 {
			l = e.Ledger.Fork()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				begun.Add(1)
				if err := l.Commit(ctx, move(p, receiver, ledger.KindMain, ledger.KindMain, 1, e.Clock.Now())); err != nil {
					t.Error(err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stop)
	bg.Wait()
	if t.Failed() {
		return
	}
	const total = 16 * 25
	if itemShards(t, e, receiver) != ledger.MaxShards {
		t.Fatalf("400 credits under folds did not promote the receiver")
	}
	if _, err := e.Ledger.FoldAccount(ctx, receiver); err != nil {
		t.Fatal(err)
	}
	item, err := e.Table.Get(ctx, receiver.Key())
	if err != nil || ddb.Decode(item).N("balance") != total {
		t.Fatalf("the item after the last fold: %v %v, want %d", item, err, total)
	}
	if a := account(t, e, receiver); a.Balance != total {
		t.Fatalf("balance %d, want %d", a.Balance, total)
	}
	if reads.Load() == 0 {
		t.Fatal("no read completed")
	}
	t.Logf("%d reads during the promotion", reads.Load())
}

// raceClient runs hook once, inside the first Query of the given partition.
type raceClient struct {
	ddb.Client
	mu        sync.Mutex
	partition string
	hook      func()
}

func (c *raceClient) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.mu.Lock()
	hook := c.hook
	if hook != nil {
		if pk, ok := in.ExpressionAttributeValues[":pk"]; ok && ddb.Decode(ddb.Item{"pk": pk}).S("pk") == c.partition {
			c.hook = nil
		} else {
			hook = nil
		}
	}
	c.mu.Unlock()
	if hook != nil {
		hook()
	}
	return c.Client.Query(ctx, in, opts...)
}

// The race the rev check covers, forced: a read takes the account item
// while it has one shard; before it lists the postings, a fold promotes the
// account and writers that read the promoted item credit it on shards the
// read will not list. The read's second look at the item sees rev moved and
// reads again, over every shard: the balance counts every credit.
func TestAReadThatSawOneShardMissesNoPostingOfAPromotion(t *testing.T) {
	rc := &raceClient{}
	e := ddbtest.New(t, func(c ddb.Client) ddb.Client { rc.Client = c; return rc })
	e.Ledger.SetPromotion(1, time.Hour)
	receiver := ledger.MainAccount(register(t, e, "popular").ID)
	payers := fundPayers(t, e, 1, 1_000)
	if err := e.Ledger.Commit(ctx, move(payers[0], receiver, ledger.KindMain, ledger.KindMain, 1, e.Clock.Now())); err != nil {
		t.Fatal(err)
	}
	const credits = 12
	rc.mu.Lock()
	rc.partition = "POSTING#" + receiver.Owner
	rc.hook = func() {
		if _, err := e.Ledger.Fork().FoldAccount(ctx, receiver); err != nil { // promotes
			t.Error(err)
		}
		w := e.Ledger.Fork() // reads the promoted item
		for range credits {
			if err := w.Commit(ctx, move(payers[0], receiver, ledger.KindMain, ledger.KindMain, 1, e.Clock.Now())); err != nil {
				t.Error(err)
			}
		}
	}
	rc.mu.Unlock()
	a, err := e.Ledger.Fork().GetAccount(ctx, receiver.Owner, receiver.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rc.hook != nil {
		t.Fatal("the race did not happen")
	}
	if n := postingShards(t, e, receiver); n < 2 {
		t.Fatalf("the credits landed on %d shards; the test needs some beyond shard 0", n)
	}
	if a.Balance != 1+credits || a.Shards != ledger.MaxShards {
		t.Fatalf("read %+v, want balance %d over %d shards", a, 1+credits, ledger.MaxShards)
	}
}
