package openapi

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"minipay/shared/capabilities/notify"
	"minipay/shared/capabilities/sprinkle"
	"minipay/shared/capabilities/transfers"
	"minipay/shared/edge/apispec"
	"minipay/shared/edge/httpapi"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/money"
)

func mustDoc(t *testing.T, strict bool) *openapi3.T {
	t.Helper()
	get := Document
	if strict {
		get = Strict
	}
	d, err := get()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The document, as JSON, loads and validates with kin-openapi, published
// and strict alike.
func TestTheDocumentLoadsAndValidates(t *testing.T) {
	for _, strict := range []bool{false, true} {
		d := mustDoc(t, strict)
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		loader := openapi3.NewLoader()
		loaded, err := loader.LoadFromData(b)
		if err != nil {
			t.Fatalf("strict %v: load: %v", strict, err)
		}
		if err := loaded.Validate(context.Background()); err != nil {
			t.Fatalf("strict %v: validate: %v", strict, err)
		}
		if loaded.OpenAPI != "3.0.3" {
			t.Fatalf("openapi %q", loaded.OpenAPI)
		}
	}
	b, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := JSON()
	if &b[0] != &again[0] {
		t.Fatal("JSON is built again on every call")
	}
}

// The Python openapi-spec-validator, where it is installed, agrees.
func TestOpenAPISpecValidatorAgrees(t *testing.T) {
	bin, err := exec.LookPath("openapi-spec-validator")
	if err != nil {
		t.Skip("openapi-spec-validator is not installed (pip install openapi-spec-validator); skipped")
	}
	dir := t.TempDir()
	for _, strict := range []bool{false, true} {
		b, err := json.Marshal(mustDoc(t, strict))
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, "openapi-"+strconv.FormatBool(strict)+".json")
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, f).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "OK") {
			t.Fatalf("strict %v: %v\n%s", strict, err, out)
		}
	}
}

// Every route is exactly one operation with its method and path; the
// fallback is none.
func TestEveryRouteIsAnOperation(t *testing.T) {
	d := mustDoc(t, false)
	n := 0
	for _, item := range d.Paths.Map() {
		n += len(item.Operations())
	}
	if n != len(routes.Routes) {
		t.Fatalf("%d operations for %d routes", n, len(routes.Routes))
	}
	for _, r := range routes.Routes {
		item := d.Paths.Value(r.Path)
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("%s %s is not in the document", r.Method, r.Path)
			continue
		}
		if got := item.GetOperation(r.Method).OperationID; got != camel(r.Function) {
			t.Errorf("%s %s: operationId %q", r.Method, r.Path, got)
		}
	}
	if d.Paths.Value(routes.Fallback.Path) != nil {
		t.Error("the fallback is documented as an operation")
	}
}

// A route without a registered operation, or an operation without a
// route, or a code that is not in the table, fails the build.
func TestTheRegistryMustMatchTheRouteTable(t *testing.T) {
	if err := checkRegistry(); err != nil {
		t.Fatal(err)
	}
	rs := []routes.Route{{Method: "GET", Path: "/a", Function: "a"}, {Method: "GET", Path: "/b", Function: "b"}}
	ops := map[string]apispec.Op{
		"a": {Function: "a", Response: struct{}{}, Errors: []string{"no_such_code"}},
		"c": {Function: "c", Response: struct{}{}},
	}
	get := func(f string) (apispec.Op, bool) { op, ok := ops[f]; return op, ok }
	errs := strings.Join(registryErrors(rs, []string{"a", "c"}, get), "\n")
	for _, want := range []string{"route GET /b (function b) has no apispec operation", "apispec operation c names no route",
		`apispec operation a lists "no_such_code"`} {
		if !strings.Contains(errs, want) {
			t.Errorf("want %q in:\n%s", want, errs)
		}
	}
}

// ONE Problem schema: its code enum is exactly the keys of
// httpapi.Problems, and the members typed errors add are optional
// properties.
func TestTheProblemSchemaIsTheTable(t *testing.T) {
	p := mustDoc(t, false).Components.Schemas["Problem"].Value
	var enum []string
	for _, v := range p.Properties["code"].Value.Enum {
		enum = append(enum, v.(string))
	}
	var keys []string
	for k := range httpapi.Problems {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if !slices.Equal(enum, keys) {
		t.Fatalf("code enum %v\nProblems  %v", enum, keys)
	}
	for _, m := range []string{"available", "remainingToday", "limit", "field", "movementId", "reference", "retryAfterSeconds"} {
		if p.Properties[m] == nil || slices.Contains(p.Required, m) {
			t.Errorf("member %s: %v (required %v)", m, p.Properties[m], p.Required)
		}
	}
	if !slices.Equal(p.Required, []string{"code", "status", "title", "type"}) {
		t.Errorf("required %v", p.Required)
	}
	// A rendered problem of each kind validates.
	for _, err := range []error{httpapi.ErrNotFound, &testMembers{}} {
		pr, _ := httpapi.ProblemOf(err)
		var v any
		if err := json.Unmarshal(pr.Body("/x"), &v); err != nil {
			t.Fatal(err)
		}
		if err := mustDoc(t, true).Components.Schemas["Problem"].Value.VisitJSON(v); err != nil {
			t.Errorf("%s: %v", pr.Body("/x"), err)
		}
	}
}

type testMembers struct{}

func (*testMembers) Error() string     { return "insufficient_funds" }
func (*testMembers) ErrorCode() string { return "insufficient_funds" }
func (*testMembers) Members() map[string]any {
	return map[string]any{"available": int64(3)}
}

// Each error response lists its codes, each code under its own status,
// and every operation answers problem+json for them.
func TestErrorResponsesListTheirCodes(t *testing.T) {
	d := mustDoc(t, false)
	for _, r := range routes.Routes {
		o := d.Paths.Value(r.Path).GetOperation(r.Method)
		codes, listed := Codes(r)
		if !listed {
			t.Errorf("%s: the operation does not list its problem codes (apispec Errors)", r.Function)
			continue
		}
		var seen []string
		for st, resp := range o.Responses.Map() {
			list, _ := resp.Value.Extensions[ProblemCodesExtension].([]any)
			for _, c := range list {
				code := c.(string)
				seen = append(seen, code)
				if strconv.Itoa(httpapi.Problems[code].Status) != st {
					t.Errorf("%s: %s under %s, its status is %d", r.Function, code, st, httpapi.Problems[code].Status)
				}
				if resp.Value.Content.Get(ContentProblem) == nil {
					t.Errorf("%s %s: no problem+json", r.Function, st)
				}
				if !strings.Contains(*resp.Value.Description, "`"+code+"`") {
					t.Errorf("%s %s: the description does not name %s", r.Function, st, code)
				}
			}
		}
		sort.Strings(seen)
		if !slices.Equal(seen, codes) {
			t.Errorf("%s: responses list %v, the operation %v", r.Function, seen, codes)
		}
		if resp := o.Responses.Status(503); resp == nil || resp.Value.Headers["Retry-After"] == nil {
			t.Errorf("%s: 503 without Retry-After", r.Function)
		}
	}
}

// Security: user routes need the user scheme, operator routes the
// operator scheme, registration none or the operator's, public none.
func TestSecurityFollowsTheRouteTable(t *testing.T) {
	d := mustDoc(t, false)
	if s := d.Components.SecuritySchemes; s[SchemeUser] == nil || s[SchemeOperator] == nil ||
		s[SchemeUser].Value.Scheme != "bearer" || s[SchemeOperator].Value.Type != "http" {
		t.Fatalf("security schemes %v", s)
	}
	want := map[routes.Auth]string{
		routes.User:         `[{"userBearer":[]}]`,
		routes.Operator:     `[{"operatorBearer":[]}]`,
		routes.Registration: `[{},{"operatorBearer":[]}]`,
		routes.Public:       `[]`,
	}
	for _, r := range routes.Routes {
		o := d.Paths.Value(r.Path).GetOperation(r.Method)
		b, _ := json.Marshal(o.Security)
		if string(b) != want[r.Auth] {
			t.Errorf("%s (%s): security %s, want %s", r.Function, r.Auth, b, want[r.Auth])
		}
		if r.Auth == routes.Registration && !strings.Contains(o.Description, "operator") {
			t.Errorf("%s: the description does not say the registration policy", r.Function)
		}
	}
}

// Money routes require the Idempotency-Key header and say when a
// response is a replay; others have neither.
func TestIdempotencyKeyOnMoneyRoutes(t *testing.T) {
	d := mustDoc(t, false)
	for _, r := range routes.Routes {
		o := d.Paths.Value(r.Path).GetOperation(r.Method)
		p := o.Parameters.GetByInAndName(openapi3.ParameterInHeader, "Idempotency-Key")
		if r.MovesMoney != (p != nil && p.Required) {
			t.Errorf("%s: MovesMoney %v, Idempotency-Key %+v", r.Function, r.MovesMoney, p)
		}
		op, _ := apispec.Get(r.Function)
		replay := o.Responses.Status(op.Status).Value.Headers["Idempotent-Replayed"] != nil
		if replay != r.MovesMoney {
			t.Errorf("%s: Idempotent-Replayed on the success: %v", r.Function, replay)
		}
	}
}

// Parameters and bodies come from the registry: path parameters from the
// path, query parameters (paging where given), the body required unless
// optional.
func TestParametersAndBodiesFollowTheRegistry(t *testing.T) {
	d := mustDoc(t, false)
	for _, r := range routes.Routes {
		o := d.Paths.Value(r.Path).GetOperation(r.Method)
		op, _ := apispec.Get(r.Function)
		for _, seg := range strings.Split(r.Path, "/") {
			if strings.HasPrefix(seg, "{") {
				if p := o.Parameters.GetByInAndName(openapi3.ParameterInPath, strings.Trim(seg, "{}")); p == nil || !p.Required {
					t.Errorf("%s: path parameter %s: %+v", r.Function, seg, p)
				}
			}
		}
		for _, q := range op.Query {
			if p := o.Parameters.GetByInAndName(openapi3.ParameterInQuery, q.Name); p == nil || p.Required {
				t.Errorf("%s: query parameter %s: %+v", r.Function, q.Name, p)
			}
		}
		switch {
		case op.Request == nil && o.RequestBody != nil:
			t.Errorf("%s: a body the registry does not have", r.Function)
		case op.Request != nil && (o.RequestBody == nil || o.RequestBody.Value.Required == op.RequestOptional ||
			o.RequestBody.Value.Content.Get(ContentJSON) == nil):
			t.Errorf("%s: body %+v, optional %v", r.Function, o.RequestBody, op.RequestOptional)
		}
	}
	entries := d.Paths.Value("/accounts/{id}/entries").Get
	for _, name := range []string{"limit", "cursor", "from", "to", "direction"} {
		if entries.Parameters.GetByInAndName(openapi3.ParameterInQuery, name) == nil {
			t.Errorf("entries: no ?%s", name)
		}
	}
}

func TestServers(t *testing.T) {
	d := mustDoc(t, false)
	if d.Servers[0].URL != LocalServer {
		t.Fatalf("servers %v", d.Servers)
	}
	b, err := WithServer("http://127.0.0.1:9999", "here")
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Servers[0].URL != "http://127.0.0.1:9999" || len(loaded.Servers) != len(d.Servers)+1 {
		t.Fatalf("servers %v", loaded.Servers)
	}
}

// ---- schemas from Go types ----

type inner struct {
	Kept  string `json:"kept"`
	Depth string `json:"depth"`
}

type outerResponse struct {
	inner
	Depth    int            `json:"depth"` // shallower: wins
	Plain    string         `json:"plain"`
	Opt      string         `json:"opt,omitempty"`
	Zero     time.Time      `json:"zero,omitzero"`
	At       time.Time      `json:"at"`
	Ptr      *int64         `json:"ptr"`
	OptPtr   *time.Time     `json:"optPtr,omitempty"`
	List     []inner        `json:"list"`
	Map      map[string]int `json:"map"`
	Skipped  string         `json:"-"`
	private  string
	Untagged bool
	Notes    notify.Notification `json:"note"`
}

type someRequest struct {
	Amount httpapi.AmountField `json:"amount" openapi:"required,minimum=1,maximum=9" doc:"won"`
	Number json.Number         `json:"number"`
	Flag   *bool               `json:"flag"`
	Must   *bool               `json:"must" openapi:"required"`
	Split  string              `json:"split" openapi:"enum=a|b,default=a,maxLength=3"`
}

type marshals struct{}

func (marshals) MarshalJSON() ([]byte, error) { return []byte(`{}`), nil }

type twoWays struct {
	A string `json:"a"`
}

func schemaOf(t *testing.T, g *schemaGen, v any, d direction) *openapi3.Schema {
	t.Helper()
	ty := reflect.TypeOf(v)
	if err := g.nameComponents([]reflect.Type{ty}); err != nil {
		t.Fatal(err)
	}
	ref, err := g.ref(ty, d)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Ref != "" {
		return g.components[strings.TrimPrefix(ref.Ref, "#/components/schemas/")].Value
	}
	return ref.Value
}

func TestSchemasFollowEncodingJSON(t *testing.T) {
	g := newSchemaGen(false)
	s := schemaOf(t, g, outerResponse{}, inResponse)
	props := s.Properties
	want := []string{"at", "depth", "kept", "list", "map", "note", "opt", "optPtr", "plain", "ptr", "Untagged", "zero"}
	var got []string
	for k := range props {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("properties %v, want %v", got, want)
	}
	tests := []struct {
		name string
		ok   bool
	}{
		{"depth is the shallower int", props["depth"].Value.Type.Is("integer")},
		{"time is a date-time string", props["at"].Value.Type.Is("string") && props["at"].Value.Format == "date-time"},
		{"a pointer is nullable", props["ptr"].Value.Nullable && props["ptr"].Value.Type.Is("integer")},
		{"an omitempty pointer is optional, not null", !props["optPtr"].Value.Nullable},
		{"a slice is an array of the component", props["list"].Value.Type.Is("array") && props["list"].Value.Items.Ref == "#/components/schemas/inner"},
		{"a map is an object of values", props["map"].Value.AdditionalProperties.Schema.Value.Type.Is("integer")},
		{"Notification is an object with data members", props["note"].Ref == "#/components/schemas/Notification" &&
			g.components["Notification"].Value.AdditionalProperties.Schema != nil},
		{"the published response is open", s.AdditionalProperties.Has == nil},
		{"required unless omitempty/omitzero", slices.Equal(s.Required, []string{"Untagged", "at", "depth", "kept", "list", "map", "note", "plain", "ptr"})},
	}
	for _, tc := range tests {
		if !tc.ok {
			t.Errorf("%s: %+v", tc.name, s)
		}
	}
	if strict := schemaOf(t, newSchemaGen(true), outerResponse{}, inResponse); strict.AdditionalProperties.Has == nil || *strict.AdditionalProperties.Has {
		t.Error("a strict response is not closed")
	}

	r := schemaOf(t, newSchemaGen(false), someRequest{}, inRequest)
	p := r.Properties
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"AmountField is an integer with its bounds", p["amount"].Value.Type.Is("integer") && *p["amount"].Value.Min == 1 &&
			*p["amount"].Value.Max == 9 && p["amount"].Value.Description == "won"},
		{"json.Number is an integer", p["number"].Value.Type.Is("integer")},
		{"an optional pointer is nullable", p["flag"].Value.Nullable},
		{"a required pointer is not", !p["must"].Value.Nullable},
		{"enum, default and maxLength", len(p["split"].Value.Enum) == 2 && p["split"].Value.Default == "a" && *p["split"].Value.MaxLength == 3},
		{"only tagged fields are required", slices.Equal(r.Required, []string{"amount", "must"})},
		{"a request refuses unknown members", r.AdditionalProperties.Has != nil && !*r.AdditionalProperties.Has},
	} {
		if !tc.ok {
			t.Errorf("%s: %+v", tc.name, r)
		}
	}
}

func TestSchemasRefuseWhatTheyCannotSay(t *testing.T) {
	g := newSchemaGen(false)
	if _, err := g.ref(reflect.TypeOf(marshals{}), inResponse); err == nil || !strings.Contains(err.Error(), "overrides") {
		t.Errorf("a custom MarshalJSON without an override: %v", err)
	}
	if _, err := g.ref(reflect.TypeOf(make(chan int)), inResponse); err == nil {
		t.Error("a channel has a schema")
	}
	g = newSchemaGen(false)
	if err := g.nameComponents([]reflect.Type{reflect.TypeOf(twoWays{})}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.ref(reflect.TypeOf(twoWays{}), inResponse); err != nil {
		t.Fatal(err)
	}
	if _, err := g.ref(reflect.TypeOf(twoWays{}), inRequest); err == nil {
		t.Error("one type in a request and a response")
	}
	bad := struct {
		A string `json:"a" openapi:"minimum=x"`
	}{}
	if _, err := newSchemaGen(false).ref(reflect.TypeOf(bad), inRequest); err == nil {
		t.Error("a bad tag is accepted")
	}
}

func TestComponentNames(t *testing.T) {
	d := mustDoc(t, false)
	for _, name := range []string{"TransferRequest", "Transfer", "StoreWithdrawal", "SprinkleCreateRequest", "Account", "Entry", "Notification", "Problem", "GatewayMessage"} {
		if d.Components.Schemas[name] == nil {
			t.Errorf("no component %s", name)
		}
	}
	for name := range d.Components.Schemas {
		if genericName.MatchString(name) {
			t.Errorf("component %s has a generic name", name)
		}
		if strings.HasSuffix(name, "Response") {
			t.Errorf("component %s: name it after its resource (resourceNames); client generators derive <operation>Response", name)
		}
	}
	if camel("add-room-member") != "addRoomMember" {
		t.Error(camel("add-room-member"))
	}
}

// The bounds written in the field tags are the code's constants.
func TestDocumentedBoundsAreTheCodes(t *testing.T) {
	s := mustDoc(t, false).Components.Schemas
	prop := func(schema, name string) *openapi3.Schema {
		t.Helper()
		c := s[schema]
		if c == nil || c.Value.Properties[name] == nil {
			t.Fatalf("no %s.%s", schema, name)
		}
		return c.Value.Properties[name].Value
	}
	max := func(x *openapi3.Schema) int64 {
		if x.Max != nil {
			return int64(*x.Max)
		}
		if x.MaxLength != nil {
			return int64(*x.MaxLength)
		}
		return -1
	}
	for _, tc := range []struct {
		schema, field string
		got, want     int64
	}{
		{"AmountRequest", "amount", max(prop("AmountRequest", "amount")), money.MaxAmount},
		{"OperatorDepositRequest", "amount", max(prop("OperatorDepositRequest", "amount")), money.MaxAmount},
		{"TransferRequest", "amount", max(prop("TransferRequest", "amount")), money.MaxAmount},
		{"SprinkleCreateRequest", "amount", max(prop("SprinkleCreateRequest", "amount")), money.MaxAmount},
		{"TransferRequest", "memo", max(prop("TransferRequest", "memo")), httpapi.MaxMemo},
		{"TransferRequest", "displayName", max(prop("TransferRequest", "displayName")), transfers.MaxDisplayName},
		{"SprinkleCreateRequest", "count", max(prop("SprinkleCreateRequest", "count")), money.MaxShares},
		{"SprinkleCreateRequest", "claimWindowMinutes", max(prop("SprinkleCreateRequest", "claimWindowMinutes")), sprinkle.MaxClaimWindowMinutes},
		{"SprinkleCreateRequest", "claimWindowMinutes default", int64(prop("SprinkleCreateRequest", "claimWindowMinutes").Default.(float64)), sprinkle.DefaultClaimWindowMinutes},
		{"CreateRoomRequest", "name", max(prop("CreateRoomRequest", "name")), sprinkle.MaxRoomName},
	} {
		if tc.got != tc.want {
			t.Errorf("%s.%s: documented %d, the code says %d", tc.schema, tc.field, tc.got, tc.want)
		}
	}
	if apispec.Paging[0].Max != ddb.MaxPageSize {
		t.Errorf("apispec.Paging limit max %d, ddb.MaxPageSize %d", apispec.Paging[0].Max, ddb.MaxPageSize)
	}
	if p := prop("AmountRequest", "amount"); *p.Min != 1 || !p.Type.Is("integer") {
		t.Errorf("amount: %+v", p)
	}
}

// An operation that does not list its codes still documents every status
// its kind of route has, plus a default problem, and claims no code list.
func TestAnOperationWithoutItsCodesHasADefaultProblem(t *testing.T) {
	r := routes.Route{Method: "POST", Path: "/things/{id}", Function: "make-thing", Auth: routes.User, MovesMoney: true}
	op := apispec.Op{Function: "make-thing", Request: struct{}{}, Response: struct{}{}, Status: 201}
	g := newSchemaGen(false)
	o, err := operation(g, r, op)
	if err != nil {
		t.Fatal(err)
	}
	if o.Responses.Default() == nil || o.Responses.Default().Value.Content.Get(ContentProblem) == nil {
		t.Fatal("no default problem")
	}
	for st, resp := range o.Responses.Map() {
		if resp.Value.Extensions[ProblemCodesExtension] != nil {
			t.Errorf("%s claims a complete code list", st)
		}
	}
	for _, st := range []int{400, 401, 403, 409, 413, 415, 422, 500, 503} {
		if o.Responses.Status(st) == nil {
			t.Errorf("no %d", st)
		}
	}
}
