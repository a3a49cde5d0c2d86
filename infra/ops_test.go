package main

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"minipay/shared/edge/routes"
	"minipay/shared/kernel/ddb"
)

// The operations side of the stack: dead-letter queues, alarms, the alarm
// topic, access logs and log retention, asserted over the route and schedule
// tables (and the injected testSchedules), never over a hand-written list.

func (f *fixture) allSchedules() []routes.Schedule {
	return append(slices.Clone(routes.Schedules), testSchedules...)
}

func (f *fixture) deadLetterID(schedule string) string {
	q, ok := f.stack.DeadLetters[schedule]
	if !ok {
		return ""
	}
	return logicalID(f.stack.Stack, q.Node().DefaultChild())
}

func (f *fixture) topicID() string {
	return logicalID(f.stack.Stack, f.stack.Alarms.Topic.Node().DefaultChild())
}

// alarmMetric is one metric an alarm reads, directly or in a math expression.
type alarmMetric struct {
	Namespace, Name string
	Dims            map[string]any
	Period          float64
	Stat            string
}

func dimsOf(v any) map[string]any {
	out := map[string]any{}
	for _, d := range asList(v) {
		d := d.(map[string]any)
		out[d["Name"].(string)] = d["Value"]
	}
	return out
}

func alarmMetrics(p map[string]any) []alarmMetric {
	if name, ok := p["MetricName"].(string); ok {
		period, _ := p["Period"].(float64)
		stat, _ := p["Statistic"].(string)
		return []alarmMetric{{p["Namespace"].(string), name, dimsOf(p["Dimensions"]), period, stat}}
	}
	var out []alarmMetric
	for _, m := range asList(p["Metrics"]) {
		ms, ok := m.(map[string]any)["MetricStat"].(map[string]any)
		if !ok {
			continue
		}
		metric := ms["Metric"].(map[string]any)
		out = append(out, alarmMetric{metric["Namespace"].(string), metric["MetricName"].(string), dimsOf(metric["Dimensions"]), ms["Period"].(float64), ms["Stat"].(string)})
	}
	return out
}

// alarmsOn returns the alarms that read namespace/metric with exactly dims.
func (f *fixture) alarmsOn(namespace, metric string, dims map[string]any) []map[string]any {
	var out []map[string]any
	for _, a := range f.ofType("AWS::CloudWatch::Alarm") {
		for _, m := range alarmMetrics(a.Properties) {
			if m.Namespace == namespace && m.Name == metric && reflect.DeepEqual(m.Dims, dims) {
				out = append(out, a.Properties)
				break
			}
		}
	}
	return out
}

// oneAlarmOn is alarmsOn that wants exactly one alarm.
func (f *fixture) oneAlarmOn(t *testing.T, namespace, metric string, dims map[string]any) map[string]any {
	t.Helper()
	found := f.alarmsOn(namespace, metric, dims)
	if len(found) != 1 {
		t.Fatalf("%d alarms on %s %s %v, want 1", len(found), namespace, metric, dims)
	}
	return found[0]
}

func wantAlarm(t *testing.T, p map[string]any, op string, threshold float64, missing string) {
	t.Helper()
	if p["ComparisonOperator"] != op || p["Threshold"] != threshold {
		t.Errorf("alarm %v: want %s %v", p["AlarmDescription"], op, threshold)
	}
	if p["TreatMissingData"] != missing {
		t.Errorf("alarm %v: TreatMissingData %v, want %s", p["AlarmDescription"], p["TreatMissingData"], missing)
	}
}

// TestDeadLetterQueues: every schedule has its own queue, encrypted and
// TLS-only, which both Scheduler (after its retry policy, TestSchedules) and
// Lambda (after its asynchronous retries) send the job's failed events to.
func TestDeadLetterQueues(t *testing.T) {
	f := synth(t)
	queues := f.ofType("AWS::SQS::Queue")
	if len(queues) != len(f.allSchedules())+2*len(routes.Queues) {
		t.Errorf("%d queues, want one per schedule (%d) and two per work queue (%d)", len(queues), len(f.allSchedules()), len(routes.Queues))
	}
	policies := f.ofType("AWS::SQS::QueuePolicy")
	invokeConfigs := f.ofType("AWS::Lambda::EventInvokeConfig")
	for _, sc := range f.allSchedules() {
		t.Run(sc.Name, func(t *testing.T) {
			id := f.deadLetterID(sc.Name)
			q, ok := queues[id]
			if !ok {
				t.Fatalf("no queue for %s", sc.Name)
			}
			if q.Properties["SqsManagedSseEnabled"] != true && q.Properties["KmsMasterKeyId"] == nil {
				t.Errorf("queue %v: want encryption at rest", q.Properties)
			}
			if q.Properties["MessageRetentionPeriod"] != float64(deadLetterRetention*24*3600) {
				t.Errorf("MessageRetentionPeriod %v, want %d days", q.Properties["MessageRetentionPeriod"], deadLetterRetention)
			}
			tlsOnly := false
			for _, p := range policies {
				if !slices.Contains(refs(p.Properties["Queues"]), id) {
					continue
				}
				doc, _ := json.Marshal(p.Properties["PolicyDocument"])
				tlsOnly = tlsOnly || strings.Contains(string(doc), `"Condition":{"Bool":{"aws:SecureTransport":"false"}},"Effect":"Deny"`)
			}
			if !tlsOnly {
				t.Error("no queue policy denying requests without TLS")
			}

			// The job's function sends there after Lambda's retries.
			fn := f.resources[f.fnIDs[sc.Function]].Properties
			if want := map[string]any{"TargetArn": getAtt(id)}; !reflect.DeepEqual(fn["DeadLetterConfig"], want) {
				t.Errorf("function DeadLetterConfig %v, want %v", fn["DeadLetterConfig"], want)
			}
			var cfg map[string]any
			for _, c := range invokeConfigs {
				if reflect.DeepEqual(c.Properties["FunctionName"], map[string]any{"Ref": f.fnIDs[sc.Function]}) {
					cfg = c.Properties
				}
			}
			if cfg["MaximumRetryAttempts"] != float64(asyncRetryAttempts) || cfg["MaximumEventAgeInSeconds"] != asyncMaxEventAge.Seconds() {
				t.Errorf("EventInvokeConfig %v: want %d retries within %s", cfg, asyncRetryAttempts, asyncMaxEventAge)
			}
			role := refs(fn["Role"])[0]
			canSend := false
			for _, st := range f.statementsOf(role) {
				canSend = canSend || slices.Contains(strs(st["Action"]), "sqs:SendMessage") && reflect.DeepEqual(st["Resource"], getAtt(id))
			}
			if !canSend {
				t.Errorf("function role %s may not send to its dead-letter queue", role)
			}
		})
	}
	// Route functions are invoked synchronously: their caller sees the error.
	for _, r := range routes.Served() {
		if dlc := f.resources[f.fnIDs[r.Function]].Properties["DeadLetterConfig"]; dlc != nil {
			t.Errorf("route function %s has DeadLetterConfig %v", r.Function, dlc)
		}
	}
}

// TestAlarmTopic: one encrypted topic (customer-managed key with rotation,
// which CloudWatch may use), TLS-only, published to by this account's
// alarms, and exported.
func TestAlarmTopic(t *testing.T) {
	f := synth(t)
	topics := f.ofType("AWS::SNS::Topic")
	if len(topics) != 1 {
		t.Fatalf("%d topics, want 1", len(topics))
	}
	id := f.topicID()
	keyRef := refs(topics[id].Properties["KmsMasterKeyId"])
	if len(keyRef) != 1 || f.resources[keyRef[0]].Type != "AWS::KMS::Key" {
		t.Fatalf("KmsMasterKeyId %v: want a KMS key of the stack", topics[id].Properties["KmsMasterKeyId"])
	}
	key := f.resources[keyRef[0]].Properties
	if key["EnableKeyRotation"] != true {
		t.Error("key rotation off")
	}
	keyPolicy, _ := json.Marshal(key["KeyPolicy"])
	if !strings.Contains(string(keyPolicy), `{"Action":["kms:Decrypt","kms:GenerateDataKey*"],"Effect":"Allow","Principal":{"Service":"cloudwatch.amazonaws.com"}`) {
		t.Errorf("key policy %s: CloudWatch cannot use the key", keyPolicy)
	}
	var policy string
	for _, p := range f.ofType("AWS::SNS::TopicPolicy") {
		if slices.Contains(refs(p.Properties["Topics"]), id) {
			b, _ := json.Marshal(p.Properties["PolicyDocument"])
			policy = string(b)
		}
	}
	for _, want := range []string{
		`"Action":"sns:Publish","Condition":{"Bool":{"aws:SecureTransport":"false"}},"Effect":"Deny"`,
		`"Principal":{"Service":"cloudwatch.amazonaws.com"}`,
		`"aws:SourceAccount":{"Ref":"AWS::AccountId"}`,
	} {
		if !strings.Contains(policy, want) {
			t.Errorf("topic policy %s lacks %s", policy, want)
		}
	}
	must(t, "AlarmTopicArn output", func() {
		f.tpl.HasOutput(ptr("AlarmTopicArn"), &map[string]any{"Value": map[string]any{"Ref": id}})
	})
}

// TestEveryAlarmNotifiesTopic: each alarm's actions (alarm and OK) are the
// topic, and the count is what the tables call for.
func TestEveryAlarmNotifiesTopic(t *testing.T) {
	f := synth(t)
	alarms := f.ofType("AWS::CloudWatch::Alarm")
	// Per function: errors + throttles. Per schedule: did not run, dead
	// letters. Then API 5xx, table throttles (+ one per index), conflicts, pipe.
	want := len(f.access) + 2*len(f.allSchedules()) + len(routes.Queues) + 1 + 1 + len(ddb.GSIs) + 1 + 1
	if len(alarms) != want {
		t.Errorf("%d alarms, want %d", len(alarms), want)
	}
	topic := []any{map[string]any{"Ref": f.topicID()}}
	for id, a := range alarms {
		if !reflect.DeepEqual(a.Properties["AlarmActions"], topic) || !reflect.DeepEqual(a.Properties["OKActions"], topic) {
			t.Errorf("%s: AlarmActions %v, OKActions %v; want the topic", id, a.Properties["AlarmActions"], a.Properties["OKActions"])
		}
		if a.Properties["ActionsEnabled"] == false {
			t.Errorf("%s: actions disabled", id)
		}
		if d, _ := a.Properties["AlarmDescription"].(string); d == "" {
			t.Errorf("%s: no description", id)
		}
	}
}

// TestFunctionAlarms: every function (routes, jobs, the authorizer) has an
// alarm on its errors and throttles.
func TestFunctionAlarms(t *testing.T) {
	f := synth(t)
	for _, name := range functionNames(f.access) {
		t.Run(name, func(t *testing.T) {
			dims := map[string]any{"FunctionName": map[string]any{"Ref": f.fnIDs[name]}}
			for _, metric := range []string{"Errors", "Throttles"} {
				a := f.oneAlarmOn(t, "AWS/Lambda", metric, dims)
				wantAlarm(t, a, "GreaterThanOrEqualToThreshold", 1, "notBreaching")
			}
		})
	}
}

// TestScheduleAlarms: every schedule has a "did not run" alarm (no
// invocation of its function for a bit more than its interval; no data is
// the failure) and an alarm on its dead-letter queue's depth.
func TestScheduleAlarms(t *testing.T) {
	f := synth(t)
	for _, sc := range f.allSchedules() {
		t.Run(sc.Name, func(t *testing.T) {
			a := f.oneAlarmOn(t, "AWS/Lambda", "Invocations", map[string]any{"FunctionName": map[string]any{"Ref": f.fnIDs[sc.Function]}})
			wantAlarm(t, a, "LessThanThreshold", 1, "breaching")
			period := time.Duration(alarmMetrics(a)[0].Period) * time.Second
			evaluation := time.Duration(a["EvaluationPeriods"].(float64)) * period
			if period <= interval(sc) || evaluation > maxRunWindow {
				t.Errorf("period %s x %v: want longer than the interval %s, at most %s in all", period, a["EvaluationPeriods"], interval(sc), maxRunWindow)
			}
			if sc.DailyAt != "" && period <= 24*time.Hour {
				t.Errorf("daily job: period %s, want more than a day", period)
			}
			if stat := alarmMetrics(a)[0].Stat; stat != "Sum" {
				t.Errorf("statistic %s, want Sum", stat)
			}

			dlq := f.oneAlarmOn(t, "AWS/SQS", "ApproximateNumberOfMessagesVisible",
				map[string]any{"QueueName": map[string]any{"Fn::GetAtt": []any{f.deadLetterID(sc.Name), "QueueName"}}})
			wantAlarm(t, dlq, "GreaterThanThreshold", 0, "notBreaching")
		})
	}
}

// TestRunWindow: a bit longer than the interval, within CloudWatch's limits.
func TestRunWindow(t *testing.T) {
	for _, tc := range []struct {
		sc   routes.Schedule
		want time.Duration
	}{
		{routes.Schedule{Every: time.Minute}, 6 * time.Minute},
		{routes.Schedule{Every: 5 * time.Minute}, 10 * time.Minute},
		{routes.Schedule{Every: 30 * time.Minute}, time.Hour},
		{routes.Schedule{Every: 6 * time.Hour}, 7 * time.Hour},
		{routes.Schedule{DailyAt: "04:00", TimeZone: "Asia/Seoul"}, 25 * time.Hour},
	} {
		if got := runWindow(tc.sc); got != tc.want {
			t.Errorf("runWindow(%s) = %s, want %s", scheduleText(tc.sc), got, tc.want)
		}
	}
}

// TestApiAndTableAlarms: the API's 5xx rate (5xx / Count), the table's and
// each index's throttling, and the table's transaction conflicts.
func TestApiAndTableAlarms(t *testing.T) {
	f := synth(t)
	api := map[string]any{"ApiId": map[string]any{"Ref": f.apiID}}
	rate := f.oneAlarmOn(t, "AWS/ApiGateway", "5xx", api)
	if len(f.alarmsOn("AWS/ApiGateway", "Count", api)) != 1 {
		t.Error("the 5xx alarm does not divide by Count")
	}
	wantAlarm(t, rate, "GreaterThanThreshold", api5xxPercent, "notBreaching")
	if expr, _ := json.Marshal(rate["Metrics"]); !strings.Contains(string(expr), "100 * FILL(errors, 0) / requests") {
		t.Errorf("5xx alarm metrics %s: want a percentage of requests", expr)
	}

	table := map[string]any{"TableName": map[string]any{"Ref": f.tableID}}
	for _, metric := range []string{"ReadThrottleEvents", "WriteThrottleEvents"} {
		wantAlarm(t, f.oneAlarmOn(t, "AWS/DynamoDB", metric, table), "GreaterThanOrEqualToThreshold", 1, "notBreaching")
		for _, g := range ddb.GSIs {
			dims := map[string]any{"TableName": map[string]any{"Ref": f.tableID}, "GlobalSecondaryIndexName": g.Name}
			wantAlarm(t, f.oneAlarmOn(t, "AWS/DynamoDB", metric, dims), "GreaterThanOrEqualToThreshold", 1, "notBreaching")
		}
	}
	conflicts := f.oneAlarmOn(t, "AWS/DynamoDB", "TransactionConflict", table)
	wantAlarm(t, conflicts, "GreaterThanOrEqualToThreshold", transactionConflicts, "notBreaching")

	pipe := map[string]any{"PipeName": map[string]any{"Ref": logicalID(f.stack.Stack, f.stack.Notifications.Pipe)}}
	wantAlarm(t, f.oneAlarmOn(t, "AWS/EventBridge/Pipes", "ExecutionFailed", pipe), "GreaterThanOrEqualToThreshold", 1, "notBreaching")
}

// TestAccessLogs: the $default stage writes one JSON object per request to
// a log group with retention, with the request id functions log, the
// status, route, latency and the integration's and authorizer's errors.
func TestAccessLogs(t *testing.T) {
	f := synth(t)
	var stage map[string]any
	for _, s := range f.ofType("AWS::ApiGatewayV2::Stage") {
		if s.Properties["StageName"] == "$default" {
			stage = s.Properties
		}
	}
	settings, _ := stage["AccessLogSettings"].(map[string]any)
	dest := refs(settings["DestinationArn"])
	if len(dest) != 1 || f.resources[dest[0]].Type != "AWS::Logs::LogGroup" {
		t.Fatalf("DestinationArn %v: want a log group of the stack", settings["DestinationArn"])
	}
	if d := f.resources[dest[0]].Properties["RetentionInDays"]; d == nil {
		t.Error("access log group without retention")
	}
	var fields map[string]string
	if err := json.Unmarshal([]byte(settings["Format"].(string)), &fields); err != nil {
		t.Fatalf("Format %v is not a JSON object of strings: %v", settings["Format"], err)
	}
	if fields["requestId"] != "$context.requestId" {
		t.Errorf("requestId = %q, want $context.requestId (what functions log as requestId)", fields["requestId"])
	}
	var values []string
	for _, v := range fields {
		values = append(values, v)
	}
	for _, want := range []string{"$context.status", "$context.routeKey", "$context.responseLatency",
		"$context.integrationErrorMessage", "$context.authorizer.error"} {
		if !slices.Contains(values, want) {
			t.Errorf("access log format lacks %s: %v", want, fields)
		}
	}
}

// TestLogRetention: every log group of the stack (the functions' and the
// access log) keeps its logs for the LogRetentionDays parameter, a year by
// default, and not forever.
func TestLogRetention(t *testing.T) {
	f := synth(t)
	groups := f.ofType("AWS::Logs::LogGroup")
	if len(groups) != 2 {
		t.Errorf("%d log groups, want the functions' and the access log's", len(groups))
	}
	for id, g := range groups {
		if ref, _ := g.Properties["RetentionInDays"].(map[string]any); ref["Ref"] != "LogRetentionDays" {
			t.Errorf("%s: retention %v, want the LogRetentionDays parameter", id, g.Properties["RetentionInDays"])
		}
	}
	p := f.parameters["LogRetentionDays"]
	if p["Default"] != strconv.Itoa(defaultLogRetentionDays) || defaultLogRetentionDays < 365 {
		t.Errorf("LogRetentionDays %v: want a default of a year at least", p)
	}
}

func ptr(s string) *string { return &s }
