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

	"minipay/shared/edge/routes"
	"minipay/shared/kernel/ddb"
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
	// retried (shared/kernel/ledger) and a few are normal on busy accounts; a
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
	w := &alarmWriter{
		scope:  a.Stack,
		action: awscloudwatchactions.NewSnsAction(a.Topic),
		alarms: &a,
		period: awscdk.Duration_Seconds(jsii.Number(alarmPeriod.Seconds())),
	}
	w.sum = &awscloudwatch.MetricOptions{Period: w.period, Statistic: jsii.String("Sum")}
	w.apiAlarms(in.api)
	w.functionAlarms(in.fns)
	w.jobAlarms(in.schedules, in.fns, in.deadLetters)
	w.workQueueAlarms(in.workQueues)
	w.tableAlarms(in.table)
	w.pipeAlarms(in.pipe)
	return a
}

// atLeastOnce alarms at the threshold itself.
const atLeastOnce = awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD

// alarmWriter adds alarms under one construct, each notifying one action.
type alarmWriter struct {
	scope  constructs.Construct
	action awscloudwatchactions.SnsAction
	alarms *Alarms
	period awscdk.Duration
	sum    *awscloudwatch.MetricOptions // a period's sum
}

// add creates an alarm that notifies the on-call when it fires and when it
// is over.
func (w *alarmWriter) add(id string, props *awscloudwatch.AlarmProps) {
	if props.TreatMissingData == "" {
		// No data is no traffic, not a failure (except for "did not run").
		props.TreatMissingData = awscloudwatch.TreatMissingData_NOT_BREACHING
	}
	alarm := awscloudwatch.NewAlarm(w.scope, jsii.String(id), props)
	alarm.AddAlarmAction(w.action)
	alarm.AddOkAction(w.action) // tell the on-call when it is over, too
	w.alarms.All = append(w.alarms.All, alarm)
}

// apiAlarms watch the API as callers see it: the share of 5xx answers.
func (w *alarmWriter) apiAlarms(api awsapigatewayv2.HttpApi) {
	w.add("Api5xxRate", &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String(fmt.Sprintf("minipay API: more than %d%% of requests answered 5xx in 2 of 3 periods of %s", api5xxPercent, human(alarmPeriod))),
		Metric: awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String("IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)"),
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"errors":   api.MetricServerError(w.sum),
				"requests": api.MetricCount(w.sum),
			},
			Label:  jsii.String("5xx %"),
			Period: w.period,
		}),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		Threshold:          jsii.Number(api5xxPercent),
		EvaluationPeriods:  jsii.Number(3),
		DatapointsToAlarm:  jsii.Number(2),
	})
}

// functionAlarms watch every function (routes, jobs and the authorizer):
// unhandled errors (a crash, a timeout; handled failures are 4xx/5xx
// answers) and throttles, in one alarm (one resource per function: the
// stack's resource budget, stack.go); its description says which to look
// at.
func (w *alarmWriter) functionAlarms(fns map[string]awslambda.Function) {
	for _, name := range sortedKeys(fns) {
		fn := fns[name]
		w.add(name+"-Failures", &awscloudwatch.AlarmProps{
			AlarmDescription: jsii.String("minipay " + name + ": the function failed (error or timeout) or was throttled (concurrency limit); " +
				"its Errors and Throttles metrics say which"),
			Metric: awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
				Expression:   jsii.String("FILL(errors, 0) + FILL(throttles, 0)"),
				UsingMetrics: &map[string]awscloudwatch.IMetric{"errors": fn.MetricErrors(w.sum), "throttles": fn.MetricThrottles(w.sum)},
				Label:        jsii.String("errors + throttles"),
				Period:       w.period,
			}),
			ComparisonOperator: atLeastOnce,
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
		})
	}
}

// jobAlarms watch every schedule: it ran, and nothing it failed to do is
// waiting in its dead-letter queue.
func (w *alarmWriter) jobAlarms(schedules []routes.Schedule, fns map[string]awslambda.Function, deadLetters map[string]awssqs.Queue) {
	for _, sc := range schedules {
		window := runWindow(sc)
		w.add(sc.Name+"-DidNotRun", &awscloudwatch.AlarmProps{
			AlarmDescription: jsii.String(fmt.Sprintf("minipay job %s: its function %s was not invoked for %s (it runs %s)", sc.Name, sc.Function, human(window), scheduleText(sc))),
			Metric: fns[sc.Function].MetricInvocations(&awscloudwatch.MetricOptions{
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
		w.deadLetterAlarm(sc.Name+"-DeadLetters",
			"minipay job "+sc.Name+": events in its dead-letter queue (not delivered, or failed after retries)", deadLetters[sc.Name])
	}
}

// workQueueAlarms watch the work queues' dead letters: a message that
// failed MaxReceives times is a shard of a day's job not done.
func (w *alarmWriter) workQueueAlarms(queues map[string]WorkQueue) {
	for _, name := range sortedKeys(queues) {
		w.deadLetterAlarm(name+"-DeadLetters",
			"minipay work queue "+name+": messages in its dead-letter queue (a shard of a job failed after every retry)", queues[name].DeadLetters)
	}
}

// deadLetterAlarm fires when anything waits in a dead-letter queue.
func (w *alarmWriter) deadLetterAlarm(id, description string, q awssqs.IQueue) {
	w.add(id, &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String(description),
		Metric: q.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
			Period:    w.period,
			Statistic: jsii.String("Maximum"),
		}),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		Threshold:          jsii.Number(0),
		EvaluationPeriods:  jsii.Number(1),
	})
}

// tableAlarms watch the table: throttling (on-demand still throttles a hot
// partition or a GSI that cannot keep up, and a GSI's throttling throttles
// the table's writes) and transaction conflicts.
func (w *alarmWriter) tableAlarms(table awsdynamodb.Table) {
	w.throttleAlarm("TableThrottles", "minipay table: read or write requests were throttled",
		table.Metric(jsii.String("ReadThrottleEvents"), w.sum), table.Metric(jsii.String("WriteThrottleEvents"), w.sum))
	for _, g := range ddb.GSIs {
		gsi := func(metric string) awscloudwatch.IMetric {
			return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace:  jsii.String("AWS/DynamoDB"),
				MetricName: jsii.String(metric),
				DimensionsMap: &map[string]*string{
					"TableName":                table.TableName(),
					"GlobalSecondaryIndexName": jsii.String(g.Name),
				},
				Period:    w.period,
				Statistic: jsii.String("Sum"),
			})
		}
		w.throttleAlarm("TableThrottles-"+g.Name, "minipay table, index "+g.Name+": read or write requests were throttled",
			gsi("ReadThrottleEvents"), gsi("WriteThrottleEvents"))
	}
	w.add("TransactionConflicts", &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String(fmt.Sprintf("minipay table: %d or more transaction conflicts per %s for 3 periods in a row", transactionConflicts, human(alarmPeriod))),
		Metric:           table.Metric(jsii.String("TransactionConflict"), w.sum),
		// Also counted: a plain write that collides with a transaction.
		ComparisonOperator: atLeastOnce,
		Threshold:          jsii.Number(transactionConflicts),
		EvaluationPeriods:  jsii.Number(3),
	})
}

// throttleAlarm fires on any read or write throttle event in a period.
func (w *alarmWriter) throttleAlarm(id, description string, reads, writes awscloudwatch.IMetric) {
	w.add(id, &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String(description),
		Metric: awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression:   jsii.String("FILL(reads, 0) + FILL(writes, 0)"),
			UsingMetrics: &map[string]awscloudwatch.IMetric{"reads": reads, "writes": writes},
			Label:        jsii.String("throttle events"),
			Period:       w.period,
		}),
		ComparisonOperator: atLeastOnce,
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
	})
}

// pipeAlarms watch the notification pipe: it retries without limit, so a
// failing target is silent unless watched.
func (w *alarmWriter) pipeAlarms(pipe awspipes.CfnPipe) {
	w.add("NotificationPipeFailures", &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String("minipay notification pipe: executions failed (the bus refuses events; the pipe keeps retrying)"),
		Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:     jsii.String("AWS/EventBridge/Pipes"),
			MetricName:    jsii.String("ExecutionFailed"),
			DimensionsMap: &map[string]*string{"PipeName": pipe.Ref()},
			Period:        w.period,
			Statistic:     jsii.String("Sum"),
		}),
		ComparisonOperator: atLeastOnce,
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
	})
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
