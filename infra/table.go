package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/jsii-runtime-go"

	"minipay/shared/kernel/ddb"
)

// newTable is the single table. Keys, TTL attribute and GSIs come from
// shared/kernel/ddb, the same constants the local stack creates its table from.
func newTable(stack awscdk.Stack) awsdynamodb.Table {
	str := func(name string) *awsdynamodb.Attribute {
		return &awsdynamodb.Attribute{Name: jsii.String(name), Type: awsdynamodb.AttributeType_STRING}
	}
	table := awsdynamodb.NewTable(stack, jsii.String("Table"), &awsdynamodb.TableProps{
		PartitionKey:        str(ddb.AttrPK),
		SortKey:             str(ddb.AttrSK),
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute: jsii.String(ddb.AttrTTL),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		// Money data: deleting the stack must never delete the ledger.
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
		DeletionProtection: jsii.Bool(true),
		// Later capabilities publish notifications from the stream.
		Stream: awsdynamodb.StreamViewType_NEW_IMAGE,
	})
	for _, g := range ddb.GSIs {
		// The projection is ddb's: keys only, INCLUDE of a few ids, or ALL.
		props := &awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:      jsii.String(g.Name),
			PartitionKey:   str(g.PartitionKey),
			SortKey:        str(g.SortKey),
			ProjectionType: awsdynamodb.ProjectionType_KEYS_ONLY,
		}
		switch {
		case g.All:
			props.ProjectionType = awsdynamodb.ProjectionType_ALL
		case len(g.Include) > 0:
			props.ProjectionType = awsdynamodb.ProjectionType_INCLUDE
			props.NonKeyAttributes = jsii.Strings(g.Include...)
		}
		table.AddGlobalSecondaryIndex(props)
	}
	return table
}
