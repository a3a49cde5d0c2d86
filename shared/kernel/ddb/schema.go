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

// GSI describes one global secondary index (string keys). An index entry
// is written whenever its item is written with a projected attribute
// changed, so each index projects no more than its readers use: the keys
// (always), plus Include, or every attribute when All.
type GSI struct {
	Name, PartitionKey, SortKey string
	Include                     []string // INCLUDE projection's non-key attributes (none and !All: KEYS_ONLY)
	All                         bool     // ALL projection
}

// DueInclude are the attributes the due index projects besides the keys:
// the ids the id-only readers take from an index entry (a posting's
// accountId, owner and outside for the fold; orderId; settlementId). They
// never change on their item, so no balance or status write rewrites a due
// entry; readers that need the whole item set DueWork.Fetch.
var DueInclude = []string{"accountId", "owner", "outside", "orderId", "settlementId"}

// GSIs lists the table's global secondary indexes. The direction index
// projects all attributes: its readers page whole history entries, and an
// entry is written once and never updated, so the projection costs one
// index write per entry whatever it holds.
var GSIs = []GSI{
	{Name: IndexDue, PartitionKey: AttrDuePK, SortKey: AttrDueSK, Include: DueInclude},
	{Name: IndexDirection, PartitionKey: AttrDirKey, SortKey: AttrSK, All: true},
}

// Projection is the index's projection as the DynamoDB API takes it.
func (g GSI) Projection() *types.Projection {
	switch {
	case g.All:
		return &types.Projection{ProjectionType: types.ProjectionTypeAll}
	case len(g.Include) > 0:
		return &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: append([]string(nil), g.Include...)}
	}
	return &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly}
}

// Projected is the part of item that index g holds: nil when the item has
// not both of the index's keys (a sparse index leaves it out), else the
// table's and the index's keys and the projected attributes. A write that
// leaves Projected unchanged for every index writes no index entry.
func (g GSI) Projected(item Item) Item {
	if item[g.PartitionKey] == nil || item[g.SortKey] == nil {
		return nil
	}
	if g.All {
		return item
	}
	out := Item{}
	for _, a := range append([]string{AttrPK, AttrSK, g.PartitionKey, g.SortKey}, g.Include...) {
		if v, ok := item[a]; ok {
			out[a] = v
		}
	}
	return out
}

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
			Projection: g.Projection(),
		})
	}
	return in
}
