package ddb

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The table definition. The CDK stack (infra/) and the local stack
// (CreateTable) are both built from these constants, so they cannot drift.
const (
	AttrPK  = "PK"
	AttrSK  = "SK"
	AttrTTL = "expiresAt" // epoch seconds; DynamoDB TTL deletes lazily, so reads filter too

	// IndexDue is a sparse GSI over due work (expiries, reminders, reclaims,
	// checkpoints): only items that carry dueBucket appear in it, so a sweep
	// costs what is due, never a table scan. See due.go.
	IndexDue  = "due"
	AttrDuePK = "dueBucket"
	AttrDueSK = "dueAt"

	// IndexDirection serves the history filter ?direction=in|out with one
	// Query per page: user accounts' entries carry dirKey =
	// HISTORY#<account>#in|out and keep the table's SK (ENTRY#<time-ordered
	// id>) as the index sort key, so newest-first, the one-year window and
	// the time range stay key conditions.
	IndexDirection = "direction"
	AttrDirKey     = "dirKey"
)

// GSI describes one global secondary index (string keys, all attributes projected).
type GSI struct{ Name, PartitionKey, SortKey string }

// GSIs lists the table's global secondary indexes.
var GSIs = []GSI{{IndexDue, AttrDuePK, AttrDueSK}, {IndexDirection, AttrDirKey, AttrSK}}

// CreateTableInput is the table as the local stack and the tests create it
// (on-demand billing, like the cloud).
func CreateTableInput(name string) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(AttrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrSK), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(AttrSK), KeyType: types.KeyTypeRange},
		},
	}
	defined := map[string]bool{AttrPK: true, AttrSK: true}
	for _, g := range GSIs {
		for _, attr := range []string{g.PartitionKey, g.SortKey} {
			if !defined[attr] { // an index may reuse a table key (direction reuses SK)
				defined[attr] = true
				in.AttributeDefinitions = append(in.AttributeDefinitions,
					types.AttributeDefinition{AttributeName: aws.String(attr), AttributeType: types.ScalarAttributeTypeS})
			}
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName: aws.String(g.Name),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(g.PartitionKey), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(g.SortKey), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		})
	}
	return in
}
