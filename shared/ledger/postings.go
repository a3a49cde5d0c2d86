package ledger

// Postings: credits that never contend. A credit to a user's account (or
// any movement of an outside account) does not update the account's item
// inside the payer's transaction: it writes an immutable posting, an item of
// its own key, so any number of payers can pay one account at once without
// touching a common item. Postings are folded into the account's balance by
// one conditional transaction later: on demand, when the owner's spend
// would otherwise be refused for funds (Commit folds them into that same
// transaction), and by the fold job, which sweeps them from the due index.
// Reads (GetAccount, ListAccounts) and the audit count unfolded postings, so
// a posting is spendable and visible the moment its transaction commits.
//
//	item     PK                  SK                   notes
//	posting  POSTING#<group>     <account>#<movement>  accountId, amount (signed), movementId, at;
//	                                                   due DUE#fold#<shard> until folded
//
// group is the owner's user id (all of a user's postings in one partition:
// one Query lists them for GET /accounts) or, for a system account, its id.
// A credited user account must exist, of its kind: Commit checks that with
// one strongly consistent read per account, once per process (accounts are
// never deleted and never change kind), instead of a condition on the
// receiver's item.

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/ddb"
)

const (
	pkPosting = "POSTING#"
	// FoldShards spreads the postings' due entries over this many index
	// partitions, so the due index is no hot spot either.
	FoldShards = 16
	// maxFolds bounds the fold-and-retry rounds of one Commit.
	maxFolds = 8
)

func foldKind(shard int) string { return fmt.Sprintf("fold#%02d", shard) }

func postingGroup(a AccountRef) string {
	if a.System() {
		return a.ID
	}
	return a.Owner
}

func foldShard(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % FoldShards)
}

// posting adds an immutable posting of delta to a.
func (tx *Tx) posting(a AccountRef, delta int64, mid string, at time.Time) {
	if mid == "" || delta == 0 {
		tx.Fail(fmt.Errorf("ledger: posting of %d to %s without a movement", delta, a.ID))
		return
	}
	item := ddb.Key(pkPosting+postingGroup(a), a.ID+"#"+mid)
	item["accountId"] = ddb.S(a.ID)
	if a.Owner != "" {
		item["owner"] = ddb.S(a.Owner)
	}
	item["outside"] = ddb.Bool(a.outside)
	item["amount"] = ddb.N(delta)
	item["movementId"] = ddb.S(mid)
	item["at"] = ddb.Time(at)
	ddb.SetDue(item, foldKind(foldShard(a.ID)), at, a.ID)
	tx.add(types.TransactWriteItem{Put: &types.Put{Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		op{onFail: func(ddb.Item) error { return fmt.Errorf("ledger: posting %s of %s twice", mid, a.ID) }})
}

// ---- accounts known to exist ----

type verification struct {
	a    AccountRef
	kind Kind
}

// knownKey is the account's whole address: the same id under another
// owner is another (missing) account.
func knownKey(a AccountRef) string { return a.Owner + "/" + a.ID }

// known remembers accounts read once: they are never deleted and never
// change kind. Bounded: when full it starts afresh.
type known struct {
	mu    sync.Mutex
	kinds map[string]Kind
}

const knownMax = 100_000

func (k *known) get(id string) (Kind, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	kind, ok := k.kinds[id]
	return kind, ok
}

func (k *known) put(id string, kind Kind) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.kinds == nil || len(k.kinds) >= knownMax {
		k.kinds = map[string]Kind{}
	}
	k.kinds[id] = kind
}

// verifyAccounts checks that each account exists (of its kind): from the
// process's memory, or with one consistent read (in parallel).
func (l *Ledger) verifyAccounts(ctx context.Context, vs []verification) error {
	type result struct {
		i    int
		kind Kind
		err  error
	}
	var unread []int
	for i, v := range vs {
		if _, ok := l.known.get(knownKey(v.a)); !ok {
			unread = append(unread, i)
		}
	}
	if len(unread) > 0 {
		ch := make(chan result, len(unread))
		for _, i := range unread {
			go func() {
				item, err := l.table.Get(ctx, vs[i].a.Key())
				switch {
				case err != nil:
					ch <- result{i, "", err}
				case item == nil:
					ch <- result{i, "", missingOrKind(vs[i].a, vs[i].kind)(nil)}
				default:
					ch <- result{i, Kind(ddb.Decode(item).S("kind")), nil}
				}
			}()
		}
		var firstErr error
		for range unread {
			r := <-ch
			if r.err != nil {
				if firstErr == nil {
					firstErr = r.err
				}
				continue
			}
			l.known.put(knownKey(vs[r.i].a), r.kind)
		}
		if firstErr != nil {
			return firstErr
		}
	}
	for _, v := range vs {
		if kind, _ := l.known.get(knownKey(v.a)); v.kind != "" && kind != v.kind {
			return &WrongKindError{Account: v.a.ID, Kind: kind, Want: v.kind}
		}
	}
	return nil
}

// ---- reading postings ----

// unfolded lists an account's postings not folded yet (at most max; 0: all).
func (l *Ledger) unfolded(ctx context.Context, a AccountRef, max int) ([]ddb.Item, error) {
	var items []ddb.Item
	err := l.table.QueryAll(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :sk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(pkPosting + postingGroup(a)), ":sk": ddb.S(a.ID + "#")},
		ConsistentRead:            aws.Bool(true),
	}, func(item ddb.Item) bool {
		items = append(items, item)
		return max == 0 || len(items) < max
	})
	return items, err
}

// unfoldedSums adds the group's unfolded postings per account.
func (l *Ledger) unfoldedSums(ctx context.Context, group string) (map[string]int64, error) {
	sums := map[string]int64{}
	var derr error
	err := l.table.QueryAll(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(pkPosting + group)},
		ProjectionExpression:      aws.String("accountId, amount"),
		ConsistentRead:            aws.Bool(true),
	}, func(item ddb.Item) bool {
		d := ddb.Decode(item)
		sums[d.MustS("accountId")] += d.MustN("amount")
		derr = d.Err()
		return derr == nil
	})
	if err == nil {
		err = derr
	}
	return sums, err
}

// ---- folding ----

// errFoldRace: a posting being folded was folded by someone else first.
var errFoldRace = errors.New("ledger: a posting was folded meanwhile")

func (e *Tx) clone() *Tx {
	c := *e
	c.items = append([]types.TransactWriteItem(nil), e.items...)
	c.ops = append([]op(nil), e.ops...)
	c.changes = append([]indexedChange(nil), e.changes...)
	return &c
}

// foldItems adds the deletes of postings (each must still exist).
func (tx *Tx) foldItems(postings []ddb.Item) {
	for _, p := range postings {
		tx.add(types.TransactWriteItem{Delete: &types.Delete{
			Key: ddb.Key(keyString(p, ddb.AttrPK), keyString(p, ddb.AttrSK)), ConditionExpression: aws.String("attribute_exists(PK)"),
		}}, op{onFail: func(ddb.Item) error { return errFoldRace }})
	}
}

func sum(postings []ddb.Item) (int64, error) {
	var s int64
	for _, p := range postings {
		d := ddb.Decode(p)
		s += d.MustN("amount")
		if err := d.Err(); err != nil {
			return 0, err
		}
	}
	return s, nil
}

// withFold answers a refused spend: if the refused item is a spend whose
// account has unfolded postings, the transaction again with them folded
// into that update (their deletes in the same transaction); nil if there is
// nothing to fold. Too many postings for one transaction are first folded on
// their own.
func (l *Ledger) withFold(ctx context.Context, tx *Tx, failed int, refusal error) (*Tx, error) {
	base := tx
	if tx.base != nil {
		base = tx.base
	}
	target := -1
	var seen int64 // the available the refusal saw
	if errors.Is(refusal, errFoldRace) {
		// Someone else folded first: the account item holds that money
		// now; try as built (a refusal folds what is left).
		return base, nil
	} else {
		var short *InsufficientFundsError
		var stale *TopUpStaleError
		switch {
		case errors.As(refusal, &short):
			seen = short.Available
		case errors.As(refusal, &stale):
			seen = stale.Available
		default:
			return nil, nil
		}
		for _, ic := range tx.changes {
			if ic.index == failed {
				target = failed
			}
		}
		if target < 0 || tx.base != nil && tx.foldedAt == target && tx.foldedAll {
			return nil, nil // folded already, and still short: the refusal stands
		}
	}
	var c change
	found := false
	for _, ic := range base.changes {
		if ic.index == target {
			c, found = ic.c, true
		}
	}
	if !found {
		return nil, nil
	}
	space := MaxItems - len(base.items)
	postings, err := l.unfolded(ctx, c.a, space+1)
	if err != nil {
		return nil, err
	}
	if len(postings) == 0 {
		// Nothing to fold now: if someone folded the postings after the
		// refusal saw the account, its available is stale; try again.
		item, err := l.table.Get(ctx, c.a.Key())
		if err != nil || item == nil {
			return nil, err
		}
		if now := ddb.Decode(item).N("available"); now != seen && tx.base == nil {
			return base, nil
		}
		return nil, nil
	}
	if len(postings) > space {
		if _, err := l.FoldAccount(ctx, c.a); err != nil && !errors.Is(err, errFoldRace) {
			return nil, err
		}
		return base, nil // the account item holds them now
	}
	s, err := sum(postings)
	if err != nil {
		return nil, err
	}
	folded := base.clone()
	c.fold = s
	item, o := c.item()
	folded.items[target], folded.ops[target] = askOld(item), o
	folded.foldItems(postings)
	folded.base, folded.foldedAt, folded.foldedAll = base, target, true
	return folded, nil
}

// FoldAccount folds an account's unfolded postings into its balance: one
// transaction per up to MaxItems-1 postings (their deletes and ONE update of
// the account), until none are left. It returns how many it folded.
func (l *Ledger) FoldAccount(ctx context.Context, a AccountRef) (int, error) {
	n := 0
	for {
		postings, err := l.unfolded(ctx, a, MaxItems-1)
		if err != nil || len(postings) == 0 {
			return n, err
		}
		s, err := sum(postings)
		if err != nil {
			return n, err
		}
		tx := &Tx{}
		if a.outside {
			tx.add(outsideUpdate(a, s, l.clock.Now()), op{})
		} else {
			// Postings only add to a user's account; an escrow's may be
			// negative (payouts), and never take it below zero.
			c := change{a: a, balance: s, available: s}
			if s < 0 {
				c.need = -s
			}
			item, o := c.item()
			tx.add(item, o)
		}
		tx.foldItems(postings)
		if err := l.Commit(ctx, tx); err != nil {
			return n, err
		}
		n += len(postings)
		if len(postings) < MaxItems-1 {
			return n, nil
		}
	}
}

// FoldRun is what one fold pass did.
type FoldRun struct {
	Seen, Accounts, Postings, Failed int
	Done                             bool
	Errs                             []error
}

// FoldPostings is the fold job: every account with postings due is folded
// (each once per pass). Its passes are time-budgeted; the next resumes.
func (l *Ledger) FoldPostings(ctx context.Context, budget time.Duration) (FoldRun, error) {
	run := FoldRun{Done: true}
	started := time.Now()
	done := map[string]bool{}
	for shard := 0; shard < FoldShards; shard++ {
		left := budget - time.Since(started)
		if budget > 0 && left <= 0 {
			run.Done = false
			break
		}
		due, err := l.table.ForEachDue(ctx, ddb.DueWork{Kind: foldKind(shard), Until: l.clock.Now(), Budget: left}, func(ctx context.Context, item ddb.Item) error {
			d := ddb.Decode(item)
			a := AccountRef{Owner: d.S("owner"), ID: d.MustS("accountId"), outside: d.Bool("outside")}
			if err := d.Err(); err != nil {
				return err
			}
			if done[a.ID] {
				return nil
			}
			done[a.ID] = true
			n, err := l.FoldAccount(ctx, a)
			run.Postings += n
			if n > 0 {
				run.Accounts++
			}
			if errors.Is(err, errFoldRace) {
				return nil // the owner folded them first
			}
			return err
		})
		run.Seen += due.Seen
		run.Failed += due.Failed
		run.Errs = append(run.Errs, due.Errs...)
		run.Done = run.Done && due.Done
		if err != nil {
			return run, err
		}
	}
	return run, nil
}

// Err joins the pass's errors (nil if none).
func (r FoldRun) Err() error {
	if r.Failed == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d failed: %w", r.Failed, r.Seen, errors.Join(r.Errs...))
}

func isPosting(pk string) bool { return strings.HasPrefix(pk, pkPosting) }
