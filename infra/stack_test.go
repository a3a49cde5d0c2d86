package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"minipay/shared/edge/routes"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
)

// testSchedules are injected rows (beside routes.Schedules): a daily
// job in Asia/Seoul and a fixed-rate sweep.
var testSchedules = []routes.Schedule{
	{Name: "test-interest", Function: "test-interest", DailyAt: "04:00", TimeZone: "Asia/Seoul",
		Table: []string{"dynamodb:Query", "dynamodb:UpdateItem"}, Summary: "test daily job"},
	{Name: "test-sweep", Function: "test-sweep", Every: 5 * time.Minute,
		Table: []string{"dynamodb:Query", "dynamodb:DeleteItem"}, Summary: "test sweep"},
}

// fixture is the synthesized stack, shared by the tests (synthesis is slow).
type fixture struct {
	stack      *Stack
	tpl        assertions.Template
	findings   []string            // cdk-nag's (and CDK's) unsuppressed errors and warnings
	resources  map[string]resource // by logical ID
	parameters map[string]map[string]any
	fnIDs      map[string]string // function name -> logical ID
	tableID    string
	apiID      string
	access     map[string][]string
	// nestedCount is how many of resources are the alarms' nested stack's.
	nestedCount int
}

type resource struct {
	Type           string
	Properties     map[string]any
	DeletionPolicy string
}

var (
	fixtureOnce sync.Once
	theFixture  *fixture
	fixtureErr  error
	tempDirs    []string // the fixture's code and output directories
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range tempDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

func synth(t *testing.T) *fixture {
	t.Helper()
	fixtureOnce.Do(func() { theFixture, fixtureErr = newFixture() })
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return theFixture
}

func newFixture() (f *fixture, err error) {
	defer func() { // jsii errors arrive as panics
		if r := recover(); r != nil {
			err = fmt.Errorf("synth panicked: %v", r)
		}
	}()
	schedules := append(slices.Clone(routes.Schedules), testSchedules...)
	access := tableAccess(routes.Served(), schedules, routes.Queues)
	codeDir, err := os.MkdirTemp("", "minipay-infra-code-")
	if err != nil {
		return nil, err
	}
	tempDirs = append(tempDirs, codeDir)
	for fn := range access {
		if err := writeBootstrap(codeDir, fn); err != nil {
			return nil, err
		}
	}
	outDir, err := os.MkdirTemp("", "minipay-infra-out-")
	if err != nil {
		return nil, err
	}
	tempDirs = append(tempDirs, outDir)
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outDir)})
	s, err := NewStack(app, "Test", &StackProps{CodeDir: codeDir, Routes: routes.Served(), Schedules: schedules})
	if err != nil {
		return nil, err
	}
	// cdk-nag's AwsSolutions pack runs as an aspect during synthesis and
	// reports what it finds (and is not suppressed) as errors and warnings.
	addNag(app)
	f = &fixture{stack: s, tpl: assertions.Template_FromStack(s.Stack, nil), fnIDs: map[string]string{}, access: access}
	f.findings = findings(s.Stack)

	// Work on plain JSON: precise messages, no jsii round trip per check.
	raw, err := json.Marshal(f.tpl.ToJSON())
	if err != nil {
		return nil, err
	}
	var doc struct {
		Resources  map[string]resource
		Parameters map[string]map[string]any
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	f.resources, f.parameters = doc.Resources, doc.Parameters
	// The alarms' nested stack: its resources join the main stack's, with
	// each reference the parent passes in as a parameter put back as the
	// parent's own expression, so checks read one template.
	nested, err := nestedResources(s.Stack, s.Alarms.Stack, f.resources)
	if err != nil {
		return nil, err
	}
	f.nestedCount = len(nested)
	for id, r := range nested {
		if _, dup := f.resources[id]; dup {
			return nil, fmt.Errorf("logical id %s in both the stack and its nested stack", id)
		}
		f.resources[id] = r
	}
	for name, fn := range s.Functions {
		f.fnIDs[name] = logicalID(s.Stack, fn.Node().DefaultChild())
	}
	f.tableID = logicalID(s.Stack, s.Table.Node().DefaultChild())
	f.apiID = logicalID(s.Stack, s.API.Node().DefaultChild())
	return f, nil
}

// nestedResources is a nested stack's resources with every Ref to one of
// its parameters replaced by the value its parent passes for it.
func nestedResources(parent awscdk.Stack, nested awscdk.NestedStack, parentResources map[string]resource) (map[string]resource, error) {
	raw, err := json.Marshal(assertions.Template_FromStack(nested, nil).ToJSON())
	if err != nil {
		return nil, err
	}
	var doc struct{ Resources map[string]resource }
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	id := logicalID(parent, nested.NestedStackResource())
	r, ok := parentResources[id]
	if !ok {
		return nil, fmt.Errorf("no nested stack resource %s", id)
	}
	params, _ := r.Properties["Parameters"].(map[string]any)
	var put func(v any) any
	put = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["Ref"].(string); ok && len(v) == 1 {
				if p, ok := params[ref]; ok {
					return p
				}
			}
			for k, x := range v {
				v[k] = put(x)
			}
		case []any:
			for i, x := range v {
				v[i] = put(x)
			}
		}
		return v
	}
	for id, r := range doc.Resources {
		r.Properties = put(r.Properties).(map[string]any)
		doc.Resources[id] = r
	}
	return doc.Resources, nil
}

func writeBootstrap(dir, fn string) error {
	if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, fn, "bootstrap"), []byte("dummy "+fn), 0o755)
}

func logicalID(stack awscdk.Stack, child any) string {
	id, _ := stack.Resolve(child.(awscdk.CfnElement).LogicalId()).(string)
	return id
}

// ofType returns the resources of one CloudFormation type by logical ID.
func (f *fixture) ofType(typ string) map[string]resource {
	out := map[string]resource{}
	for id, r := range f.resources {
		if r.Type == typ {
			out[id] = r
		}
	}
	return out
}

// refs collects the logical IDs v points at through Ref or Fn::GetAtt.
func refs(v any) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				switch {
				case k == "Ref":
					if s, ok := e.(string); ok {
						out = append(out, s)
					}
				case k == "Fn::GetAtt":
					if l, ok := e.([]any); ok && len(l) > 0 {
						out = append(out, l[0].(string))
					}
				default:
					walk(e)
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

func getAtt(id string) map[string]any { return map[string]any{"Fn::GetAtt": []any{id, "Arn"}} }

// strs turns a policy's Action (a string or a list) into a sorted list.
func strs(v any) []string {
	var out []string
	switch x := v.(type) {
	case string:
		out = []string{x}
	case []any:
		for _, e := range x {
			out = append(out, e.(string))
		}
	}
	sort.Strings(out)
	return out
}

// must turns an assertions failure (a jsii panic) into a test error.
func must(t *testing.T, what string, check func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	check()
}

func TestRoutesHaveIntegrationsAndAuth(t *testing.T) {
	f := synth(t)
	byKey := map[string]resource{}
	for _, r := range f.ofType("AWS::ApiGatewayV2::Route") {
		byKey[r.Properties["RouteKey"].(string)] = r
	}
	if len(byKey) != len(routes.Served())+1 {
		t.Errorf("%d routes in the template, %d rows in routes.Served() and the $default route", len(byKey), len(routes.Served()))
	}
	if fallback, ok := byKey["$default"]; !ok || fallback.Properties["AuthorizationType"] != nil && fallback.Properties["AuthorizationType"] != "NONE" {
		t.Errorf("$default route %v: want one without an authorizer", fallback)
	}
	authorizers := f.ofType("AWS::ApiGatewayV2::Authorizer")
	if len(authorizers) != 1 {
		t.Fatalf("want exactly one authorizer, got %d", len(authorizers))
	}
	var authorizerID string
	for id := range authorizers {
		authorizerID = id
	}
	integrations := f.ofType("AWS::ApiGatewayV2::Integration")

	for _, rt := range routes.Served() {
		key := rt.Method + " " + rt.Path
		t.Run(key, func(t *testing.T) {
			r, ok := byKey[key]
			if !ok {
				t.Fatalf("no route with RouteKey %q", key)
			}
			target := refs(r.Properties["Target"])
			if len(target) != 1 {
				t.Fatalf("target %v: want one integration", r.Properties["Target"])
			}
			in, ok := integrations[target[0]]
			if !ok {
				t.Fatalf("target %s is not an integration", target[0])
			}
			if got := in.Properties["IntegrationUri"]; !reflect.DeepEqual(got, getAtt(f.fnIDs[rt.Function])) {
				t.Errorf("integration URI %v, want the ARN of %s (%s)", got, rt.Function, f.fnIDs[rt.Function])
			}
			if in.Properties["IntegrationType"] != "AWS_PROXY" || in.Properties["PayloadFormatVersion"] != "2.0" {
				t.Errorf("integration %v: want AWS_PROXY, payload format 2.0", in.Properties)
			}
			authType, authID := r.Properties["AuthorizationType"], refs(r.Properties["AuthorizerId"])
			if rt.Auth == routes.Public || rt.Auth == routes.Registration {
				if authType != "NONE" || len(authID) != 0 {
					t.Errorf("public route: AuthorizationType %v, authorizer %v; want NONE and none", authType, authID)
				}
			} else if authType != "CUSTOM" || !reflect.DeepEqual(authID, []string{authorizerID}) {
				t.Errorf("%s route: AuthorizationType %v, authorizer %v; want CUSTOM and %s", rt.Auth, authType, authID, authorizerID)
			}
			// Without this permission API Gateway cannot call the function.
			if !f.hasInvokePermission(rt.Function, "apigateway.amazonaws.com") {
				t.Errorf("no lambda permission for API Gateway on %s", rt.Function)
			}
		})
	}
}

func (f *fixture) hasInvokePermission(fn, principal string) bool {
	for _, p := range f.ofType("AWS::Lambda::Permission") {
		if p.Properties["Principal"] == principal && p.Properties["Action"] == "lambda:InvokeFunction" &&
			reflect.DeepEqual(p.Properties["FunctionName"], getAtt(f.fnIDs[fn])) {
			return true
		}
	}
	return false
}

func TestAuthorizer(t *testing.T) {
	f := synth(t)
	must(t, "authorizer", func() {
		f.tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Authorizer"), &map[string]any{
			"AuthorizerType":                 "REQUEST",
			"AuthorizerPayloadFormatVersion": "2.0",
			"EnableSimpleResponses":          true,
			"IdentitySource":                 []string{"$request.header.Authorization"},
			"AuthorizerResultTtlInSeconds":   routes.AuthorizerCacheTTL.Seconds(),
			// ...:lambda:path/2015-03-31/functions/<authorizer ARN>/invocations
			"AuthorizerUri": assertions.Match_ObjectLike(&map[string]any{
				"Fn::Join": assertions.Match_ArrayWith(&[]any{
					assertions.Match_ArrayWith(&[]any{getAtt(f.fnIDs[routes.AuthorizerFunction])}),
				}),
			}),
		})
	})
	if !f.hasInvokePermission(routes.AuthorizerFunction, "apigateway.amazonaws.com") {
		t.Error("no lambda permission for API Gateway on the authorizer")
	}
}

func TestStageThrottlingAndOutputs(t *testing.T) {
	f := synth(t)
	must(t, "stage", func() {
		f.tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Stage"), &map[string]any{
			"StageName":  "$default",
			"AutoDeploy": true,
			"DefaultRouteSettings": map[string]any{
				"ThrottlingRateLimit":  throttleRate,
				"ThrottlingBurstLimit": throttleBurst,
			},
		})
	})
	must(t, "ApiUrl output", func() {
		f.tpl.HasOutput(jsii.String("ApiUrl"), &map[string]any{
			"Value": map[string]any{"Fn::GetAtt": []any{f.apiID, "ApiEndpoint"}},
		})
	})
	must(t, "TableName output", func() {
		f.tpl.HasOutput(jsii.String("TableName"), &map[string]any{"Value": map[string]any{"Ref": f.tableID}})
	})
	must(t, "operator token parameter", func() {
		f.tpl.HasParameter(jsii.String("OperatorTokenSha256"), &map[string]any{"Type": "String", "NoEcho": true})
	})
}

func TestTable(t *testing.T) {
	f := synth(t)
	tables := f.ofType("AWS::DynamoDB::Table")
	if len(tables) != 1 {
		t.Fatalf("want one table, got %d", len(tables))
	}
	table := tables[f.tableID]
	if table.DeletionPolicy != "Retain" {
		t.Errorf("DeletionPolicy %q, want Retain", table.DeletionPolicy)
	}
	key := func(name, typ string) map[string]any { return map[string]any{"AttributeName": name, "KeyType": typ} }
	wantAttrs := []any{
		map[string]any{"AttributeName": ddb.AttrPK, "AttributeType": "S"},
		map[string]any{"AttributeName": ddb.AttrSK, "AttributeType": "S"},
	}
	var wantGSIs []any
	defined := map[string]bool{ddb.AttrPK: true, ddb.AttrSK: true}
	for _, g := range ddb.GSIs {
		for _, attr := range []string{g.PartitionKey, g.SortKey} {
			if !defined[attr] { // each attribute is defined once, even when an index reuses it
				defined[attr] = true
				wantAttrs = append(wantAttrs, map[string]any{"AttributeName": attr, "AttributeType": "S"})
			}
		}
		// The stack projects what the local table projects (ddb.GSI.Projection).
		proj := map[string]any{"ProjectionType": string(g.Projection().ProjectionType)}
		if attrs := g.Projection().NonKeyAttributes; len(attrs) > 0 {
			var list []any
			for _, a := range attrs {
				list = append(list, a)
			}
			proj["NonKeyAttributes"] = list
		}
		wantGSIs = append(wantGSIs, map[string]any{
			"IndexName":  g.Name,
			"KeySchema":  []any{key(g.PartitionKey, "HASH"), key(g.SortKey, "RANGE")},
			"Projection": proj,
		})
	}
	for name, want := range map[string]any{
		"BillingMode":                      "PAY_PER_REQUEST",
		"KeySchema":                        []any{key(ddb.AttrPK, "HASH"), key(ddb.AttrSK, "RANGE")},
		"AttributeDefinitions":             wantAttrs,
		"GlobalSecondaryIndexes":           wantGSIs,
		"TimeToLiveSpecification":          map[string]any{"AttributeName": ddb.AttrTTL, "Enabled": true},
		"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
	} {
		if got := table.Properties[name]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

func TestFunctions(t *testing.T) {
	f := synth(t)
	if n := len(f.ofType("AWS::Lambda::Function")); n != len(f.access) {
		t.Errorf("%d Lambda functions in the template, want %d (no helper functions)", n, len(f.access))
	}
	logGroups := f.ofType("AWS::Logs::LogGroup")
	for _, name := range functionNames(f.access) {
		t.Run(name, func(t *testing.T) {
			fn, ok := f.resources[f.fnIDs[name]]
			if !ok || fn.Type != "AWS::Lambda::Function" {
				t.Fatalf("no function %s", name)
			}
			p := fn.Properties
			for prop, want := range map[string]any{
				"Runtime":       "provided.al2023",
				"Architectures": []any{"arm64"},
				"Handler":       "bootstrap",
				"MemorySize":    float64(256),
				"Timeout":       routes.TimeoutOf(name).Seconds(),
			} {
				if !reflect.DeepEqual(p[prop], want) {
					t.Errorf("%s = %v, want %v", prop, p[prop], want)
				}
			}
			vars, _ := p["Environment"].(map[string]any)["Variables"].(map[string]any)
			if !reflect.DeepEqual(vars[config.EnvTable], map[string]any{"Ref": f.tableID}) {
				t.Errorf("%s = %v, want the table name", config.EnvTable, vars[config.EnvTable])
			}
			_, hasToken := vars[config.EnvOperatorTokenSHA256]
			registers := false
			for _, r := range routes.Served() {
				registers = registers || r.Function == name && r.Auth == routes.Registration
			}
			if want := name == routes.AuthorizerFunction || registers; hasToken != want {
				t.Errorf("has %s = %v, want %v (the authorizer and registration only)", config.EnvOperatorTokenSHA256, hasToken, want)
			}
			if _, hasPolicy := vars[config.EnvRegistration]; hasPolicy != registers ||
				registers && !reflect.DeepEqual(vars[config.EnvRegistration], map[string]any{"Ref": "RegistrationPolicy"}) {
				t.Errorf("%s = %v, want the RegistrationPolicy parameter on registration only", config.EnvRegistration, vars[config.EnvRegistration])
			}
			if want := map[string]any{"Ref": "OperatorTokenSha256"}; hasToken && !reflect.DeepEqual(vars[config.EnvOperatorTokenSHA256], want) {
				t.Errorf("%s = %v, want %v", config.EnvOperatorTokenSHA256, vars[config.EnvOperatorTokenSHA256], want)
			}
			lc, _ := p["LoggingConfig"].(map[string]any)
			lg := refs(lc["LogGroup"])
			if len(lg) != 1 || !reflect.DeepEqual(logGroups[lg[0]].Properties["RetentionInDays"], map[string]any{"Ref": "LogRetentionDays"}) {
				t.Fatalf("log group %v: want one kept for LogRetentionDays", lc)
			}
			// Its own role: no managed policy (AWSLambdaBasicExecutionRole
			// would allow every log group), logs only to the functions' group.
			role := refs(p["Role"])
			if len(role) != 1 {
				t.Fatalf("role %v", p["Role"])
			}
			if m := f.resources[role[0]].Properties["ManagedPolicyArns"]; m != nil {
				t.Errorf("role has managed policies %v", m)
			}
			for _, st := range f.statementsOf(role[0]) {
				if slices.ContainsFunc(strs(st["Action"]), func(a string) bool { return strings.HasPrefix(a, "logs:") }) &&
					!reflect.DeepEqual(st["Resource"], getAtt(lg[0])) {
					t.Errorf("logs statement %v: want only the functions' log group %s", st, lg[0])
				}
			}
		})
	}
}

// TestTablePermissions checks least privilege: each function's statements on
// the table allow exactly the actions of its rows, on the table and its
// indexes, and nothing anywhere allows dynamodb:* or a DynamoDB managed policy.
func TestTablePermissions(t *testing.T) {
	f := synth(t)
	// The table and each index by name: no wildcard.
	tableResources := []any{getAtt(f.tableID)}
	for _, g := range ddb.GSIs {
		tableResources = append(tableResources, map[string]any{"Fn::Join": []any{"", []any{getAtt(f.tableID), "/index/" + g.Name}}})
	}

	for _, name := range functionNames(f.access) {
		t.Run(name, func(t *testing.T) {
			role := refs(f.resources[f.fnIDs[name]].Properties["Role"])
			if len(role) != 1 {
				t.Fatalf("role %v", role)
			}
			var actions []string
			for _, st := range f.statementsOf(role[0]) {
				if !slices.Contains(refs(st["Resource"]), f.tableID) {
					continue
				}
				if st["Effect"] != "Allow" || !reflect.DeepEqual(st["Resource"], tableResources) {
					t.Errorf("statement %v: want Allow on the table and its indexes", st)
				}
				actions = append(actions, strs(st["Action"])...)
			}
			sort.Strings(actions)
			if !reflect.DeepEqual(actions, f.access[name]) {
				t.Errorf("actions on the table %v, want exactly %v", actions, f.access[name])
			}
		})
	}

	for id, r := range f.resources {
		docs := []any{r.Properties["PolicyDocument"]}
		if pols, ok := r.Properties["Policies"].([]any); ok {
			for _, p := range pols {
				docs = append(docs, p.(map[string]any)["PolicyDocument"])
			}
		}
		for _, d := range docs {
			doc, _ := d.(map[string]any)
			for _, st := range asList(doc["Statement"]) {
				for _, a := range strs(st.(map[string]any)["Action"]) {
					if a == "*" || strings.HasPrefix(a, "dynamodb:") && strings.Contains(a, "*") {
						t.Errorf("%s allows %q", id, a)
					}
				}
			}
		}
		managed, _ := json.Marshal(r.Properties["ManagedPolicyArns"])
		if strings.Contains(strings.ToLower(string(managed)), "dynamodb") || strings.Contains(string(managed), "FullAccess") {
			t.Errorf("%s has managed policies %s", id, managed)
		}
	}
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// statementsOf returns every statement that applies to a role: its inline
// policies and the AWS::IAM::Policy resources attached to it.
func (f *fixture) statementsOf(roleID string) []map[string]any {
	var docs []any
	if pols, ok := f.resources[roleID].Properties["Policies"].([]any); ok {
		for _, p := range pols {
			docs = append(docs, p.(map[string]any)["PolicyDocument"])
		}
	}
	for _, p := range f.ofType("AWS::IAM::Policy") {
		if slices.Contains(refs(p.Properties["Roles"]), roleID) {
			docs = append(docs, p.Properties["PolicyDocument"])
		}
	}
	var out []map[string]any
	for _, d := range docs {
		doc, _ := d.(map[string]any)
		for _, st := range asList(doc["Statement"]) {
			out = append(out, st.(map[string]any))
		}
	}
	return out
}

func TestSchedules(t *testing.T) {
	f := synth(t)
	schedules := f.ofType("AWS::Scheduler::Schedule")
	if len(schedules) != len(routes.Schedules)+len(testSchedules) {
		t.Errorf("%d schedules, want %d", len(schedules), len(routes.Schedules)+len(testSchedules))
	}
	// Every real row (sprinkle-reclaim, pending-sweep, ...) and the injected ones.
	for _, sc := range append(slices.Clone(routes.Schedules), testSchedules...) {
		t.Run(sc.Name, func(t *testing.T) {
			var found []resource
			for _, r := range schedules {
				target, _ := r.Properties["Target"].(map[string]any)
				if reflect.DeepEqual(target["Arn"], getAtt(f.fnIDs[sc.Function])) {
					found = append(found, r)
				}
			}
			if len(found) != 1 {
				t.Fatalf("%d schedules target %s, want 1", len(found), sc.Function)
			}
			p := found[0].Properties
			expr, _ := sc.Expression()
			if p["ScheduleExpression"] != expr {
				t.Errorf("ScheduleExpression %v, want %s", p["ScheduleExpression"], expr)
			}
			if tz, _ := p["ScheduleExpressionTimezone"].(string); tz != sc.TimeZone {
				t.Errorf("ScheduleExpressionTimezone %q, want %q", tz, sc.TimeZone)
			}
			if !reflect.DeepEqual(p["FlexibleTimeWindow"], map[string]any{"Mode": "OFF"}) {
				t.Errorf("FlexibleTimeWindow %v, want OFF", p["FlexibleTimeWindow"])
			}
			target := p["Target"].(map[string]any)
			if rp, _ := target["RetryPolicy"].(map[string]any); rp["MaximumRetryAttempts"] != float64(scheduleRetryAttempts) || rp["MaximumEventAgeInSeconds"] != float64(scheduleMaxEventAge) {
				t.Errorf("RetryPolicy %v: want %d retries within %d s", target["RetryPolicy"], scheduleRetryAttempts, scheduleMaxEventAge)
			}
			dlq := f.deadLetterID(sc.Name)
			if want := map[string]any{"Arn": getAtt(dlq)}; !reflect.DeepEqual(target["DeadLetterConfig"], want) {
				t.Errorf("DeadLetterConfig %v, want %v (the schedule's own queue)", target["DeadLetterConfig"], want)
			}
			var input map[string]string
			if err := json.Unmarshal([]byte(target["Input"].(string)), &input); err != nil || input["job"] != sc.Name {
				t.Errorf("Input %v: want JSON naming the schedule (%v)", target["Input"], err)
			}

			// The role: assumed by Scheduler, may invoke this function and
			// send to this schedule's dead-letter queue, nothing else.
			role := refs(target["RoleArn"])
			if len(role) != 1 {
				t.Fatalf("RoleArn %v", target["RoleArn"])
			}
			trust, _ := json.Marshal(f.resources[role[0]].Properties["AssumeRolePolicyDocument"])
			if !strings.Contains(string(trust), `"Service":"scheduler.amazonaws.com"`) {
				t.Errorf("role trust %s: want scheduler.amazonaws.com", trust)
			}
			sts := f.statementsOf(role[0])
			want := []map[string]any{
				{"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": getAtt(f.fnIDs[sc.Function])},
				{"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": getAtt(dlq)},
			}
			if !reflect.DeepEqual(sts, want) {
				t.Errorf("role statements %v, want only %v", sts, want)
			}
		})
	}
}

// TestTableAccess: the function list is routes.Functions() for the real
// tables, and a function named by several rows gets the union of their actions.
func TestTableAccess(t *testing.T) {
	if got, want := functionNames(tableAccess(routes.Served(), routes.Schedules, routes.Queues)), routes.Functions(); !reflect.DeepEqual(got, want) {
		t.Errorf("functions %v, want routes.Functions() %v", got, want)
	}
	got := tableAccess(
		[]routes.Route{{Method: "GET", Path: "/a", Function: "f", Table: []string{"dynamodb:Query", "dynamodb:GetItem"}}},
		[]routes.Schedule{{Name: "s", Function: "f", Every: time.Minute, Table: []string{"dynamodb:DeleteItem", "dynamodb:Query"}}},
		[]routes.Queue{{Name: "q", Worker: "w", Table: []string{"dynamodb:PutItem"}}})
	want := map[string][]string{
		routes.AuthorizerFunction: routes.AuthorizerTable,
		routes.Fallback.Function:  nil,
		"f":                       {"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:Query"},
		"w":                       {"dynamodb:PutItem"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tableAccess = %v, want %v", got, want)
	}
}

// TestInvalidInput: bad rows and a missing build fail with an error before
// any construct exists.
func TestInvalidInput(t *testing.T) {
	code := t.TempDir()
	for _, fn := range []string{routes.AuthorizerFunction, "f"} {
		if err := writeBootstrap(code, fn); err != nil {
			t.Fatal(err)
		}
	}
	ok := routes.Route{Method: "GET", Path: "/a", Function: "f", Auth: routes.User}
	for _, tc := range []struct {
		name      string
		codeDir   string
		routes    []routes.Route
		schedules []routes.Schedule
		want      string
	}{
		{"missing bootstrap", t.TempDir(), []routes.Route{ok}, []routes.Schedule{}, "make build"},
		{"unknown auth", code, []routes.Route{{Method: "GET", Path: "/a", Function: "f", Auth: "admin"}}, []routes.Schedule{}, "unknown auth"},
		{"duplicate route", code, []routes.Route{ok, ok}, []routes.Schedule{}, "duplicate"},
		{"bad method", code, []routes.Route{{Method: "FETCH", Path: "/a", Function: "f", Auth: routes.User}}, []routes.Schedule{}, "method"},
		{"bad schedule", code, []routes.Route{ok}, []routes.Schedule{{Name: "s", Function: "f", DailyAt: "25:00"}}, "HH:MM"},
		{"one function, two jobs", code, []routes.Route{}, []routes.Schedule{
			{Name: "s1", Function: "f", Every: time.Minute}, {Name: "s2", Function: "f", Every: time.Hour}}, "one function per job"},
		{"a job's function serves a route", code, []routes.Route{ok}, []routes.Schedule{{Name: "s", Function: "f", Every: time.Minute}}, "one function per job"},
		{"too rare for an alarm", code, []routes.Route{}, []routes.Schedule{{Name: "s", Function: "f", Every: 7 * 24 * time.Hour}}, "at most 7 days"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
			_, err := NewStack(app, "Bad", &StackProps{CodeDir: tc.codeDir, Routes: tc.routes, Schedules: tc.schedules})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestNotificationPipe: an EventBridge Pipe reads the table's stream, keeps
// only INSERTs of inbox items (SK NOTIF#...), and puts them on the stack's
// bus; its role may read that stream and put events on that bus, nothing else.
func TestNotificationPipe(t *testing.T) {
	f := synth(t)
	buses := f.ofType("AWS::Events::EventBus")
	if len(buses) != 1 {
		t.Fatalf("%d event buses, want 1", len(buses))
	}
	var busID string
	for id := range buses {
		busID = id
	}
	pipes := f.ofType("AWS::Pipes::Pipe")
	if len(pipes) != 1 {
		t.Fatalf("%d pipes, want 1", len(pipes))
	}
	var p map[string]any
	for _, r := range pipes {
		p = r.Properties
	}
	streamArn := map[string]any{"Fn::GetAtt": []any{f.tableID, "StreamArn"}}
	if !reflect.DeepEqual(p["Source"], streamArn) {
		t.Errorf("Source %v, want the table's stream %v", p["Source"], streamArn)
	}
	if !reflect.DeepEqual(p["Target"], getAtt(busID)) {
		t.Errorf("Target %v, want the bus %v", p["Target"], getAtt(busID))
	}
	sp, _ := p["SourceParameters"].(map[string]any)
	ddb, _ := sp["DynamoDBStreamParameters"].(map[string]any)
	if ddb["StartingPosition"] != "TRIM_HORIZON" || ddb["MaximumRetryAttempts"] != float64(-1) || ddb["MaximumRecordAgeInSeconds"] != float64(-1) {
		t.Errorf("stream parameters %v: want TRIM_HORIZON and unlimited retries within the stream's retention", ddb)
	}
	fc, _ := sp["FilterCriteria"].(map[string]any)
	filters, _ := fc["Filters"].([]any)
	if len(filters) != 1 {
		t.Fatalf("filters %v, want one", fc)
	}
	var pattern map[string]any
	if err := json.Unmarshal([]byte(filters[0].(map[string]any)["Pattern"].(string)), &pattern); err != nil {
		t.Fatal(err)
	}
	wantPattern := map[string]any{
		"eventName": []any{"INSERT"},
		"dynamodb":  map[string]any{"NewImage": map[string]any{"SK": map[string]any{"S": []any{map[string]any{"prefix": "NOTIF#"}}}}},
	}
	if !reflect.DeepEqual(pattern, wantPattern) {
		t.Errorf("filter pattern %v, want %v", pattern, wantPattern)
	}
	tp, _ := p["TargetParameters"].(map[string]any)
	eb, _ := tp["EventBridgeEventBusParameters"].(map[string]any)
	if eb["Source"] != NotificationSource || eb["DetailType"] != NotificationDetailType {
		t.Errorf("target parameters %v", tp)
	}

	role := refs(p["RoleArn"])
	if len(role) != 1 {
		t.Fatalf("RoleArn %v", p["RoleArn"])
	}
	trust, _ := json.Marshal(f.resources[role[0]].Properties["AssumeRolePolicyDocument"])
	if !strings.Contains(string(trust), `"Service":"pipes.amazonaws.com"`) || !strings.Contains(string(trust), "aws:SourceAccount") {
		t.Errorf("role trust %s: want pipes.amazonaws.com for this account", trust)
	}
	got := map[string]any{}
	for _, st := range f.statementsOf(role[0]) {
		if st["Effect"] != "Allow" {
			t.Errorf("statement %v", st)
		}
		got[strings.Join(strs(st["Action"]), ",")] = st["Resource"]
	}
	want := map[string]any{
		"dynamodb:DescribeStream,dynamodb:GetRecords,dynamodb:GetShardIterator,dynamodb:ListStreams": streamArn,
		"events:PutEvents": getAtt(busID),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pipe role statements %v, want exactly %v", got, want)
	}
}

// TestResourceBudget: the stack stays under CloudFormation's limit with
// room to spare (stack.go says what to do when it does not).
func TestResourceBudget(t *testing.T) {
	f := synth(t)
	counts := map[string]int{}
	for _, r := range f.resources {
		counts[r.Type]++
	}
	// CloudFormation counts each stack apart: the main one, and the alarms'.
	main, alarms := len(f.resources)-f.nestedCount, f.nestedCount
	t.Logf("%d resources in the stack and %d in its alarms' nested stack, of %d allowed each: %v", main, alarms, cloudFormationMaxResources, counts)
	for _, n := range []int{main, alarms} {
		if n > resourceBudget {
			t.Errorf("%d resources, budget %d (CloudFormation allows %d): split the stack before adding more", n, resourceBudget, cloudFormationMaxResources)
		}
	}
}
