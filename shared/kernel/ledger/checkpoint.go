package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/kernel/ddb"
)

// History checkpoints. TTL deletes entries a year old, so "balance = sum of
// its entries" cannot hold for an account older than a year. Each account
// therefore carries a checkpoint: ckBalance is the sum of its entries older
// than ckAsOf (a time prefix; "" = from the beginning), and the audit checks
// balance = ckBalance + the entries since. RollCheckpoints (a daily job)
// folds the entries of each due account into its checkpoint, long before
// they expire: every account is due CheckpointEvery after its last roll.

const (
	attrCkBalance = "ckBalance"
	attrCkAsOf    = "ckAsOf"
)

// dueCheckpoint spreads the accounts' checkpoint entries over 16 due-index
// partitions (a roll moves an entry: two index writes), by a hash of the
// account id. The index projects none of an account's changing
// attributes, so balance writes leave the entry alone.
var dueCheckpoint = ddb.DueKind{Name: "checkpoint", Shards: 16}

// CheckpointEvery is how often an account's checkpoint rolls forward: well
// inside the year its entries live, so a few missed runs lose nothing.
const CheckpointEvery = 120 * 24 * time.Hour

// CheckpointLag keeps the newest entries out of a roll: an entry is
// written with its writer's clock (and may commit after retries), so only
// entries older than this are certain to be final.
const CheckpointLag = 24 * time.Hour

type checkpoint struct {
	balance int64
	asOf    string // TimePrefix; "" = the beginning
}

func setCheckpointDue(item ddb.Item, id string, at time.Time) {
	item[attrCkBalance] = ddb.N(0)
	dueCheckpoint.Set(item, at.Add(CheckpointEvery), id)
}

// CheckpointRun is what one RollCheckpoints pass did.
type CheckpointRun struct {
	ddb.DueRun
	Rolled  int // checkpoints moved forward
	Entries int // entries folded in
}

// RollCheckpoints moves every due account's checkpoint to CheckpointLag
// before now: one paged Query of the entries since its checkpoint, then one
// conditional update (checkpoint unchanged since it was read), which also
// sets its next due time. A pass stops within budget; the next resumes.
// Running it twice rolls nothing twice.
func (l *Ledger) RollCheckpoints(ctx context.Context, budget time.Duration) (CheckpointRun, error) {
	now := l.clock.Now()
	asOf := ddb.TimePrefix(now.Add(-CheckpointLag))
	var run CheckpointRun
	due, err := l.table.ForEachDue(ctx, ddb.DueWork{Kinds: dueCheckpoint.Kinds(), Until: now, Budget: budget, Fetch: true}, func(ctx context.Context, item ddb.Item) error {
		a, err := accountFromItem(item)
		if err != nil {
			return err
		}
		if a.checkpoint.asOf >= asOf { // the index lags: rolled already
			return nil
		}
		sum, n, err := l.sumEntries(ctx, a.ID, a.checkpoint.asOf, asOf)
		if err != nil {
			return err
		}
		cond := Cond{Expr: "ckAsOf = :old", Values: ddb.Item{":old": ddb.S(a.checkpoint.asOf)}}
		if a.checkpoint.asOf == "" {
			cond = Cond{Expr: "attribute_exists(PK) AND attribute_not_exists(ckAsOf)"}
		}
		cond.Values = ddb.Merge(cond.Values, ddb.Item{":b": ddb.N(a.checkpoint.balance + sum), ":asof": ddb.S(asOf),
			":due": ddb.S(ddb.DueAt(now.Add(CheckpointEvery), a.ID))})
		tx := &Tx{}
		tx.add(types.TransactWriteItem{Update: &types.Update{
			Key:                       a.Ref().Key(),
			UpdateExpression:          aws.String("SET ckBalance = :b, ckAsOf = :asof, dueAt = :due"),
			ConditionExpression:       aws.String(cond.Expr),
			ExpressionAttributeValues: cond.Values,
		}}, op{onFail: func(ddb.Item) error { return errRolled }})
		switch err := l.Commit(ctx, tx); err {
		case nil:
			run.Rolled++
			run.Entries += n
			return nil
		case errRolled: // another pass got there first
			return nil
		default:
			return fmt.Errorf("ledger: checkpoint %s: %w", a.ID, err)
		}
	})
	run.DueRun = due
	return run, err
}

var errRolled = fmt.Errorf("ledger: checkpoint already rolled")

// sumEntries sums an account's entries with ids in [from, to) (time
// prefixes), over every shard an account may have (MaxShards Queries: a
// roll is rare, and needs no knowledge of the account's shard count).
func (l *Ledger) sumEntries(ctx context.Context, accountID, from, to string) (sum int64, n int, err error) {
	for shard := 0; shard < MaxShards && err == nil; shard++ {
		var s int64
		var c int
		s, c, err = l.sumShardEntries(ctx, ddb.ShardKey(pkHistory+accountID, shard), from, to)
		sum, n = sum+s, n+c
	}
	return sum, n, err
}

func (l *Ledger) sumShardEntries(ctx context.Context, partition, from, to string) (sum int64, n int, err error) {
	return sumAmounts(ctx, l.table, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk AND SK BETWEEN :lo AND :hi"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(partition), ":lo": ddb.S(skEntryPrefix + from), ":hi": ddb.S(skEntryPrefix + to)},
		ProjectionExpression:      aws.String("PK, SK, amount"),
		ConsistentRead:            aws.Bool(true),
	})
}
