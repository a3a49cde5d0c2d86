package ledger

// The fold worker: a hot receiver folded continuously. The fold job runs
// once a minute and folds each account at most FoldPerAccount postings per
// shard of the account and pass, within 7 s: at most 31,680 postings a
// minute for a promoted receiver, while one credited at 2,000/s gets
// 120,000. So an account the job leaves with postings (FoldRun.Hot) is
// handed to the fold-work queue; its worker (FoldHot) folds that one
// account for its budget, one transaction (foldOnce) after another, and
// sends itself again while postings remain, so a hot receiver is folded at
// one transaction per round trip for as long as it is hot, and its backlog
// (which every read of its balance lists) stays about one round trip of
// credits instead of growing by the minute.
//
// Reads run ahead: each round reads up to FoldReadAhead postings with one
// Query per shard of the account, all shards at once (one round trip), and
// folds them in transactions of MaxItems-1; a transaction another folder
// beat (errFoldRace: one of its postings is gone) ends the round and the
// next round reads afresh. A worker stops when a round finds no posting.
//
// One worker per account: parallel folds of one account would all update
// its item, which the cloud answers with TransactionConflict. A lease item
// says which chain of messages holds the account:
//
//	item        PK                          SK      notes
//	fold lease  FOLDLEASE#<owner>/<account> LEASE   holder, gen, until (unix ms, wall time), expiresAt
//
// A message that starts a chain (no lease in it) takes the lease only if
// nobody holds it (absent or expired); a continuation only if the lease is
// still its chain's at its generation (or expired). Each take bumps the
// generation, and the worker sends its continuation with the new one, so a
// message delivered twice (SQS is at least once) finds the generation moved
// on and does nothing, and so does the fold job's message for an account a
// worker already holds. A worker that crashes leaves the lease to expire
// (FoldLeaseFor); until then the fold job folds the account at its own pace
// as before. The lease is an optimization, not a money rule: each posting
// is folded exactly once by foldOnce's conditions whoever folds at the same
// time (TestConcurrentFoldersFoldEachPostingOnce runs four unleased ones).

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/kernel/ddb"
)

const (
	pkFoldLease = "FOLDLEASE#"
	skFoldLease = "LEASE"
	// FoldLeaseFor is how long a take of the lease holds the account: more
	// than a worker's timeout (routes.Queues' fold-work row: a minute) plus
	// the time its continuation waits in the queue.
	FoldLeaseFor = 2 * time.Minute
	// FoldReadAhead is how many postings one round reads (over all the
	// account's shards at once): 16 transactions' worth.
	FoldReadAhead = 16 * (MaxItems - 1)
	// FoldHotRate: a worker whose whole budget (of at least a second)
	// folded fewer postings a second than this hands the account back to
	// the fold job (which folds 528 a second of a promoted account) rather
	// than keep a function running for it; one it leaves with more
	// postings than a pass folds comes back.
	FoldHotRate = 100
	// foldIdle: a round that found less than one transaction's worth waits
	// this long before the next, so a caught-up worker folds in batches
	// rather than one posting per transaction.
	foldIdle = 100 * time.Millisecond
)

// FoldWork is one account for the fold worker: the body of a fold-work
// message.
type FoldWork struct {
	Owner   string `json:"owner,omitempty"` // "" for a system account
	Account string `json:"account"`
	Outside bool   `json:"outside,omitempty"`
	// Lease and Gen: a continuation's chain and the generation of the
	// lease it holds ("" and 0: a new chain).
	Lease string `json:"lease,omitempty"`
	Gen   int64  `json:"gen,omitempty"`
}

func foldWorkOf(a AccountRef) FoldWork {
	return FoldWork{Owner: a.Owner, Account: a.ID, Outside: a.outside}
}

func (w FoldWork) ref() AccountRef {
	return AccountRef{Owner: w.Owner, ID: w.Account, outside: w.Outside}
}

// Check refuses a message that names no account.
func (w FoldWork) Check() error {
	switch {
	case w.Account == "" || len(w.Account) > 200 || len(w.Owner) > 200 || len(w.Lease) > 100:
		return fmt.Errorf("ledger: fold work %+v: no account, or a field too long", w)
	case w.Outside && w.Owner != "":
		return fmt.Errorf("ledger: fold work %+v: an outside account has no owner", w)
	case w.Gen < 0 || (w.Lease == "") != (w.Gen == 0):
		return fmt.Errorf("ledger: fold work %+v: a lease goes with its generation", w)
	}
	return nil
}

// FoldHotRun is what one FoldHot did.
type FoldHotRun struct {
	Postings int `json:"postings"` // folded
	Folds    int `json:"folds"`    // fold transactions committed
	Rounds   int `json:"rounds"`   // read rounds
	Races    int `json:"races"`    // fold transactions another folder beat
	// Held: another worker holds the account; this one did nothing.
	Held bool `json:"held,omitempty"`
	// Left: postings may remain (the budget ran out); next continues.
	Left bool `json:"left,omitempty"`
	// Cooled: the budget ran out but the account was credited slower
	// than FoldHotRate: handed back to the fold job (no next).
	Cooled bool          `json:"cooled,omitempty"`
	Took   time.Duration `json:"tookNs"`
}

// FoldHot is the fold worker's work on one message: it takes the
// account's lease, folds the account until no posting is left or budget
// (wall time) is spent, and returns the continuation to send (nil when the
// account is caught up, or when another worker holds it).
func (l *Ledger) FoldHot(ctx context.Context, w FoldWork, budget time.Duration) (FoldHotRun, *FoldWork, error) {
	start := time.Now()
	var run FoldHotRun
	if err := w.Check(); err != nil {
		return run, nil, err
	}
	a := w.ref()
	token, gen := w.Lease, w.Gen
	if token == "" {
		token = ddb.RandomString(16)
	}
	gen, ok, err := l.takeFoldLease(ctx, a, token, gen)
	if err != nil || !ok {
		run.Held = err == nil
		return run, nil, err
	}
	more, err := l.foldFor(ctx, a, budget, &run)
	run.Took = time.Since(start)
	if more && err == nil && budget >= time.Second && float64(run.Postings) < l.policy.foldHotRate*run.Took.Seconds() {
		more, run.Cooled = false, true
	}
	if err != nil || !more {
		// Done (or failed: the queue delivers the message again, and the
		// fold job goes on meanwhile): the lease goes at once.
		return run, nil, errors.Join(err, l.releaseFoldLease(ctx, a, token, gen))
	}
	run.Left = true
	if gen, ok, err = l.takeFoldLease(ctx, a, token, gen); err != nil || !ok {
		return run, nil, err // !ok: it expired and another chain took it over
	}
	next := w
	next.Lease, next.Gen = token, gen
	return run, &next, nil
}

// foldFor folds a, one transaction after another, until a round finds no
// posting (more is false) or budget is spent (more is true).
func (l *Ledger) foldFor(ctx context.Context, a AccountRef, budget time.Duration, run *FoldHotRun) (more bool, err error) {
	start := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return true, err
		}
		if time.Since(start) >= budget {
			return true, nil
		}
		shards, err := l.shardsOf(ctx, a)
		if err != nil {
			return true, err
		}
		postings, err := l.readAhead(ctx, a, shards)
		if err != nil {
			return true, err
		}
		run.Rounds++
		if len(postings) == 0 {
			return false, nil
		}
		found := len(postings)
		for len(postings) > 0 && time.Since(start) < budget {
			chunk := postings[:min(len(postings), MaxItems-1)]
			postings = postings[len(chunk):]
			promote := l.promotes(a, shards, run.Postings+len(chunk))
			err := l.foldOnce(ctx, a, chunk, promote, true)
			if errors.Is(err, errFoldRace) || errors.Is(err, ErrBusy) {
				// Another folder (the fold job, a spend short of funds)
				// took some of these first, or kept the item busy: read
				// again.
				run.Races++
				break
			}
			if err != nil {
				return true, err
			}
			run.Folds++
			run.Postings += len(chunk)
			if promote {
				break // more shards to read from now on
			}
		}
		if found < MaxItems-1 {
			select { // caught up: let a batch gather
			case <-time.After(foldIdle):
			case <-ctx.Done():
			}
		}
	}
}

// readAhead reads up to about FoldReadAhead of a's unfolded postings: one
// Query (one page) per shard, all shards at once.
func (l *Ledger) readAhead(ctx context.Context, a AccountRef, shards int) ([]ddb.Item, error) {
	per := max(MaxItems-1, FoldReadAhead/shards)
	got := make([][]ddb.Item, shards)
	errs := make([]error, shards)
	var wg sync.WaitGroup
	for n := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := l.table.Client.Query(ctx, &dynamodb.QueryInput{
				TableName:                 aws.String(l.table.Name),
				KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :sk)"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(postingPartition(a, n)), ":sk": ddb.S(a.ID + "#")},
				ConsistentRead:            aws.Bool(true),
				Limit:                     aws.Int32(int32(per)),
			})
			if err != nil {
				errs[n] = err
				return
			}
			got[n] = out.Items
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var items []ddb.Item
	for _, g := range got {
		items = append(items, g...)
	}
	return items, nil
}

func foldLeaseKey(a AccountRef) ddb.Item { return ddb.Key(pkFoldLease+knownKey(a), skFoldLease) }

// takeFoldLease takes a's lease for holder at generation gen (ddb.TakeLease).
func (l *Ledger) takeFoldLease(ctx context.Context, a AccountRef, holder string, gen int64) (int64, bool, error) {
	gen, ok, err := l.table.TakeLease(ctx, foldLeaseKey(a), holder, gen, FoldLeaseFor)
	if err != nil {
		err = fmt.Errorf("ledger: the fold lease of %s: %w", a.ID, err)
	}
	return gen, ok, err
}

// releaseFoldLease ends holder's lease at gen (if it still has it).
func (l *Ledger) releaseFoldLease(ctx context.Context, a AccountRef, holder string, gen int64) error {
	if err := l.table.ReleaseLease(ctx, foldLeaseKey(a), holder, gen); err != nil {
		return fmt.Errorf("ledger: the fold lease of %s: %w", a.ID, err)
	}
	return nil
}
