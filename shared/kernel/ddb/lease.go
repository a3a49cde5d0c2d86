package ddb

// Leases: which chain of queue messages works on a thing (a hot account's
// fold, a due bucket's backlog) right now. A chain takes the lease at its
// first message and again at each continuation, each take bumping the
// generation it sends on, so a message delivered twice (SQS is at least
// once) or a second chain finds the lease held and does nothing. A lease
// lapses at its until (wall time), so a crashed holder blocks nobody for
// long. Leases are an optimization, never a money rule: the work they
// guard is conditional on its own state whoever does it.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Lease attributes.
const (
	attrLeaseHolder = "holder"
	attrLeaseGen    = "gen"
	attrLeaseUntil  = "until" // unix ms, wall time
)

// TakeLease takes the lease at key for holder, held for the next hold:
// gen 0 starts a chain and takes it only if nobody holds it (absent or
// lapsed); a continuation passes the generation its last take returned
// and takes it only if it is still its own (or lapsed). It returns the new
// generation; ok is false when another chain holds it.
func (t *Table) TakeLease(ctx context.Context, key Item, holder string, gen int64, hold time.Duration) (int64, bool, error) {
	now := time.Now()
	_, err := t.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(t.Name),
		Key:                      key,
		UpdateExpression:         aws.String("SET #h = :h, #g = :next, #u = :until, #ttl = :ttl"),
		ConditionExpression:      aws.String("attribute_not_exists(#u) OR #u < :now OR (#h = :h AND #g = :gen)"),
		ExpressionAttributeNames: map[string]string{"#h": attrLeaseHolder, "#g": attrLeaseGen, "#u": attrLeaseUntil, "#ttl": AttrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":h": S(holder), ":gen": N(gen), ":next": N(gen + 1),
			":now": N(now.UnixMilli()), ":until": N(now.Add(hold).UnixMilli()),
			":ttl": Epoch(now.Add(24 * time.Hour)),
		},
	})
	var held *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &held):
		return gen, false, nil
	case err != nil:
		return gen, false, fmt.Errorf("ddb: take lease: %w", err)
	}
	return gen + 1, true, nil
}

// ReleaseLease ends holder's lease at gen, if it still has it.
func (t *Table) ReleaseLease(ctx context.Context, key Item, holder string, gen int64) error {
	_, err := t.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(t.Name),
		Key:                       key,
		UpdateExpression:          aws.String("SET #u = :zero"),
		ConditionExpression:       aws.String("#h = :h AND #g = :gen"),
		ExpressionAttributeNames:  map[string]string{"#h": attrLeaseHolder, "#g": attrLeaseGen, "#u": attrLeaseUntil},
		ExpressionAttributeValues: map[string]types.AttributeValue{":h": S(holder), ":gen": N(gen), ":zero": N(0)},
	})
	var gone *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &gone) {
		return fmt.Errorf("ddb: release lease: %w", err)
	}
	return nil
}

// HeldLeases are the sort keys of the leases in partition pk that are held
// now (one Query: a group's leases share a partition, e.g. one job's
// buckets).
func (t *Table) HeldLeases(ctx context.Context, pk string) (map[string]bool, error) {
	q := t.Query(&dynamodb.QueryInput{
		TableName:                 aws.String(t.Name),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		FilterExpression:          aws.String("#u >= :now"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#u": attrLeaseUntil},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": S(pk), ":now": N(time.Now().UnixMilli())},
	})
	held := map[string]bool{}
	for q.Next(ctx) {
		held[Decode(q.Item()).S(AttrSK)] = true
	}
	if err := q.Err(); err != nil {
		return nil, fmt.Errorf("ddb: leases %s: %w", pk, err)
	}
	return held, nil
}
