package ledger

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/kernel/ddb"
)

// MaxItems is DynamoDB's limit of items in one transaction.
const MaxItems = 100

// Tx collects the items of one TransactWriteItems. Each conditional item
// brings its own reading of a failed condition (OnFail), so cancellation
// reasons are classified in one place (Commit) without guessing.
type Tx struct {
	items []types.TransactWriteItem
	ops   []op
	err   error // a mistake found while building; Commit returns it
	// verify: accounts that must exist (of a kind), checked by Commit
	// without putting their items into the transaction.
	verify []verification
	// changes: the account updates that spend (a refusal for funds folds
	// the account's postings into them and tries again).
	changes []indexedChange
	// sharded: credit items whose partition key depends on the credited
	// account's shard count, known once Commit has verified it.
	sharded []shardable
	// base is the transaction before postings were folded into item
	// foldedAt (nil if none were).
	base      *Tx
	foldedAt  int
	foldedAll bool
	// foldOnly: a fold worker's own transaction (foldOnce), refused for
	// good when another folder took one of its postings first.
	foldOnly bool
}

type indexedChange struct {
	index int
	c     change
}

// OnFail turns a failed condition into an error; old is the item as it was
// (nil if it did not exist), returned by DynamoDB with the cancellation.
type OnFail func(old ddb.Item) error

type op struct {
	onFail OnFail
	// idempotency marks the idempotency record: its failure (a replay)
	// wins over every other failure, and a conflict on it means "in flight".
	idempotency bool
}

// Len is the number of items.
func (tx *Tx) Len() int { return len(tx.items) }

// Err is the first building mistake, if any.
func (tx *Tx) Err() error { return tx.err }

// Fail records a building mistake; Commit returns it without writing.
func (tx *Tx) Fail(err error) {
	if tx.err == nil {
		tx.err = err
	}
}

func (tx *Tx) add(item types.TransactWriteItem, o op) {
	tx.items = append(tx.items, askOld(item))
	tx.ops = append(tx.ops, o)
}

// askOld asks for the old item on failure: it tells "missing" from "too
// low" without another round trip.
func askOld(item types.TransactWriteItem) types.TransactWriteItem {
	switch {
	case item.Update != nil && item.Update.ConditionExpression != nil:
		item.Update.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	case item.Put != nil && item.Put.ConditionExpression != nil:
		item.Put.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	case item.ConditionCheck != nil:
		item.ConditionCheck.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	case item.Delete != nil && item.Delete.ConditionExpression != nil:
		item.Delete.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	}
	return item
}

// Cond is a condition with its values and names.
type Cond struct {
	Expr   string
	Values ddb.Item
	Names  map[string]string
}

// Put adds a capability's item, written if cond holds (cond.Expr "" for none).
func (tx *Tx) Put(item ddb.Item, cond Cond, onFail OnFail) {
	if tx.guard(item) {
		return
	}
	tx.add(types.TransactWriteItem{Put: &types.Put{Item: item, ConditionExpression: expr(cond.Expr),
		ExpressionAttributeValues: values(cond.Values), ExpressionAttributeNames: names(cond.Names)}}, op{onFail: onFail})
}

// Update adds an update of a capability's item. update's values and names
// and cond's are merged (one namespace).
func (tx *Tx) Update(key ddb.Item, update string, cond Cond, onFail OnFail) {
	if tx.guard(key) {
		return
	}
	tx.add(types.TransactWriteItem{Update: &types.Update{Key: key, UpdateExpression: aws.String(update),
		ConditionExpression: expr(cond.Expr), ExpressionAttributeValues: values(cond.Values),
		ExpressionAttributeNames: names(cond.Names)}}, op{onFail: onFail})
}

// Check adds a ConditionCheck of a capability's item.
func (tx *Tx) Check(key ddb.Item, cond Cond, onFail OnFail) {
	if tx.guard(key) {
		return
	}
	tx.add(types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{Key: key, ConditionExpression: aws.String(cond.Expr),
		ExpressionAttributeValues: values(cond.Values), ExpressionAttributeNames: names(cond.Names)}}, op{onFail: onFail})
}

// Delete adds a delete of a capability's item (cond.Expr "" for none).
func (tx *Tx) Delete(key ddb.Item, cond Cond, onFail OnFail) {
	if tx.guard(key) {
		return
	}
	tx.add(types.TransactWriteItem{Delete: &types.Delete{Key: key, ConditionExpression: expr(cond.Expr),
		ExpressionAttributeValues: values(cond.Values), ExpressionAttributeNames: names(cond.Names)}}, op{onFail: onFail})
}

// guard keeps capabilities away from the kernel's items: accounts,
// holds, history entries and idempotency records are written only here.
func (tx *Tx) guard(key ddb.Item) bool {
	pk, sk := keyString(key, ddb.AttrPK), keyString(key, ddb.AttrSK)
	if strings.HasPrefix(sk, skAccountPrefix) || strings.HasPrefix(pk, pkHold) || strings.HasPrefix(pk, pkHistory) || strings.HasPrefix(pk, pkIdem) {
		tx.Fail(fmt.Errorf("ledger: %s/%s is the kernel's item; use the ledger's primitives", pk, sk))
		return true
	}
	return false
}

func keyString(item ddb.Item, name string) string {
	if s, ok := item[name].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func expr(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func values(v ddb.Item) map[string]types.AttributeValue {
	if len(v) == 0 {
		return nil
	}
	return v
}

func names(n map[string]string) map[string]string {
	if len(n) == 0 {
		return nil
	}
	return n
}

// Commit runs the transaction: ONE TransactWriteItems. TransactionConflict,
// TransactionInProgress and throttling are retried a bounded number of
// times with jittered backoff and the same ClientRequestToken, so a retry of
// a commit that did happen is not applied twice. A failed condition becomes
// its item's error. A transaction that keeps conflicting ends in Busy() (or
// ErrIdemInFlight when the conflict was on the idempotency record).
func (l *Ledger) Commit(ctx context.Context, tx *Tx) error {
	if tx.err != nil {
		return tx.err
	}
	if len(tx.items) == 0 {
		return nil
	}
	if len(tx.items) > MaxItems {
		return fmt.Errorf("ledger: %d items in one transaction (at most %d)", len(tx.items), MaxItems)
	}
	if err := l.verifyAccounts(ctx, tx.verify); err != nil {
		return err
	}
	l.shard(tx)
	in := l.Input(tx)
	var conflictOnIdem bool
	folds := 0
	for attempt := 1; ; attempt++ {
		_, err := l.table.Client.TransactWriteItems(ctx, in)
		if err == nil {
			return nil
		}
		retry, onIdem, refusal, failed := classify(tx, err)
		if refusal != nil {
			// The refused item as it is now: if it is an account, its
			// shard count is news (a promotion) the fold below must see.
			l.learnRefused(err, failed)
			// Spendable money includes unfolded postings: a spend refused
			// for funds folds them in and tries again (bounded).
			if folds < maxFolds {
				folded, ferr := l.withFold(ctx, tx, failed, refusal)
				if ferr != nil {
					return ferr
				}
				if folded != nil {
					folds++
					tx, in = folded, l.Input(folded)
					continue
				}
			}
			return refusal
		}
		if !retry {
			return fmt.Errorf("ledger: transact write: %w", err)
		}
		conflictOnIdem = onIdem
		if attempt >= l.policy.maxAttempts {
			break
		}
		if err := l.backoff(ctx, attempt); err != nil {
			return err
		}
	}
	if conflictOnIdem {
		return ErrIdemInFlight.With("a request with this Idempotency-Key is still in progress")
	}
	return Busy()
}

// Input is the TransactWriteItemsInput Commit sends, with a new request
// token (benchmarks send it bare, as the floor our overhead is measured on).
func (l *Ledger) Input(tx *Tx) *dynamodb.TransactWriteItemsInput {
	in := &dynamodb.TransactWriteItemsInput{
		TransactItems:      tx.items,
		ClientRequestToken: aws.String(ddb.RandomString(32)),
	}
	for _, it := range in.TransactItems {
		switch {
		case it.Put != nil:
			it.Put.TableName = aws.String(l.table.Name)
		case it.Update != nil:
			it.Update.TableName = aws.String(l.table.Name)
		case it.Delete != nil:
			it.Delete.TableName = aws.String(l.table.Name)
		case it.ConditionCheck != nil:
			it.ConditionCheck.TableName = aws.String(l.table.Name)
		}
	}
	return in
}

// classify reads a TransactWriteItems error: retry it, or a refusal (an
// item's OnFail result), or neither (an unexpected failure: a 500).
func classify(tx *Tx, err error) (retry, conflictOnIdem bool, refusal error, failed int) {
	failed = -1
	var canceled *types.TransactionCanceledException
	if errors.As(err, &canceled) {
		var best error
		bestIsIdem := false
		for i, r := range canceled.CancellationReasons {
			code := aws.ToString(r.Code)
			switch code {
			case "", "None":
				continue
			case "ConditionalCheckFailed":
				if i >= len(tx.ops) || tx.ops[i].onFail == nil {
					return false, false, fmt.Errorf("ledger: unexpected condition failure on item %d", i), i
				}
				if best == nil || (tx.ops[i].idempotency && !bestIsIdem) {
					best = tx.ops[i].onFail(r.Item)
					bestIsIdem = tx.ops[i].idempotency
					failed = i
				}
			case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded":
				retry = true
				if i < len(tx.ops) && tx.ops[i].idempotency && code == "TransactionConflict" {
					conflictOnIdem = true
				}
			default:
				return false, false, nil, -1 // ValidationError, ItemCollectionSizeLimitExceeded...: a bug, not retryable
			}
		}
		if best != nil {
			return false, false, best, failed
		}
		return retry, conflictOnIdem, nil, -1
	}
	return Retryable(err), false, nil, -1
}

// Retryable reports whether err is DynamoDB refusing a call that did
// nothing and may succeed later: a conflict with a transaction in flight,
// or Throttled. A capability's own single write (sprinkle's ticket) asks
// this rather than reading the SDK's exceptions itself.
func Retryable(err error) bool {
	var inProgress *types.TransactionInProgressException
	var conflict *types.TransactionConflictException
	return errors.As(err, &inProgress) || errors.As(err, &conflict) || Throttled(err)
}

// Throttled reports whether err is DynamoDB refusing a call for capacity
// (a partition's or the account's): retry later, nothing was done. A read
// throttled this way is answered 503 with Retry-After, like a throttled
// movement (httpapi.ProblemOf).
func Throttled(err error) bool {
	var throttled *types.ProvisionedThroughputExceededException
	var limit *types.RequestLimitExceeded
	var throttling *types.ThrottlingException
	return errors.As(err, &throttled) || errors.As(err, &limit) || errors.As(err, &throttling)
}

// Backoff sleeps before the next try of a call that was Retryable, by the
// ledger's retry policy (tests shorten it with SetRetryPolicy).
func (l *Ledger) Backoff(ctx context.Context, attempt int) error { return l.backoff(ctx, attempt) }

// backoff sleeps base*2^(attempt-1), capped at 500 ms, with full jitter.
func (l *Ledger) backoff(ctx context.Context, attempt int) error {
	d := min(l.policy.baseBackoff<<(attempt-1), 500*time.Millisecond)
	t := time.NewTimer(time.Duration(rand.Int64N(int64(d)) + 1))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// learnRefused remembers the account item a cancelled transaction returned
// for its failed item, if it is one.
func (l *Ledger) learnRefused(err error, failed int) {
	var canceled *types.TransactionCanceledException
	if failed < 0 || !errors.As(err, &canceled) || failed >= len(canceled.CancellationReasons) {
		return
	}
	item := canceled.CancellationReasons[failed].Item
	if !strings.HasPrefix(keyString(item, ddb.AttrSK), skAccountPrefix) || keyString(item, "accountId") == "" {
		return
	}
	d := ddb.Decode(item)
	l.learn(AccountRef{Owner: d.S("owner"), ID: d.S("accountId"), outside: Kind(d.S("kind")) == KindOutside}, item)
}
