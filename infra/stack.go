package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"minipay/shared/edge/routes"
)

// StackProps configures the stack. Zero values take the defaults, so the real
// app passes only CodeDir and tests can inject routes and schedules.
type StackProps struct {
	awscdk.StackProps
	CodeDir   string            // holds <function>/bootstrap; default ../build
	Routes    []routes.Route    // default routes.Served()
	Schedules []routes.Schedule // default routes.Schedules
	Queues    []routes.Queue    // default routes.Queues
	LogLevel  string            // MINIPAY_LOG_LEVEL for every function; default info
}

// Stack is the whole minipay deployment. The fields let tests find the
// logical IDs of what they assert on.
type Stack struct {
	awscdk.Stack
	Table     awsdynamodb.Table
	Functions map[string]awslambda.Function // by function name
	API       awsapigatewayv2.HttpApi
	Stage     awsapigatewayv2.HttpStage
	// AccessLogs is the stage's access log group; FunctionLogs every
	// function's (the jobs' and workers' too).
	AccessLogs, FunctionLogs awslogs.LogGroup
	// DeadLetters is each schedule's dead-letter queue, by schedule name.
	DeadLetters map[string]awssqs.Queue
	// WorkQueues is each work queue (routes.Queues), by queue name.
	WorkQueues map[string]WorkQueue
	// Notifications: the EventBridge bus and the pipe from the table's stream.
	Notifications Notifications
	// Alarms: every alarm and the topic they notify.
	Alarms Alarms
}

// CloudFormation refuses a stack of more than 500 resources. A function
// costs 3 (function, role, failures alarm) and a route 3 more (integration,
// route, invoke permission), so the stack keeps its resources per function
// few (inline role policies, one log group for all functions, one alarm
// per function) and TestResourceBudget fails at resourceBudget, leaving
// room to split the stack (nested stacks per capability) before a deploy
// would fail. The alarms (one or more per function, schedule and queue) are
// a nested stack of their own (alarms.go), which the limit counts apart.
const (
	cloudFormationMaxResources = 500
	resourceBudget             = 470
)

// NewStack builds the stack. Every input is validated before any construct is
// created, so a bad row or a missing build is a plain error, not a jsii panic.
func NewStack(scope constructs.Construct, id string, props *StackProps) (*Stack, error) {
	p := withDefaults(props)
	access := tableAccess(p.Routes, p.Schedules, p.Queues)
	if err := validate(p, access); err != nil {
		return nil, err
	}

	s := &Stack{Stack: awscdk.NewStack(scope, jsii.String(id), &p.StackProps)}
	s.Table = newTable(s.Stack)
	s.DeadLetters = newDeadLetterQueues(s.Stack, p.Schedules)
	s.Functions, s.FunctionLogs = newFunctions(s.Stack, s.Table, access, reservedConcurrency(p.Routes), deadLettersByFunction(p.Schedules, s.DeadLetters), p.CodeDir, p.LogLevel)
	s.API, s.Stage, s.AccessLogs = newAPI(s.Stack, s.Functions, p.Routes)
	newSchedules(s.Stack, s.Functions, p.Schedules, s.DeadLetters)
	s.WorkQueues = newWorkQueues(s.Stack, s.Functions, p.Queues)
	s.Notifications = newNotifications(s.Stack, s.Table)
	retainLogs(s.Stack, s.FunctionLogs, s.AccessLogs)
	s.Alarms = newAlarms(s.Stack, alarmInputs{
		api: s.API, fns: s.Functions, table: s.Table, schedules: p.Schedules,
		deadLetters: s.DeadLetters, workQueues: s.WorkQueues, pipe: s.Notifications.Pipe,
	})

	awscdk.NewCfnOutput(s.Stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{
		// No trailing slash: clients append the route paths ("/users").
		Value:       s.API.ApiEndpoint(),
		Description: jsii.String("Base URL of the HTTP API"),
	})
	awscdk.NewCfnOutput(s.Stack, jsii.String("TableName"), &awscdk.CfnOutputProps{
		Value:       s.Table.TableName(),
		Description: jsii.String("DynamoDB table (MINIPAY_TABLE)"),
	})
	return s, nil
}

func withDefaults(props *StackProps) StackProps {
	var p StackProps
	if props != nil {
		p = *props
	}
	if p.CodeDir == "" {
		p.CodeDir = defaultCodeDir
	}
	if p.Routes == nil {
		// The document's route too: the deployed API serves it.
		p.Routes = routes.Served()
	}
	if p.Schedules == nil {
		p.Schedules = routes.Schedules
	}
	if p.Queues == nil {
		p.Queues = routes.Queues
	}
	if p.LogLevel == "" {
		p.LogLevel = "info"
	}
	if p.Description == nil {
		p.Description = jsii.String("minipay: serverless money service (API Gateway HTTP API, Lambda, DynamoDB, EventBridge Scheduler, EventBridge Pipes)")
	}
	return p
}

// validate fails early on rows the stack cannot express and on a missing
// build, with a message that says what to do.
func validate(p StackProps, access map[string][]string) error {
	if err := validateRoutes(p.Routes); err != nil {
		return err
	}
	jobFunctions, err := validateSchedules(p.Schedules)
	if err != nil {
		return err
	}
	for _, r := range p.Routes {
		if sc, ok := jobFunctions[r.Function]; ok {
			return fmt.Errorf("route %s %s: function %s runs schedule %s (one function per job)", r.Method, r.Path, r.Function, sc)
		}
	}
	for _, fn := range functionNames(access) {
		bootstrap := filepath.Join(p.CodeDir, fn, "bootstrap")
		if _, err := os.Stat(bootstrap); err != nil {
			return fmt.Errorf("function %s: %v (run `make build` first, or pass -c codeDir=DIR)", fn, err)
		}
	}
	return validateQueues(p.Queues, access)
}

// validateRoutes checks each route row (unique, a known method and auth
// level, a function, a throttle within the stage's, overload met by the
// gateway before Lambda's limit) and the reserved concurrency they add up to.
func validateRoutes(rs []routes.Route) error {
	keys := map[string]bool{}
	for _, r := range rs {
		key := r.Method + " " + r.Path
		if keys[key] {
			return fmt.Errorf("route %s: duplicate", key)
		}
		keys[key] = true
		if !httpMethods[r.Method] {
			return fmt.Errorf("route %s: unsupported method", key)
		}
		switch r.Auth {
		case routes.Public, routes.User, routes.Operator, routes.Registration:
		default: // fail closed: an unknown auth level must not become public
			return fmt.Errorf("route %s: unknown auth %q", key, r.Auth)
		}
		if r.Function == "" {
			return fmt.Errorf("route %s: no function", key)
		}
		// A route's own throttle overrides the stage's default; API Gateway
		// caps it at the account's regional throttle.
		if t := r.Throttle; t != nil && (t.Rate <= 0 || t.Burst < 1 || t.Rate > routes.GatewayAccountRate || t.Burst > routes.GatewayAccountBurst) {
			return fmt.Errorf("route %s: throttle %v+%d must be positive and within the account's %d/s + %d", key, t.Rate, t.Burst, routes.GatewayAccountRate, routes.GatewayAccountBurst)
		}
		// Overload must meet the gateway's fast 429 before Lambda's limit
		// (a throttled invocation is the gateway's 500).
		if r.ReservedConcurrency > 0 && r.Throttle == nil {
			return fmt.Errorf("route %s: reserved concurrency without a route throttle in front of it", key)
		}
		if err := r.OverloadSafe(); err != nil {
			return err
		}
	}
	total := 0
	for _, n := range reservedConcurrency(rs) {
		total += n
	}
	if total > maxReserved {
		return fmt.Errorf("reserved concurrency adds up to %d; an account keeps at most %d reservable", total, maxReserved)
	}
	return nil
}

// validateSchedules checks each schedule row (a unique name, a function of
// its own, an expression, a did-not-run window CloudWatch can evaluate)
// and returns the job functions: function -> schedule.
func validateSchedules(ss []routes.Schedule) (map[string]string, error) {
	names := map[string]bool{}
	jobFunctions := map[string]string{} // function -> schedule
	for _, sc := range ss {
		if sc.Name == "" || names[sc.Name] {
			return nil, fmt.Errorf("schedule %q: empty or duplicate name", sc.Name)
		}
		names[sc.Name] = true
		if sc.Function == "" {
			return nil, fmt.Errorf("schedule %s: no function", sc.Name)
		}
		if _, err := sc.Expression(); err != nil {
			return nil, err
		}
		// A job's function serves that job only: its Invocations say whether
		// the job ran, its errors and its dead-letter queue are the job's.
		if other, ok := jobFunctions[sc.Function]; ok {
			return nil, fmt.Errorf("schedule %s: function %s already runs schedule %s (one function per job)", sc.Name, sc.Function, other)
		}
		jobFunctions[sc.Function] = sc.Name
		if w := runWindow(sc); w > maxRunWindow {
			return nil, fmt.Errorf("schedule %s: its did-not-run alarm would need %s; CloudWatch evaluates at most %s", sc.Name, human(w), human(maxRunWindow))
		}
	}
	return jobFunctions, nil
}

// validateQueues checks each queue row: unique and complete, a worker
// timeout within Lambda's, senders that are functions of the tables.
func validateQueues(qs []routes.Queue, access map[string][]string) error {
	queueNames := map[string]bool{}
	for _, q := range qs {
		if q.Name == "" || queueNames[q.Name] || q.Worker == "" || q.URLEnv == "" || q.WorkerTimeout <= 0 || q.MaxReceives < 1 || q.MaxConcurrency < 2 {
			return fmt.Errorf("queue %q: needs a unique name, a worker, a URL variable, a timeout, MaxReceives >= 1 and MaxConcurrency >= 2", q.Name)
		}
		queueNames[q.Name] = true
		if q.WorkerTimeout > 15*time.Minute {
			return fmt.Errorf("queue %s: worker timeout %s is beyond Lambda's 15 minutes", q.Name, q.WorkerTimeout)
		}
		for _, s := range q.Senders {
			if _, ok := access[s]; !ok {
				return fmt.Errorf("queue %s: sender %s is no function of the tables", q.Name, s)
			}
		}
	}
	return nil
}
