package main

import (
	"path/filepath"
	"sort"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"minipay/shared/edge/routes"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
)

// tableAccess maps every function (the authorizer, each route's and each
// schedule's) to the DynamoDB actions it needs: the sorted union over every
// row that names it. Its keys are the stack's function list.
func tableAccess(rs []routes.Route, ss []routes.Schedule, qs []routes.Queue) map[string][]string {
	sets := map[string]map[string]bool{}
	add := func(fn string, actions []string) {
		if sets[fn] == nil {
			sets[fn] = map[string]bool{}
		}
		for _, a := range actions {
			sets[fn][a] = true
		}
	}
	add(routes.AuthorizerFunction, routes.AuthorizerTable)
	add(routes.Fallback.Function, nil) // answers without reading anything
	for _, r := range rs {
		add(r.Function, r.Grants())
	}
	for _, s := range ss {
		add(s.Function, s.Table)
	}
	for _, q := range qs {
		add(q.Worker, q.Table)
	}
	out := make(map[string][]string, len(sets))
	for fn, set := range sets {
		var actions []string
		for a := range set {
			actions = append(actions, a)
		}
		sort.Strings(actions)
		out[fn] = actions
	}
	return out
}

// reservedConcurrency maps each function whose route reserves concurrency
// to its reservation.
func reservedConcurrency(rs []routes.Route) map[string]int {
	out := map[string]int{}
	for _, r := range rs {
		if r.ReservedConcurrency > 0 {
			out[r.Function] = r.ReservedConcurrency
		}
	}
	return out
}

// maxReserved caps the sum of reservations: an account's default
// concurrency is 1,000 and Lambda keeps 100 of it unreserved (the route
// table's derivation fits in the same figures).
const maxReserved = routes.LambdaAccountConcurrency - routes.LambdaUnreservedMinimum

// functionNames is the sorted list of functions in access.
func functionNames(access map[string][]string) []string {
	names := make([]string, 0, len(access))
	for name := range access {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Asynchronous invocations (a scheduled job's) are retried by Lambda this
// often, up to this age, before they go to the job's dead-letter queue. Jobs
// are idempotent and catch up, so a retry never pays twice, and an event
// older than the Scheduler's own limit is not worth running late.
const (
	asyncRetryAttempts = 2
	asyncMaxEventAge   = time.Hour
)

// functionLogRetention is the function log group's retention as built;
// the stack's LogRetentionDays parameter sets the deployed value (logs.go).
const functionLogRetention = awslogs.RetentionDays_ONE_YEAR

// newFunctions creates one Lambda per function, built by `make build` as
// <codeDir>/<function>/bootstrap for provided.al2023 on arm64. deadLetters
// maps a scheduled job's function to its queue: Scheduler invokes Lambda
// asynchronously, so a job that fails after Lambda's retries lands there too.
func newFunctions(stack awscdk.Stack, table awsdynamodb.Table, access map[string][]string, reserved map[string]int, deadLetters map[string]awssqs.IQueue, codeDir, logLevel string) (map[string]awslambda.Function, awslogs.LogGroup) {
	p := &functionParts{table: table, reserved: reserved, deadLetters: deadLetters, codeDir: codeDir, logLevel: logLevel}
	p.operatorToken, p.registration = newDeployParameters(stack)
	p.registers = registeringFunctions()
	p.tableResources = tableAndIndexArns(table)
	p.logs = newFunctionLogs(stack)
	fns := make(map[string]awslambda.Function, len(access))
	for _, name := range functionNames(access) { // sorted: a stable template
		fns[name] = p.newFunction(constructs.NewConstruct(stack, jsii.String(name)), name, access[name])
	}
	return fns, p.logs
}

// functionParts is what every function is built from.
type functionParts struct {
	table                       awsdynamodb.Table
	tableResources              []*string
	logs                        awslogs.LogGroup
	operatorToken, registration awscdk.CfnParameter
	registers                   map[string]bool // functions that register users
	reserved                    map[string]int
	deadLetters                 map[string]awssqs.IQueue
	codeDir, logLevel           string
}

// newDeployParameters are the parameters given at deploy time. The raw
// operator token never enters the stack: only its hex sha256, passed at
// deploy time and hidden from describe calls.
func newDeployParameters(stack awscdk.Stack) (operatorToken, registration awscdk.CfnParameter) {
	operatorToken = awscdk.NewCfnParameter(stack, jsii.String("OperatorTokenSha256"), &awscdk.CfnParameterProps{
		Type:                  jsii.String("String"),
		NoEcho:                jsii.Bool(true),
		AllowedPattern:        jsii.String("^[0-9a-f]{64}$"),
		ConstraintDescription: jsii.String("lower-case hex sha256 of the operator token (64 characters)"),
		Description:           jsii.String("Hex sha256 of the operator token used by the external payment system"),
	})
	registration = awscdk.NewCfnParameter(stack, jsii.String("RegistrationPolicy"), &awscdk.CfnParameterProps{
		Type:          jsii.String("String"),
		Default:       jsii.String(config.RegistrationOperator),
		AllowedValues: jsii.Strings(config.RegistrationOperator, config.RegistrationOpen),
		Description: jsii.String("Who may create users: operator (only the payment system that verified the person, " +
			"with the operator token) or open (anyone; per-person rules then mean little)"),
	})
	return operatorToken, registration
}

// registeringFunctions are the functions of the routes that register users.
func registeringFunctions() map[string]bool {
	registers := map[string]bool{}
	for _, r := range routes.Served() {
		if r.Auth == routes.Registration {
			registers[r.Function] = true
		}
	}
	return registers
}

// tableAndIndexArns are the table and each of its indexes by name (a Query
// on a GSI is authorized on the index ARN): no wildcard, and a new index in
// shared/kernel/ddb is granted with no change here.
func tableAndIndexArns(table awsdynamodb.Table) []*string {
	arns := []*string{table.TableArn()}
	for _, g := range ddb.GSIs {
		arns = append(arns, jsii.String(*table.TableArn()+"/index/"+g.Name))
	}
	return arns
}

// newFunctionLogs is one log group for every function: retention without
// the log-retention custom resource (and its extra Lambda) LogRetention
// creates, and one resource instead of one per function (the stack's
// resource budget, stack.go). Lambda names each stream
// YYYY/MM/DD/<function>[<version>]<environment>, so a function's logs are
// `filter @logStream like "/<function>["` away.
func newFunctionLogs(stack awscdk.Stack) awslogs.LogGroup {
	return awslogs.NewLogGroup(stack, jsii.String("FunctionLogs"), &awslogs.LogGroupProps{
		Retention:     functionLogRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
}

// newFunction is one function with its own role, allowed the table
// actions of its row.
func (p *functionParts) newFunction(scope constructs.Construct, name string, actions []string) awslambda.Function {
	env := map[string]*string{
		config.EnvTable:    p.table.TableName(),
		config.EnvLogLevel: jsii.String(p.logLevel),
	}
	if name == routes.AuthorizerFunction || p.registers[name] {
		env[config.EnvOperatorTokenSHA256] = p.operatorToken.ValueAsString()
	}
	if p.registers[name] {
		env[config.EnvRegistration] = p.registration.ValueAsString()
	}
	props := &awslambda.FunctionProps{
		Description:  jsii.String("minipay " + name),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(filepath.Join(p.codeDir, name)), nil),
		MemorySize:   jsii.Number(256),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(routes.TimeoutOf(name).Seconds())),
		Environment:  &env,
		LogGroup:     p.logs,
		Role:         p.newRole(scope, name, actions),
	}
	// Reserved concurrency (the route table's): at most this many at
	// once, and always this many available, whatever other functions do.
	if n := p.reserved[name]; n > 0 {
		props.ReservedConcurrentExecutions = jsii.Number(n)
	}
	if q, ok := p.deadLetters[name]; ok {
		props.DeadLetterQueue = q
		props.RetryAttempts = jsii.Number(asyncRetryAttempts)
		props.MaxEventAge = awscdk.Duration_Seconds(jsii.Number(asyncMaxEventAge.Seconds()))
	}
	fn := awslambda.NewFunction(scope, jsii.String("Function"), props)
	// CDK makes the function DependsOn its role besides the GetAtt of the
	// role's ARN; cfn-lint calls that redundant (W3005). It is harmless and
	// CDK's to keep, so cfn-lint ignores that one check on this resource.
	fn.Node().DefaultChild().(awscdk.CfnResource).AddMetadata(jsii.String("cfn-lint"),
		map[string]any{"config": map[string]any{"ignore_checks": []string{"W3005"}}})
	return fn
}

// newRole is a function's own role instead of the default one with the
// managed AWSLambdaBasicExecutionRole (logs on every log group in the
// account): this function may write to the functions' log group only.
// Least privilege on the table: exactly the row's actions, never a Grant*
// helper (GrantReadWriteData would add BatchWrite, Scan, DeleteItem, ...).
// Inline, so the role needs no separate AWS::IAM::Policy resource (the
// stack's resource budget, stack.go).
func (p *functionParts) newRole(scope constructs.Construct, name string, actions []string) awsiam.Role {
	statements := []awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: &[]*string{p.logs.LogGroupArn()},
	})}
	if len(actions) > 0 {
		statements = append(statements, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(actions...),
			Resources: &p.tableResources,
		}))
	}
	return awsiam.NewRole(scope, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("minipay " + name + " function"),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"access": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &statements}),
		},
	})
}
