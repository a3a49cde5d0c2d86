package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"minipay/shared/edge/routes"
)

// Scheduler's retry policy for a target it cannot reach (throttled, not
// found, no permission). Jobs are idempotent by construction, so a retry
// never pays twice; past an hour the next run catches up anyway.
const (
	scheduleRetryAttempts = 3
	scheduleMaxEventAge   = 3600 // seconds
)

// newSchedules adds one EventBridge Scheduler schedule per routes.Schedules
// row. Each has its own role that may invoke only its own function and send
// only to its own dead-letter queue. Expressions were validated in NewStack.
func newSchedules(stack awscdk.Stack, fns map[string]awslambda.Function, ss []routes.Schedule, deadLetters map[string]awssqs.Queue) {
	for _, sc := range ss {
		expr, _ := sc.Expression()
		fn := fns[sc.Function]
		dlq := deadLetters[sc.Name]
		scope := constructs.NewConstruct(stack, jsii.String("Schedule-"+sc.Name))

		role := awsiam.NewRole(scope, jsii.String("Role"), &awsiam.RoleProps{
			// Only Scheduler acting for this account may assume it (confused deputy).
			AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), &awsiam.ServicePrincipalOpts{
				Conditions: &map[string]interface{}{
					"StringEquals": map[string]interface{}{"aws:SourceAccount": stack.Account()},
				},
			}),
			InlinePolicies: &map[string]awsiam.PolicyDocument{
				"invoke": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
					Statements: &[]awsiam.PolicyStatement{
						awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
							Actions:   jsii.Strings("lambda:InvokeFunction"),
							Resources: &[]*string{fn.FunctionArn()},
						}),
						// Scheduler delivers the dead-letter event as this role.
						awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
							Actions:   jsii.Strings("sqs:SendMessage"),
							Resources: &[]*string{dlq.QueueArn()},
						}),
					},
				}),
			},
		})

		var tz *string
		if sc.TimeZone != "" {
			tz = jsii.String(sc.TimeZone)
		}
		awsscheduler.NewCfnSchedule(scope, jsii.String("Schedule"), &awsscheduler.CfnScheduleProps{
			Description:                jsii.String("minipay " + sc.Name + ": " + sc.Summary),
			ScheduleExpression:         jsii.String(expr),
			ScheduleExpressionTimezone: tz,
			State:                      jsii.String("ENABLED"),
			// Jobs fire at the stated time; they catch up on missed runs themselves.
			FlexibleTimeWindow: &awsscheduler.CfnSchedule_FlexibleTimeWindowProperty{Mode: jsii.String("OFF")},
			Target: &awsscheduler.CfnSchedule_TargetProperty{
				Arn:     fn.FunctionArn(),
				RoleArn: role.RoleArn(),
				Input:   jsii.String(sc.TargetInput()),
				RetryPolicy: &awsscheduler.CfnSchedule_RetryPolicyProperty{
					MaximumRetryAttempts:     jsii.Number(scheduleRetryAttempts),
					MaximumEventAgeInSeconds: jsii.Number(scheduleMaxEventAge),
				},
				DeadLetterConfig: &awsscheduler.CfnSchedule_DeadLetterConfigProperty{Arn: dlq.QueueArn()},
			},
		})
	}
}
