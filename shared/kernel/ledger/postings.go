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
//	item     PK                      SK                    notes
//	posting  POSTING#<group>[#<n>]   <account>#<movement>  accountId, amount (signed), movementId, at;
//	                                                       due DUE#fold#<shard> until folded
//
// group is the owner's user id (all of a user's postings in one partition:
// one Query lists them for GET /accounts) or, for a system account, its id.
// A credited user account must exist, of its kind: Commit checks that with
// one strongly consistent read per account, once per process (accounts are
// never deleted and never change kind), instead of a condition on the
// receiver's item.
//
// A high-volume receiver (an account opened with Shards > 1, e.g. a store's
// merchant account, or a user's account the fold job promoted) spreads its
// credits over shards partition keys: the
// posting and the credit's history entry of movement m go to shard n =
// hash(m) mod shards (shard 0 is the unsharded key, n > 0 the key + "#<n>";
// see ddb.ShardKey), and the posting's fold due entry to fold shard
// (hash(account) + n) mod FoldShards, so neither the table nor the due index
// has one partition taking all of one receiver's credits. A partition takes
// 1,000 WCU/s and a transactional item of up to 1 KB costs 2 WCU; a credit
// costs its posting partition 4 (the put, and the fold's delete) and its
// history partition 2, so one partition takes about 250 credits/s and
// MaxShards = 16 about 4,000 (3,200 at 80 % of the limit: make capacity's
// mix c). Only the credit side is sharded; a debit's entry stays on shard 0
// (debits of one account serialize on its item anyway). Readers of one
// account (GetAccount, ListEntries, the fold) read all its shards.
//
// Promotion. A user's main account starts on one shard, so its reads stay
// one Query. The fold job promotes it (foldAccount): a run that folds
// PromoteAfter of its postings sets the item's shards to MaxShards in the
// same update that folds them, which bumps rev like every fold; the count
// never goes down. Why that is safe:
//   - writers take the count from the account item read by the existence
//     check, remembered per process (known): MaxShards for good, a lower
//     count for KnownFresh only. A stale 1 writes shard 0, which is one of
//     the promoted account's shards, so nothing is misplaced;
//   - a reader (getAccount, ListAccounts) lists the shards of the item it
//     read, never a remembered count, and reads the item again after the
//     postings. A posting on a shard n > 0 is written only by a writer that
//     read the promoted item, so after the promotion committed; if the
//     reader's first item had one shard, the promotion committed after
//     that read and before the posting, so the second read sees a new rev
//     and the reader starts again from the promoted item, over every shard
//     (TestAReadThatSawOneShardMissesNoPostingOfAPromotion);
//   - a fold with a stale count folds shard 0 only, and correctly; the
//     other shards' postings stay due and a later pass folds them;
//   - a spend refused for funds learns the count from the item the refusal
//     returns before it folds, so it folds every shard.
// History needs no snapshot: a page merges the shards the account item
// lists (ListEntries; cursors are sort keys, the same for any shard count).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/kernel/ddb"
)

const (
	pkPosting  = "POSTING#"
	attrShards = "shards"
	// MaxShards bounds an account's Shards.
	MaxShards = 16
	// FoldShards spreads the postings' due entries over this many index
	// partitions, so the due index is no hot spot either.
	FoldShards = 32
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

func foldShard(id string) int { return ddb.HashShard(id, FoldShards) }

// shardOf is the shard of movement mid among shards.
func shardOf(mid string, shards int) int { return ddb.HashShard(mid, shards) }

// postingPartition is shard n of a's postings.
func postingPartition(a AccountRef, n int) string {
	return ddb.ShardKey(pkPosting+postingGroup(a), n)
}

// shardable is an item of a credit whose partition key Commit chooses once
// it knows the account's shard count (a posting, or its history entry).
type shardable struct {
	index int
	a     AccountRef
	mid   string
	at    time.Time
	entry bool
	dir   int64 // an entry's amount (its direction)
}

// shard moves the credit items of verified sharded accounts to their
// shards. Idempotent: each key is computed from the account and movement.
func (l *Ledger) shard(tx *Tx) {
	verified := map[string]bool{}
	for _, v := range tx.verify {
		verified[knownKey(v.a)] = true
	}
	for _, s := range tx.sharded {
		if !verified[knownKey(s.a)] {
			continue
		}
		k, _ := l.knownGet(knownKey(s.a))
		n := shardOf(s.mid, k.shards)
		if n == 0 {
			continue
		}
		put := tx.items[s.index].Put
		item := make(ddb.Item, len(put.Item))
		for k, v := range put.Item {
			item[k] = v
		}
		if s.entry {
			item[ddb.AttrPK] = ddb.S(ddb.ShardKey(pkHistory+s.a.ID, n))
			if _, ok := item[ddb.AttrDirKey]; ok {
				item[ddb.AttrDirKey] = ddb.S(dirKeyShard(s.a.ID, n, s.dir))
			}
		} else {
			item[ddb.AttrPK] = ddb.S(postingPartition(s.a, n))
			ddb.SetDue(item, foldKind((foldShard(s.a.ID)+n)%FoldShards), s.at, s.a.ID)
		}
		p := *put
		p.Item = item
		tx.items[s.index] = types.TransactWriteItem{Put: &p}
	}
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
	tx.sharded = append(tx.sharded, shardable{index: len(tx.items) - 1, a: a, mid: mid, at: at})
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
// change kind, and their shard count only ever rises (a fold promotes a
// high-volume receiver to MaxShards, never back). So a remembered kind is
// true for ever, and a remembered shard count of MaxShards too; a lower
// count is trusted for fresh only (then read again), so that a writer
// learns of a promotion within fresh. Until then it writes to shard 0,
// which stays valid: shard 0 is one of the promoted account's shards.
// Bounded: when full it starts afresh.
type known struct {
	mu    sync.Mutex
	kinds map[string]knownAccount
}

type knownAccount struct {
	kind   Kind
	shards int
	at     time.Time // when read (wall time: this is a cache, not business time)
}

const knownMax = 100_000

// KnownFresh is how long a process trusts an account's shard count below
// MaxShards before it reads the account again (one GetItem per account,
// process and minute): how soon writers follow a promotion.
const KnownFresh = time.Minute

// get is what the process knows of the account; ok is false when it knows
// nothing or its shard count may be stale (ka is then what it last knew).
func (k *known) get(id string, fresh time.Duration) (ka knownAccount, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ka, ok = k.kinds[id]
	if ok && ka.shards < MaxShards && time.Since(ka.at) > fresh {
		ok = false
	}
	return ka, ok
}

func (k *known) put(id string, ka knownAccount) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.kinds == nil || len(k.kinds) >= knownMax {
		k.kinds = map[string]knownAccount{}
	}
	k.kinds[id] = ka
}

func knownFromItem(item ddb.Item) knownAccount {
	d := ddb.Decode(item)
	return knownAccount{kind: Kind(d.S("kind")), shards: max(1, int(d.N(attrShards))), at: time.Now()}
}

func (l *Ledger) knownGet(id string) (knownAccount, bool) {
	return l.known.get(id, l.policy.knownFresh)
}

// learn remembers the account item's facts (an item just read, or the
// item a refused transaction returned).
func (l *Ledger) learn(a AccountRef, item ddb.Item) {
	if len(item) > 0 {
		l.known.put(knownKey(a), knownFromItem(item))
	}
}

// shardsOf is a's shard count: from the process's memory, or one read.
func (l *Ledger) shardsOf(ctx context.Context, a AccountRef) (int, error) {
	if ka, ok := l.knownGet(knownKey(a)); ok {
		return ka.shards, nil
	}
	item, err := l.table.Get(ctx, a.Key())
	if err != nil || item == nil {
		return 1, err
	}
	ka := knownFromItem(item)
	l.known.put(knownKey(a), ka)
	return ka.shards, nil
}

// verifyAccounts checks that each account exists (of its kind): from the
// process's memory, or with one consistent read (in parallel).
func (l *Ledger) verifyAccounts(ctx context.Context, vs []verification) error {
	type result struct {
		i   int
		ka  knownAccount
		err error
	}
	var unread []int
	for i, v := range vs {
		if _, ok := l.knownGet(knownKey(v.a)); !ok {
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
					ch <- result{i, knownAccount{}, err}
				case item == nil:
					ch <- result{i, knownAccount{}, missingOrKind(vs[i].a, vs[i].kind)(nil)}
				default:
					ch <- result{i, knownFromItem(item), nil}
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
			l.known.put(knownKey(vs[r.i].a), r.ka)
		}
		if firstErr != nil {
			return firstErr
		}
	}
	for _, v := range vs {
		if ka, _ := l.knownGet(knownKey(v.a)); v.kind != "" && ka.kind != v.kind {
			return &WrongKindError{Account: v.a.ID, Kind: ka.kind, Want: v.kind}
		}
	}
	return nil
}

// ---- reading postings ----

// unfolded lists an account's postings not folded yet, in all its shards
// (at most max; 0: all).
func (l *Ledger) unfolded(ctx context.Context, a AccountRef, max int) ([]ddb.Item, error) {
	shards, err := l.shardsOf(ctx, a)
	if err != nil {
		return nil, err
	}
	return l.unfoldedShards(ctx, a, 0, shards, max)
}

// unfoldedShards lists a's unfolded postings in shards [from, to): with a
// max, shard after shard until max; without, every shard at once.
func (l *Ledger) unfoldedShards(ctx context.Context, a AccountRef, from, to, max int) ([]ddb.Item, error) {
	var items []ddb.Item
	if max > 0 {
		for n := from; n < to && len(items) < max; n++ {
			var err error
			if items, err = l.unfoldedShard(ctx, a, n, items, max); err != nil {
				return nil, err
			}
		}
		return items, nil
	}
	per := make([][]ddb.Item, to-from)
	errs := make([]error, to-from)
	var wg sync.WaitGroup
	for n := from; n < to; n++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			per[n-from], errs[n-from] = l.unfoldedShard(ctx, a, n, nil, 0)
		}()
	}
	wg.Wait()
	for i := range per {
		if errs[i] != nil {
			return nil, errs[i]
		}
		items = append(items, per[i]...)
	}
	return items, nil
}

// unfoldedShard appends a's unfolded postings in shard n to items, until
// items holds max (0: all of them).
func (l *Ledger) unfoldedShard(ctx context.Context, a AccountRef, n int, items []ddb.Item, max int) ([]ddb.Item, error) {
	q := l.table.Query(&dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :sk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(postingPartition(a, n)), ":sk": ddb.S(a.ID + "#")},
		ConsistentRead:            aws.Bool(true),
	})
	for (max <= 0 || len(items) < max) && q.Next(ctx) {
		items = append(items, q.Item())
	}
	return items, q.Err()
}

// unfoldedSums adds the unfolded postings of shard n of the group per account.
func (l *Ledger) unfoldedSums(ctx context.Context, group string, n int) (map[string]int64, error) {
	sums := map[string]int64{}
	q := l.table.Query(&dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(ddb.ShardKey(pkPosting+group, n))},
		ProjectionExpression:      aws.String("accountId, amount"),
		ConsistentRead:            aws.Bool(true),
	})
	for q.Next(ctx) {
		d := ddb.Decode(q.Item())
		sums[d.MustS("accountId")] += d.MustN("amount")
		if err := d.Err(); err != nil {
			return sums, err
		}
	}
	return sums, q.Err()
}

// ---- folding ----

// errFoldRace: a posting being folded was folded by someone else first.
var errFoldRace = errors.New("ledger: a posting was folded meanwhile")

func (e *Tx) clone() *Tx {
	c := *e
	c.items = append([]types.TransactWriteItem(nil), e.items...)
	c.ops = append([]op(nil), e.ops...)
	c.changes = append([]indexedChange(nil), e.changes...)
	c.sharded = append([]shardable(nil), e.sharded...)
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

// sumAmounts adds up the amount of every item the query reads, and counts
// them: the audit's sum of an account's postings and a checkpoint's sum of
// its entries.
func sumAmounts(ctx context.Context, t *ddb.Table, in *dynamodb.QueryInput) (sum int64, n int, err error) {
	q := t.Query(in)
	for q.Next(ctx) {
		d := ddb.Decode(q.Item())
		sum += d.MustN("amount")
		n++
		if err := d.Err(); err != nil {
			return sum, n, err
		}
	}
	return sum, n, q.Err()
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
		if tx.foldOnly {
			// A fold's own transaction: its postings are gone for good
			// (folded by someone else), so trying it again is useless.
			return nil, nil
		}
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
		l.learn(c.a, item)
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

// FoldAccount folds an account's unfolded postings (all its shards) into
// its balance: one transaction per up to MaxItems-1 postings (their deletes
// and ONE update of the account), until none are left. It returns how many
// it folded.
func (l *Ledger) FoldAccount(ctx context.Context, a AccountRef) (int, error) {
	n, _, _, err := l.foldAccount(ctx, a, 0)
	return n, err
}

// PromoteAfter: a fold run that folds this many postings of one user's
// account promotes it to a high-volume receiver (MaxShards). The fold job
// runs every minute, so that is about 17 credits/s sustained over a
// minute: a twelfth of the 200 credits/s one posting partition takes at 80
// % of its limit (a credit costs it 4 WCU: the put and the fold's delete),
// so a receiver whose rate climbs is promoted long before its partition
// throttles; an ordinary user (a few credits a day) never gets near it, and
// keeps the one-partition reads. It is below FoldPerAccount, so a pass that
// stops at its bound promotes too.
const PromoteAfter = 1_000

// foldAccount is FoldAccount stopping after limit postings (0: none); more
// reports that it stopped with postings left. A run that folds
// promoteAfter postings of a user's account promotes it: the fold
// transaction that reaches the count also sets the item's shards to
// MaxShards (never lower: it is only ever set to the maximum) and, like
// every fold, bumps its rev. That is what keeps reads exact: a read that
// saw the item before the promotion listed fewer shards, but a posting on
// a new shard is written only by a writer that read the promoted item, so
// after the promotion committed, so the read's second look at the item
// sees a new rev and it reads again, over every shard.
func (l *Ledger) foldAccount(ctx context.Context, a AccountRef, limit int) (n int, more, promoted bool, err error) {
	for {
		if limit > 0 && n >= limit {
			return n, true, promoted, nil
		}
		shards, err := l.shardsOf(ctx, a)
		if err != nil {
			return n, false, promoted, err
		}
		postings, err := l.unfoldedShards(ctx, a, 0, shards, MaxItems-1)
		if err != nil || len(postings) == 0 {
			return n, false, promoted, err
		}
		promote := l.promotes(a, shards, n+len(postings))
		if err := l.foldOnce(ctx, a, postings, promote, false); err != nil {
			return n, false, promoted, err
		}
		promoted = promoted || promote
		n += len(postings)
		if len(postings) < MaxItems-1 {
			return n, false, promoted, nil
		}
	}
}

// promotes: a fold that brings a run's count of a's postings to folded
// promotes a (a user's account on fewer than MaxShards).
func (l *Ledger) promotes(a AccountRef, shards, folded int) bool {
	return !a.System() && shards < MaxShards && l.policy.promoteAfter > 0 && folded >= l.policy.promoteAfter
}

// foldOnce folds postings (at most MaxItems-1 of a's, read unfolded) into
// a's balance: ONE transaction of their deletes, each conditioned on the
// posting still existing, and one update of the account (ADD their sum;
// an escrow's never below zero). So each posting is folded exactly once,
// whoever else folds a at the same time: a posting folded meanwhile
// cancels the whole transaction (errFoldRace) and nothing moves. promote
// also sets the account's shards to MaxShards. final: a race refuses the
// transaction at once (the fold worker reads again); otherwise Commit
// tries it again as built, as the fold job always has.
func (l *Ledger) foldOnce(ctx context.Context, a AccountRef, postings []ddb.Item, promote, final bool) error {
	s, err := sum(postings)
	if err != nil {
		return err
	}
	tx := &Tx{foldOnly: final}
	if a.outside {
		tx.add(outsideUpdate(a, s, l.clock.Now()), op{})
	} else {
		// Postings only add to a user's account; an escrow's may be
		// negative (payouts), and never take it below zero.
		c := change{a: a, balance: s, available: s, promote: promote}
		if s < 0 {
			c.need = -s
		}
		item, o := c.item()
		tx.add(item, o)
	}
	tx.foldItems(postings)
	if err := l.Commit(ctx, tx); err != nil {
		return err
	}
	if promote {
		ka, _ := l.knownGet(knownKey(a))
		ka.shards, ka.at = MaxShards, time.Now()
		l.known.put(knownKey(a), ka)
	}
	return nil
}

// FoldRun is what one fold pass did.
type FoldRun struct {
	Seen, Accounts, Postings, Failed int
	// Bounded counts the accounts left with postings because they reached
	// their bound in this pass (the next pass goes on).
	Bounded int
	// Promoted counts the accounts this pass promoted to MaxShards.
	Promoted int
	// Hot are the Bounded accounts: the fold job hands each to the fold
	// worker (FoldHot), which folds it continuously until it is caught up.
	Hot  []FoldWork
	Done bool
	Errs []error
}

// FoldPerAccount bounds the postings one pass folds per account (20
// transactions) per shard of the account, so one receiver's backlog cannot
// take a pass: the rest stay due and the next pass (a minute later) goes
// on. A promoted receiver (MaxShards) may take MaxShards times as many,
// still within the pass's time budget: it is credited that much faster.
const FoldPerAccount = 20 * (MaxItems - 1)

// FoldPostings is the fold job: every account with postings due is folded
// (each at most once per pass, at most FoldPerAccount postings). The due
// index's fold shards are read at once, one goroutine per shard, each with
// the whole budget of its own, so a busy shard does not starve the others;
// an account whose postings are due in several shards (a sharded receiver)
// is folded by the first shard that meets it. Its passes are
// time-budgeted; the next resumes. Under SetFoldParallel(n) n goroutines
// take the shards in turn, from a shard that moves on every minute, each
// with what is left of the budget: a shard none reached is left due, and a
// later minute starts there.
func (l *Ledger) FoldPostings(ctx context.Context, budget time.Duration) (FoldRun, error) {
	now := l.clock.Now()
	started := time.Now()
	var mu sync.Mutex
	claimed := map[string]bool{}
	runs := make([]FoldRun, FoldShards)
	errs := make([]error, FoldShards)
	work := func(shard int, budget time.Duration) {
		run := &runs[shard]
		due, err := l.table.ForEachDue(ctx, ddb.DueWork{Kind: foldKind(shard), Until: now, Budget: budget}, func(ctx context.Context, item ddb.Item) error {
			d := ddb.Decode(item)
			a := AccountRef{Owner: d.S("owner"), ID: d.MustS("accountId"), outside: d.Bool("outside")}
			if err := d.Err(); err != nil {
				return err
			}
			mu.Lock()
			mine := !claimed[knownKey(a)]
			claimed[knownKey(a)] = true
			mu.Unlock()
			if !mine {
				return nil
			}
			shards, err := l.shardsOf(ctx, a)
			if err != nil {
				return err
			}
			n, more, promoted, err := l.foldAccount(ctx, a, l.policy.foldPerAccount*shards)
			run.Postings += n
			if promoted {
				run.Promoted++
			}
			if n > 0 {
				run.Accounts++
			}
			if more {
				run.Bounded++
				run.Hot = append(run.Hot, foldWorkOf(a))
			}
			if errors.Is(err, errFoldRace) {
				return nil // the owner folded them first
			}
			return err
		})
		run.Seen, run.Failed, run.Errs, run.Done = due.Seen, due.Failed, due.Errs, due.Done
		errs[shard] = err
	}
	workers := l.policy.foldParallel
	if workers <= 0 || workers > FoldShards {
		workers = FoldShards
	}
	next := make(chan int, FoldShards)
	first := int(now.Unix()/60) % FoldShards
	for i := range FoldShards {
		next <- (first + i) % FoldShards
	}
	close(next)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for shard := range next {
				left := budget - time.Since(started)
				if left <= 0 {
					continue // left due (runs[shard].Done stays false)
				}
				work(shard, left)
			}
		}()
	}
	wg.Wait()
	run := FoldRun{Done: true}
	for _, r := range runs {
		run.Seen += r.Seen
		run.Accounts += r.Accounts
		run.Postings += r.Postings
		run.Failed += r.Failed
		run.Bounded += r.Bounded
		run.Promoted += r.Promoted
		run.Hot = append(run.Hot, r.Hot...)
		run.Errs = append(run.Errs, r.Errs...)
		run.Done = run.Done && r.Done && r.Bounded == 0
	}
	return run, errors.Join(errs...)
}

// Err joins the pass's errors (nil if none).
func (r FoldRun) Err() error {
	if r.Failed == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d failed: %w", r.Failed, r.Seen, errors.Join(r.Errs...))
}

func isPosting(pk string) bool { return strings.HasPrefix(pk, pkPosting) }
