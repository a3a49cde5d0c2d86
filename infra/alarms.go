package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awspipes"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"minipay/shared/ddb"
	"minipay/shared/routes"
)

// alarmPeriod is the window of the rate and count alarms: short enough to
// page within minutes, long enough that one slow metric does not flap.
const alarmPeriod = 5 * time.Minute

// Thresholds. Errors, throttles and dead letters are never expected, so
// one is enough; the rest are rates or sustained counts.
const (
	// api5xxPercent: share of API requests answered 5xx in a period, in 2
	// of 3 periods (one bad period is not a page). It counts the deliberate
	// 503 Retry-After of a hot receiver too: sustained, that is worth a look.
	api5xxPercent = 1
	// transactionConflicts per period, 3 periods in a row. Conflicts are
	// retried (shared/ledger) and a few are normal on busy accounts; a
	// sustained stream means a hot item the design should have split.
	transactionConflicts = 10
)

// Slack a schedule's "did not run" window allows beyond its interval: Lambda
// metrics arrive minutes late, and Scheduler may retry for a while.
const (
	minRunSlack = 5 * time.Minute
	maxRunSlack = time.Hour
	// maxRunWindow is CloudWatch's limit on an alarm's evaluation range.
	maxRunWindow = 7 * 24 * time.Hour
)

// Alarms is the stack's monitoring: every alarm notifies Topic.
type Alarms struct {
	Topic awssns.Topic
	All   []awscloudwatch.Alarm
	// Stack is the nested stack the alarms live in: one per function, schedule
	// and queue, they are the stack's largest group of resources, and apart
	// they keep the main stack under CloudFormation's 500 (stack.go).
	Stack awscdk.NestedStack
}

// alarmInputs is what the alarms watch.
type alarmInputs struct {
	api         awsapigatewayv2.HttpApi
	fns         map[string]awslambda.Function
	table       awsdynamodb.Table
	schedules   []routes.Schedule
	deadLetters map[string]awssqs.Queue // by schedule name
	workQueues  map[string]WorkQueue    // by queue name
	pipe        awspipes.CfnPipe
}

// newAlarms creates every alarm from the stack's tables: per function, per
// schedule and per dead-letter queue by loops, so a new row is watched with
// no change here.
func newAlarms(stack awscdk.Stack, in alarmInputs) Alarms {
	a := Alarms{Topic: newAlarmTopic(stack)}
	a.Stack = awscdk.NewNestedStack(stack, jsii.String("Alarms"), &awscdk.NestedStackProps{
		Description: jsii.String("minipay alarms: every function, schedule, queue, the API and the table"),
	})
	var scope constructs.Construct = a.Stack
	action := awscloudwatchactions.NewSnsAction(a.Topic)
	add := func(id string, props *awscloudwatch.AlarmProps) {
		if props.TreatMissingData == "" {
			// No data is no traffic, not a failure (except for "did not run").
			props.TreatMissingData = awscloudwatch.TreatMissingData_NOT_BREACHING
		}
		alarm := awscloudwatch.NewAlarm(scope, jsii.String(id), props)
		alarm.AddAlarmAction(action)
		alarm.AddOkAction(action) // tell the on-call when it is over, too
		a.All = append(a.All, alarm)
	}
	period := awscdk.Duration_Seconds(jsii.Number(alarmPeriod.Seconds()))
	sum := &awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Sum")}
	atLeastOnce := awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD

	// The API as callers see it: the share of 5xx answers.
	add("Api5xxRate", &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String(fmt.Sprintf("minipay API: more than %d%% of requests answered 5xx in 2 of 3 periods of %s", api5xxPercent, human(alarmPeriod))),
		Metric: awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String("IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)"),
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"errors":   in.api.MetricServerError(sum),
				"requests": in.api.MetricCount(sum),
			},
			Label:  jsii.String("5xx %"),
			Period: period,
		}),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		Threshold:          jsii.Number(api5xxPercent),
		EvaluationPeriods:  jsii.Number(3),
		DatapointsToAlarm:  jsii.Number(2),
	})

	// Every function (routes, jobs and the authorizer): unhandled errors
	// (a crash, a timeout; handled failures are 4xx/5xx answers) and
	// throttles, in one alarm (one resource per function: the stack's
	// resource budget, stack.go); its description says which to look at.
	for _, name := range sortedKeys(in.fns) {
		fn := in.fns[name]
		add(name+"-Failures", &awscloudwatch.AlarmProps{
			AlarmDescription: jsii.String("minipay " + name + ": the function failed (error or timeout) or was throttled (concurrency limit); " +
				"its Errors and Throttles metrics say which"),
			Metric: awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
				Expression:   jsii.String("FILL(errors, 0) + FILL(throttles, 0)"),
				UsingMetrics: &map[string]awscloudwatch.IMetric{"errors": fn.MetricErrors(sum), "throttles": fn.MetricThrottles(sum)},
				Label:        jsii.String("errors + throttles"),
				Period:       period,
			}),
			ComparisonOperator: atLeastOnce,
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
		})
	}

	// Every schedule: it ran, and nothing it failed to do is waiting.
	for _, sc := range in.schedules {
		window := runWindow(sc)
		add(sc.Name+"-DidNotRun", &awscloudwatch.AlarmProps{
			AlarmDescription: jsii.String(fmt.Sprintf("minipay job %s: its function %s was not invoked for %s (it runs %s)", sc.Name, sc.Function, human(window), scheduleText(sc))),
			Metric: in.fns[sc.Function].MetricInvocations(&awscloudwatch.MetricOptions{
				Period:    awscdk.Duration_Seconds(jsii.Number(window.Seconds())),
				Statistic: jsii.String("Sum"),
			}),
			ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			// No invocation publishes no data point: missing data is the
			// failure. (So right after the first deploy a daily job's alarm
			// fires until its first run: expected, and it clears itself.)
			TreatMissingData: awscloudwatch.TreatMissingData_BREACHING,
		})
		add(sc.Name+"-DeadLetters", &awscloudwatch.AlarmProps{
			AlarmDescription: jsii.String("minipay job " + sc.Name + ": events in its dead-letter queue (not delivered, or failed after retries)"),
			Metric: in.deadLetters[sc.Name].MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
				Period:    period,
				Statistic: jsii.String("Maximum"),
			}),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			Threshold:          jsii.Number(0),
			EvaluationPeriods:  jsii.Number(1),
		})
	}

	// Work queues: a message that failed MaxReceives times is a shard of a
	// day's job not done.
	for _, name := range sortedKeys(in.workQueues) {
		add(name+"-DeadLetters", &awscloudwatch.AlarmProps{
			AlarmDescription: jsii.String("minipay work queue " + name + ": messages in its dead-letter queue (a shard of a job failed after every retry)"),
			Metric: in.workQueues[name].DeadLetters.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
				Period:    period,
				Statistic: jsii.String("Maximum"),
			}),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			Threshold:          jsii.Number(0),
			EvaluationPeriods:  jsii.Number(1),
		})
	}

	// The table: throttling (on-demand still throttles a hot partition or a
	// GSI that cannot keep up, and a GSI's throttling throttles the table's
	// writes) and transaction conflicts.
	add("TableThrottles", &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String("minipay table: read or write requests were throttled"),
		Metric: awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String("FILL(reads, 0) + FILL(writes, 0)"),
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"reads":  in.table.Metric(jsii.String("ReadThrottleEvents"), sum),
				"writes": in.table.Metric(jsii.String("WriteThrottleEvents"), sum),
			},
			Label:  jsii.String("throttle events"),
			Period: period,
		}),
		ComparisonOperator: atLeastOnce,
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
	})
	for _, g := range ddb.GSIs {
		gsi := func(metric string) awscloudwatch.IMetric {
			return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace:  jsii.String("AWS/DynamoDB"),
				MetricName: jsii.String(metric),
				DimensionsMap: &map[string]*string{
					"TableName":                in.table.TableName(),
					"GlobalSecondaryIndexName": jsii.String(g.Name),
				},
				Period:    period,
				Statistic: jsii.String("Sum"),
			})
		}
		add("TableThrottles-"+g.Name, &awscloudwatch.AlarmProps{
			AlarmDescription: jsii.String("minipay table, index " + g.Name + ": read or write requests were throttled"),
			Metric: awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
				Expression:   jsii.String("FILL(reads, 0) + FILL(writes, 0)"),
				UsingMetrics: &map[string]awscloudwatch.IMetric{"reads": gsi("ReadThrottleEvents"), "writes": gsi("WriteThrottleEvents")},
				Label:        jsii.String("throttle events"),
				Period:       period,
			}),
			ComparisonOperator: atLeastOnce,
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
		})
	}
	add("TransactionConflicts", &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String(fmt.Sprintf("minipay table: %d or more transaction conflicts per %s for 3 periods in a row", transactionConflicts, human(alarmPeriod))),
		Metric:           in.table.Metric(jsii.String("TransactionConflict"), sum),
		// Also counted: a plain write that collides with a transaction.
		ComparisonOperator: atLeastOnce,
		Threshold:          jsii.Number(transactionConflicts),
		EvaluationPeriods:  jsii.Number(3),
	})

	// The notification pipe retries without limit, so a failing target is
	// silent unless watched.
	add("NotificationPipeFailures", &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String("minipay notification pipe: executions failed (the bus refuses events; the pipe keeps retrying)"),
		Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:     jsii.String("AWS/EventBridge/Pipes"),
			MetricName:    jsii.String("ExecutionFailed"),
			DimensionsMap: &map[string]*string{"PipeName": in.pipe.Ref()},
			Period:        period,
			Statistic:     jsii.String("Sum"),
		}),
		ComparisonOperator: atLeastOnce,
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
	})
	return a
}

// interval is how often a schedule fires.
func interval(sc routes.Schedule) time.Duration {
	if sc.DailyAt != "" {
		return 24 * time.Hour
	}
	return sc.Every
}

// runWindow is how long without an invocation of a schedule's function
// means the job did not run: its interval plus slack (the interval itself,
// at least minRunSlack, at most maxRunSlack): 6 minutes for a 1-minute job,
// 10 for a 5-minute one, 25 hours for a daily one.
func runWindow(sc routes.Schedule) time.Duration {
	iv := interval(sc)
	return iv + min(max(iv, minRunSlack), maxRunSlack)
}

func scheduleText(sc routes.Schedule) string {
	if sc.DailyAt != "" {
		return "daily at " + sc.DailyAt + " " + sc.TimeZone
	}
	return "every " + human(sc.Every)
}

// human says a whole number of minutes, hours or days in words.
func human(d time.Duration) string {
	n, unit := int(d/time.Minute), "minute"
	switch {
	case d%(24*time.Hour) == 0:
		n, unit = int(d/(24*time.Hour)), "day"
	case d%time.Hour == 0:
		n, unit = int(d/time.Hour), "hour"
	}
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
