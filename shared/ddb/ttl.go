package ddb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// SweepExpired deletes every item whose TTL attribute is before now, as
// DynamoDB's TTL eventually does in the cloud (DynamoDB Local has no TTL).
// Each delete re-checks the expiry, so an item refreshed meanwhile survives.
// A Scan: the local stack's and an operator's tool, never a request path.
func SweepExpired(ctx context.Context, db Scanner, table string, now time.Time) (int, error) {
	names := map[string]string{"#ttl": AttrTTL}
	vals := map[string]types.AttributeValue{":now": Epoch(now)}
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(table),
		ConsistentRead:            aws.Bool(true),
		FilterExpression:          aws.String("#ttl < :now"),
		ProjectionExpression:      aws.String(AttrPK + ", " + AttrSK),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	}
	deleted := 0
	for {
		out, err := db.Scan(ctx, in)
		if err != nil {
			return deleted, fmt.Errorf("ddb: sweep scan: %w", err)
		}
		for _, item := range out.Items {
			_, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
				TableName:                 aws.String(table),
				Key:                       Key(str(item, AttrPK), str(item, AttrSK)),
				ConditionExpression:       aws.String("#ttl < :now"),
				ExpressionAttributeNames:  names,
				ExpressionAttributeValues: vals,
			})
			var refreshed *types.ConditionalCheckFailedException
			if errors.As(err, &refreshed) {
				continue
			}
			if err != nil {
				return deleted, fmt.Errorf("ddb: sweep delete: %w", err)
			}
			deleted++
		}
		if len(out.LastEvaluatedKey) == 0 {
			return deleted, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
