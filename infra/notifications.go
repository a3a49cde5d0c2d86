package main

import (
	"encoding/json"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awspipes"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Notification events on the bus.
const (
	NotificationSource     = "minipay"
	NotificationDetailType = "minipay.notification"
	// notificationSKPrefix is the inbox items' sort-key prefix (store: NOTIF#).
	notificationSKPrefix = "NOTIF#"
)

// NotificationFilter is the pipe's event pattern: only newly inserted inbox
// items (USER#<uid>[#<n>]/NOTIF#<id>: the filter is on the SK alone, so
// every shard of a user's inbox is forwarded), nothing else the table writes.
func NotificationFilter() string {
	b, _ := json.Marshal(map[string]any{
		"eventName": []string{"INSERT"},
		"dynamodb": map[string]any{"NewImage": map[string]any{
			"SK": map[string]any{"S": []any{map[string]string{"prefix": notificationSKPrefix}}},
		}},
	})
	return string(b)
}

// Notifications is the fan-out of inbox items to an EventBridge bus.
type Notifications struct {
	Bus  awsevents.EventBus
	Pipe awspipes.CfnPipe
	Role awsiam.Role
}

// newNotifications publishes every notification to an EventBridge bus with
// an EventBridge Pipe from the table's DynamoDB stream.
//
// Why nothing is lost: a notification is an item written in the SAME
// transaction as the state change that causes it (an outbox), so there is
// no "changed but not published" window in the application: if the money
// moved, the item exists, and its INSERT is in the table's stream (streams
// record every committed write, in order per item, for 24 hours). The pipe
// reads the stream from TRIM_HORIZON, checkpoints only after PutEvents
// succeeded, and retries a failing batch without limit (MaximumRetryAttempts
// and MaximumRecordAgeInSeconds -1 = until the record leaves the stream),
// bisecting a batch to isolate a poison record. So delivery is at least
// once: a record can reach the bus twice (a retry after a timeout), never
// zero times while the bus is reachable within the 24-hour retention, and
// consumers dedupe by the notification id (NewImage.notificationId, also the
// SK), which is unique and stable. Beyond that, the inbox items themselves
// stay in the table for 90 days, so a consumer can reconcile from GET
// /me/notifications.
func newNotifications(stack awscdk.Stack, table awsdynamodb.Table) Notifications {
	scope := constructs.NewConstruct(stack, jsii.String("Notifications"))
	bus := awsevents.NewEventBus(scope, jsii.String("Bus"), &awsevents.EventBusProps{
		Description: jsii.String("minipay notifications (pending transfers: received, accepted, rejected, cancelled, expired, reminder)"),
	})

	// Least privilege: read this table's stream, put events on this bus.
	role := awsiam.NewRole(scope, jsii.String("PipeRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("pipes.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]interface{}{
				"StringEquals": map[string]interface{}{"aws:SourceAccount": stack.Account()},
			},
		}),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"pipe": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
				Statements: &[]awsiam.PolicyStatement{
					awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
						Actions:   jsii.Strings("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"),
						Resources: &[]*string{table.TableStreamArn()},
					}),
					awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
						Actions:   jsii.Strings("events:PutEvents"),
						Resources: &[]*string{bus.EventBusArn()},
					}),
				},
			}),
		},
	})

	pipe := awspipes.NewCfnPipe(scope, jsii.String("Pipe"), &awspipes.CfnPipeProps{
		Description:  jsii.String("minipay: inbox items (table stream INSERT of NOTIF#) to the notifications bus"),
		DesiredState: jsii.String("RUNNING"),
		RoleArn:      role.RoleArn(),
		Source:       table.TableStreamArn(),
		Target:       bus.EventBusArn(),
		SourceParameters: &awspipes.CfnPipe_PipeSourceParametersProperty{
			DynamoDbStreamParameters: &awspipes.CfnPipe_PipeSourceDynamoDBStreamParametersProperty{
				StartingPosition:          jsii.String("TRIM_HORIZON"),
				BatchSize:                 jsii.Number(10),
				MaximumRetryAttempts:      jsii.Number(-1),
				MaximumRecordAgeInSeconds: jsii.Number(-1),
				OnPartialBatchItemFailure: jsii.String("AUTOMATIC_BISECT"),
			},
			FilterCriteria: &awspipes.CfnPipe_FilterCriteriaProperty{
				Filters: &[]interface{}{&awspipes.CfnPipe_FilterProperty{Pattern: jsii.String(NotificationFilter())}},
			},
		},
		TargetParameters: &awspipes.CfnPipe_PipeTargetParametersProperty{
			EventBridgeEventBusParameters: &awspipes.CfnPipe_PipeTargetEventBridgeEventBusParametersProperty{
				Source:     jsii.String(NotificationSource),
				DetailType: jsii.String(NotificationDetailType),
			},
		},
	})
	// The role's policies are inline (part of the role), so RoleArn's GetAtt
	// already orders the pipe after them: no DependsOn needed.

	awscdk.NewCfnOutput(stack, jsii.String("NotificationBusName"), &awscdk.CfnOutputProps{
		Value:       bus.EventBusName(),
		Description: jsii.String("EventBridge bus of minipay notifications (source minipay, detail-type minipay.notification)"),
	})
	return Notifications{Bus: bus, Pipe: pipe, Role: role}
}
