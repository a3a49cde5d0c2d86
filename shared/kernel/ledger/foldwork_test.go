package ledger_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/localstack/ddbtest"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// creditRounds pays 1 won from each payer into to, rounds times: each
// round ONE transaction with one movement per payer (at most 25), so a
// backlog of postings builds fast on DynamoDB Local. It returns how many
// credits committed.
func creditRounds(t *testing.T, e *ddbtest.Env, payers []ledger.AccountRef, to ledger.AccountRef, rounds int) int64 {
	t.Helper()
	var n int64
	for range rounds {
		tx := &ledger.Tx{}
		at := e.Clock.Now()
		for _, p := range payers {
			tx.Move(ledger.Movement{ID: ledger.NewMovementID(at), Type: "test", Amount: 1, At: at,
				From: p, FromKind: ledger.KindMain, To: to, ToKind: kindMerchant})
		}
		if err := e.Ledger.Commit(ctx, tx); err != nil {
			t.Error(err)
			return n
		}
		n += int64(len(payers))
	}
	return n
}

// backlog counts to's unfolded postings over every shard.
func backlog(t *testing.T, e *ddbtest.Env, to ledger.AccountRef) int {
	t.Helper()
	n := 0
	for s := 0; s < ledger.MaxShards; s++ {
		q := e.Table.Query(&dynamodb.QueryInput{
			KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :sk)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(ddb.ShardKey("POSTING#"+to.Owner, s)), ":sk": ddb.S(to.ID + "#")},
			ConsistentRead:            aws.Bool(true),
		})
		for q.Next(ctx) {
			n++
		}
		if err := q.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// itemBalance is the balance on the account item itself (folded only).
func itemBalance(t *testing.T, e *ddbtest.Env, a ledger.AccountRef) int64 {
	t.Helper()
	item, err := e.Table.Get(ctx, a.Key())
	if err != nil {
		t.Fatal(err)
	}
	return ddb.Decode(item).N("balance")
}

// hotStore is a 16-shard receiver with a backlog of rounds*20 postings
// from 20 funded payers.
func hotStore(t *testing.T, e *ddbtest.Env, rounds int) (ledger.AccountRef, []ledger.AccountRef, int64) {
	t.Helper()
	receiver := openReceiver(t, e, register(t, e, "store owner"), ledger.MaxShards)
	payers := fundPayers(t, e, 20, 100_000)
	return receiver, payers, creditRounds(t, e, payers, receiver, rounds)
}

// A receiver credited faster than one fold pass folds: the pass leaves it
// with postings and names it hot; the fold worker then folds it, one
// transaction after another (measured here: postings per second), and,
// with credits still arriving, keeps its backlog small and ends with none
// once they stop. Balance exact, every posting folded once, the audit
// exact (ddbtest's cleanup).
func TestFoldWorkerKeepsPaceWithAHotReceiver(t *testing.T) {
	e := ddbtest.New(t)
	e.Ledger.SetFoldPerAccount(ledger.MaxItems - 1) // a pass folds 99 per shard of the account: 1,584
	receiver, payers, credited := hotStore(t, e, 200)

	began := time.Now()
	run, err := e.Ledger.FoldPostings(ctx, time.Minute)
	took := time.Since(began)
	if err != nil || run.Bounded != 1 || len(run.Hot) != 1 || run.Hot[0].Account != receiver.ID || run.Hot[0].Owner != receiver.Owner {
		t.Fatalf("pass: %+v %v; want the receiver bounded and hot", run, err)
	}
	left := backlog(t, e, receiver)
	if left == 0 || int64(left) != credited-int64(ledger.MaxShards*(ledger.MaxItems-1)) {
		t.Fatalf("%d postings left of %d after the pass (which folded %d in all)", left, credited, run.Postings)
	}

	t.Logf("fold job pass: %d postings (one account serially, a Query and a transaction at a time) in %s: %.0f postings/s",
		run.Postings, took.Round(time.Millisecond), float64(run.Postings)/took.Seconds())

	// The worker alone on the backlog: its pace.
	w := run.Hot[0]
	hot, next, err := e.Ledger.FoldHot(ctx, w, time.Minute)
	if err != nil || next != nil || hot.Held || hot.Postings != left || backlog(t, e, receiver) != 0 {
		t.Fatalf("worker: %+v next %v err %v; want all %d folded", hot, next, err, left)
	}
	t.Logf("fold worker: %d postings in %d transactions (%d read rounds) in %s: %.0f postings/s on DynamoDB Local",
		hot.Postings, hot.Folds, hot.Rounds, hot.Took.Round(time.Millisecond), float64(hot.Postings)/hot.Took.Seconds())

	// Credits keep arriving (two payers' goroutines, 20 movements a
	// transaction) while the worker chain runs with a short budget.
	var more atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	for _, group := range [][]ledger.AccountRef{payers[:10], payers[10:]} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 60 && !stop.Load(); i++ {
				more.Add(creditRounds(t, e, group, receiver, 1))
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	msg, chain, peak, folded := &ledger.FoldWork{Owner: receiver.Owner, Account: receiver.ID}, 0, 0, 0
	for msg != nil {
		var r ledger.FoldHotRun
		r, msg, err = e.Ledger.FoldHot(ctx, *msg, 100*time.Millisecond)
		if err != nil || r.Held {
			t.Fatalf("chain step %d: %+v %v", chain, r, err)
		}
		chain++
		folded += r.Postings
		peak = max(peak, backlog(t, e, receiver))
		if msg == nil {
			select {
			case <-done:
			default:
				// Caught up while credits still come: the fold job would
				// start a new chain; here the next message does.
				msg = &ledger.FoldWork{Owner: receiver.Owner, Account: receiver.ID}
			}
		}
		if chain > 2_000 {
			stop.Store(true)
			t.Fatalf("the chain never caught up: %d steps, backlog %d", chain, backlog(t, e, receiver))
		}
	}
	<-done
	total := credited + more.Load()
	if n := backlog(t, e, receiver); n != 0 {
		t.Fatalf("backlog %d after the chain ended", n)
	}
	if got := itemBalance(t, e, receiver); got != total {
		t.Fatalf("receiver's item balance %d, want every credit %d folded", got, total)
	}
	if got := account(t, e, receiver); got.Balance != total {
		t.Fatalf("receiver balance %d, want %d", got.Balance, total)
	}
	t.Logf("%d credits arrived while the chain ran %d steps (folding %d); backlog peaked at %d, ended at 0", more.Load(), chain, folded, peak)
	if peak > left {
		t.Errorf("the backlog grew to %d under the worker (it started at %d)", peak, left)
	}
}

// At-least-once delivery: duplicate messages, and the fold job's message
// for an account a worker holds, do nothing; a stale continuation does
// nothing; duplicates delivered at once fold each posting once between
// them.
func TestDuplicateFoldMessagesFoldEachPostingOnce(t *testing.T) {
	e := ddbtest.New(t)
	receiver, payers, credited := hotStore(t, e, 100)
	start := ledger.FoldWork{Owner: receiver.Owner, Account: receiver.ID}

	// Four copies of the starting message at once.
	var wg sync.WaitGroup
	var folded, held atomic.Int64
	var nexts sync.Map
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, next, err := e.Ledger.FoldHot(ctx, start, time.Minute)
			if err != nil {
				t.Error(err)
			}
			folded.Add(int64(r.Postings))
			if r.Held {
				held.Add(1)
			}
			if next != nil {
				nexts.Store(i, next)
			}
		}()
	}
	wg.Wait()
	if folded.Load() != credited || held.Load() < 1 || backlog(t, e, receiver) != 0 || itemBalance(t, e, receiver) != credited {
		t.Fatalf("4 copies folded %d of %d (held %d), backlog %d, item balance %d", folded.Load(), credited, held.Load(),
			backlog(t, e, receiver), itemBalance(t, e, receiver))
	}

	// A chain left with postings: its continuation carries the lease.
	credited += creditRounds(t, e, payers, receiver, 100)
	r, next, err := e.Ledger.FoldHot(ctx, start, time.Nanosecond) // the budget ends after one round
	if err != nil || next == nil || next.Lease == "" || next.Gen != 2 || !r.Left {
		t.Fatalf("a short run: %+v next %+v %v", r, next, err)
	}
	// While it holds the lease: a new chain's message (the fold job's) and
	// a duplicate of the first message do nothing.
	for _, w := range []ledger.FoldWork{start, start} {
		if r, n, err := e.Ledger.FoldHot(ctx, w, time.Minute); err != nil || !r.Held || n != nil || r.Postings != 0 {
			t.Fatalf("a message for a held account: %+v %v %v", r, n, err)
		}
	}
	// The continuation goes on; a second delivery of it (its generation
	// spent) does nothing, and neither does a copy with a forged holder.
	r2, next2, err := e.Ledger.FoldHot(ctx, *next, time.Nanosecond)
	if err != nil || r2.Held || next2 == nil || next2.Gen != next.Gen+2 {
		t.Fatalf("the continuation: %+v next %+v %v", r2, next2, err)
	}
	forged := *next2
	forged.Lease = "someone else"
	for _, w := range []ledger.FoldWork{*next, forged} {
		if r, n, err := e.Ledger.FoldHot(ctx, w, time.Minute); err != nil || !r.Held || n != nil {
			t.Fatalf("a spent or forged continuation %+v: %+v %v %v", w, r, n, err)
		}
	}
	r3, next3, err := e.Ledger.FoldHot(ctx, *next2, time.Minute)
	if err != nil || r3.Held || next3 != nil {
		t.Fatalf("the last continuation: %+v next %+v %v", r3, next3, err)
	}
	if backlog(t, e, receiver) != 0 || itemBalance(t, e, receiver) != credited {
		t.Fatalf("backlog %d, item balance %d, want 0 and %d", backlog(t, e, receiver), itemBalance(t, e, receiver), credited)
	}
	// Released: the fold job's next message starts a new chain at once.
	if r, n, err := e.Ledger.FoldHot(ctx, start, time.Minute); err != nil || r.Held || n != nil {
		t.Fatalf("after the release: %+v %v %v", r, n, err)
	}
	if err := (ledger.FoldWork{Account: receiver.ID, Gen: 3}).Check(); err == nil {
		t.Fatal("a generation without a lease passes the check")
	}
}

// The lease keeps workers apart, but money does not rely on it: four
// unleased worker loops, the fold job and the receiver's own spends fold
// one account at once while credits arrive, and each posting is folded
// exactly once (the fold's deletes are conditioned on the posting
// existing, in the transaction that credits the balance).
func TestConcurrentFoldersFoldEachPostingOnce(t *testing.T) {
	e := ddbtest.New(t)
	receiver, payers, credited := hotStore(t, e, 100)
	owner := ledger.MainAccount(receiver.Owner)
	var wg sync.WaitGroup
	var races, folded, spent atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				r, _, err := e.Ledger.FoldForTest(ctx, receiver, time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				races.Add(int64(r.Races))
				folded.Add(int64(r.Postings))
			}
		}()
	}
	wg.Add(3)
	go func() {
		defer wg.Done()
		for range 3 {
			run, err := e.Ledger.FoldPostings(ctx, time.Minute)
			if err != nil {
				t.Error(err)
			}
			folded.Add(int64(run.Postings))
		}
	}()
	go func() {
		defer wg.Done()
		for range 20 { // the store owner takes money out: a spend short of funds folds in its own transaction
			err := e.Ledger.Commit(ctx, move(receiver, owner, kindMerchant, ledger.KindMain, 50, e.Clock.Now()))
			switch {
			case err == nil:
				spent.Add(50)
			case !errors.Is(err, ledger.ErrInsufficientFunds) && !errors.Is(err, ledger.ErrBusy):
				t.Error(err)
			}
		}
	}()
	var more int64
	go func() {
		defer wg.Done()
		more = creditRounds(t, e, payers, receiver, 40)
	}()
	wg.Wait()
	if _, next, err := e.Ledger.FoldHot(ctx, ledger.FoldWork{Owner: receiver.Owner, Account: receiver.ID}, time.Minute); err != nil || next != nil {
		t.Fatalf("the last fold: %v %v", next, err)
	}
	want := credited + more - spent.Load()
	if n := backlog(t, e, receiver); n != 0 {
		t.Fatalf("backlog %d", n)
	}
	if got := itemBalance(t, e, receiver); got != want {
		t.Fatalf("item balance %d, want %d (credited %d, spent %d)", got, want, credited+more, spent.Load())
	}
	if got := balance(t, e, owner); got != spent.Load() {
		t.Fatalf("owner has %d, want %d", got, spent.Load())
	}
	t.Logf("4 unleased workers, the fold job and %d won of spends: %d races refused whole, every posting once", spent.Load(), races.Load())
}

// A worker whose budget ran out while the account was credited slower
// than the hot rate hands it back to the fold job: no continuation, and
// the lease is free at once for the job's next message.
func TestAColdWorkerHandsTheAccountBack(t *testing.T) {
	e := ddbtest.New(t)
	receiver, payers, credited := hotStore(t, e, 5)
	e.Ledger.SetFoldHotRate(1e9) // anything is cold
	var stop atomic.Bool
	var more atomic.Int64
	var wg sync.WaitGroup
	for _, group := range [][]ledger.AccountRef{payers[:10], payers[10:]} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				more.Add(creditRounds(t, e, group, receiver, 1))
			}
		}()
	}
	start := ledger.FoldWork{Owner: receiver.Owner, Account: receiver.ID}
	// 3 s, not the 1 s the cooling check needs at least: on a loaded
	// machine the first read alone can spend a second, and the run must
	// fold something before it is judged cold.
	r, next, err := e.Ledger.FoldHot(ctx, start, 3*time.Second)
	stop.Store(true)
	wg.Wait()
	if err != nil || next != nil || !r.Cooled || r.Postings == 0 {
		t.Fatalf("a cold run: %+v next %+v %v", r, next, err)
	}
	if r, n, err := e.Ledger.FoldHot(ctx, start, time.Minute); err != nil || r.Held || n != nil {
		t.Fatalf("after handing back: %+v %v %v", r, n, err)
	}
	if total := credited + more.Load(); itemBalance(t, e, receiver) != total || backlog(t, e, receiver) != 0 {
		t.Fatalf("item balance %d, backlog %d, want %d and 0", itemBalance(t, e, receiver), backlog(t, e, receiver), total)
	}
}
