package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// SweepExpired deletes every item whose TTL attribute (expiresAt, epoch
// seconds) is before the store clock's now, as DynamoDB's TTL eventually
// does in the cloud (DynamoDB Local has no TTL). Each delete re-checks the
// expiry, so an item refreshed meanwhile survives. It returns how many
// items it deleted. A Scan: an operator's and the local stack's tool, never
// a request path.
func (s *Store) SweepExpired(ctx context.Context) (int, error) {
	now := num(s.clock.Now().Unix())
	names := map[string]string{"#ttl": AttrTTL}
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		ConsistentRead:            aws.Bool(true),
		FilterExpression:          aws.String("#ttl < :now"),
		ProjectionExpression:      aws.String(AttrPK + ", " + AttrSK),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": now},
	}
	deleted := 0
	for {
		out, err := s.db.Scan(ctx, in)
		if err != nil {
			return deleted, fmt.Errorf("store: sweep scan: %w", err)
		}
		for _, item := range out.Items {
			_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
				TableName:                 aws.String(s.table),
				Key:                       key(getS(item, AttrPK), getS(item, AttrSK)),
				ConditionExpression:       aws.String("#ttl < :now"),
				ExpressionAttributeNames:  names,
				ExpressionAttributeValues: map[string]types.AttributeValue{":now": now},
			})
			var refreshed *types.ConditionalCheckFailedException
			if asErr(err, &refreshed) {
				continue
			}
			if err != nil {
				return deleted, fmt.Errorf("store: sweep delete: %w", err)
			}
			deleted++
		}
		if len(out.LastEvaluatedKey) == 0 {
			return deleted, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
