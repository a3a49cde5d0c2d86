// Package openapi builds minipay's OpenAPI 3.0.3 document from the route
// table (shared/edge/routes: methods, paths, auth, which routes move money) and
// the operations each capability registers in shared/edge/apispec (the Go types
// of its request and response bodies, its query parameters, the problem
// codes it answers). Schemas come from the Go types by reflection
// (schema.go); errors are one Problem schema whose code is an enum of
// exactly the keys of httpapi.Problems.
//
// The document is built once per process (Document, JSON). Strict is the
// same document with every response object closed (no members beyond the
// documented ones): the stack tests validate real traffic against it
// (Checker), so a field a handler sends that the document does not name
// fails a test, while the published document lets clients ignore members
// added later.
//
// The route table's $default route (routes.Fallback) is not an operation:
// it answers what no operation matches (404 not_found, 405
// method_not_allowed). Nor is routes.Document, which serves this document
// (Handler).
//
// Every capability registers its operations in its init; this package
// imports each of them (the app imports this one, to serve the document),
// and a route without an operation fails the build of the document.
package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"

	"minipay/shared/capabilities/accounts"
	"minipay/shared/capabilities/merchant"
	"minipay/shared/capabilities/settlement"
	"minipay/shared/edge/apispec"
	"minipay/shared/edge/httpapi"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/ledger"

	// The capabilities whose types the document does not name: imported
	// for the operations their init registers.
	_ "minipay/shared/capabilities/notify"
	_ "minipay/shared/capabilities/savings"
	_ "minipay/shared/capabilities/sprinkle"
	_ "minipay/shared/capabilities/transfers"
	_ "minipay/shared/capabilities/users"
)

// tagDescriptions describe each tag (an operation's tag is its path's
// first segment); a new first segment needs a line here.
var tagDescriptions = map[string]string{
	"accounts":    "Main and savings accounts: balances, charges from the bank, deposits, withdrawals, history",
	"me":          "The caller: tokens, settings, notifications",
	"operator":    "The external payment system (operator token)",
	"orders":      "Food orders: authorize, accept, cook (capture), progress, cancel, refund",
	"rooms":       "Chat rooms and money sprinkles",
	"settlements": "Bill settlement requests: shares computed once, paid or declined once",
	"stores":      "Stores and their merchant accounts",
	"transfers":   "Transfers to friends, immediate or pending",
	"users":       "Registration",
}

// Version is the document's info.version.
const Version = "1.0.0"

// LocalServer is where `make run` serves the API.
const LocalServer = "http://127.0.0.1:8080"

// Security scheme names.
const (
	SchemeUser     = "userBearer"
	SchemeOperator = "operatorBearer"
)

// ProblemCodesExtension lists, on each error response of an operation, the
// problem codes that response may carry (its description says the same
// for people). The stack tests check every answered code against it.
const ProblemCodesExtension = "x-problem-codes"

// Media types.
const (
	ContentJSON    = "application/json"
	ContentProblem = "application/problem+json"
)

var (
	docOnce, strictOnce, jsonOnce sync.Once
	doc, strict                   *openapi3.T
	docErr, strictErr, jsonErr    error
	docJSON                       []byte
)

// Document is the published document (built once; do not modify it).
func Document() (*openapi3.T, error) {
	docOnce.Do(func() { doc, docErr = Build(false) })
	return doc, docErr
}

// Strict is the document with every response object closed, for
// validating real traffic (built once; do not modify it).
func Strict() (*openapi3.T, error) {
	strictOnce.Do(func() { strict, strictErr = Build(true) })
	return strict, strictErr
}

// JSON is the published document as indented JSON (built once).
func JSON() ([]byte, error) {
	jsonOnce.Do(func() {
		d, err := Document()
		if err != nil {
			jsonErr = err
			return
		}
		docJSON, jsonErr = json.MarshalIndent(d, "", "  ")
	})
	return docJSON, jsonErr
}

// WithServer is the published document as JSON with url as its first
// server (where it was fetched from), the others after it.
func WithServer(url, description string) ([]byte, error) {
	b, err := JSON()
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	var servers []map[string]any
	if err := json.Unmarshal(m["servers"], &servers); err != nil {
		return nil, err
	}
	servers = slices.DeleteFunc(servers, func(s map[string]any) bool { return s["url"] == url })
	first := map[string]any{"url": url}
	if description != "" {
		first["description"] = description
	}
	servers = append([]map[string]any{first}, servers...)
	if m["servers"], err = json.Marshal(servers); err != nil {
		return nil, err
	}
	return json.MarshalIndent(m, "", "  ")
}

// Build builds the document from routes.Routes and the apispec registry;
// strict closes every response object. It fails for a route without a
// registered operation, an operation that names no route, an unknown
// problem code, or a type it cannot describe.
func Build(strictResponses bool) (*openapi3.T, error) {
	if err := checkRegistry(); err != nil {
		return nil, err
	}
	g := newSchemaGen(strictResponses)
	if err := g.nameComponents(bodyTypes()); err != nil {
		return nil, err
	}
	t := skeleton(g)
	g.components["Problem"] = problemSchema(strictResponses).NewRef()
	g.components["GatewayMessage"] = gatewayMessageSchema(strictResponses).NewRef()
	tags, err := addOperations(g, t)
	if err != nil {
		return nil, err
	}
	if err := g.inlineNullables(); err != nil {
		return nil, err
	}
	if err := addTags(t, tags); err != nil {
		return nil, err
	}
	return load(g, t)
}

// bodyTypes are the types of every registered operation's request and
// response bodies: the roots the schema components are named from.
func bodyTypes() []reflect.Type {
	var roots []reflect.Type
	for _, f := range apispec.Functions() {
		op, _ := apispec.Get(f)
		for _, v := range []any{op.Request, op.Response} {
			if v != nil {
				roots = append(roots, reflect.TypeOf(v))
			}
		}
	}
	return roots
}

// skeleton is the document without its operations and tags: info,
// servers, and the components every operation shares (g's schemas, which
// the operations fill in).
func skeleton(g *schemaGen) *openapi3.T {
	return &openapi3.T{
		OpenAPI: "3.0.3",
		Info: &openapi3.Info{
			Title:       "minipay",
			Version:     Version,
			Description: infoDescription,
			Contact:     &openapi3.Contact{Name: "minipay maintainers"},
			License:     &openapi3.License{Name: "Apache-2.0", URL: "https://www.apache.org/licenses/LICENSE-2.0"},
		},
		Servers: openapi3.Servers{
			{URL: LocalServer, Description: "the local stack (make run)"},
			{URL: "https://{apiId}.execute-api.{region}.amazonaws.com", Description: "the deployed stack (its ApiUrl output)",
				Variables: map[string]*openapi3.ServerVariable{
					"apiId":  {Default: "apiid", Description: "the HTTP API's id"},
					"region": {Default: "ap-northeast-2", Description: "the stack's region"},
				}},
		},
		Paths: openapi3.NewPaths(),
		Components: &openapi3.Components{
			Schemas:         g.components,
			SecuritySchemes: securitySchemes(),
			Parameters: openapi3.ParametersMap{
				"IdempotencyKey": {Value: idempotencyKeyParam()},
			},
			Headers: openapi3.Headers{
				"IdempotentReplayed": {Value: &openapi3.Header{Parameter: openapi3.Parameter{
					Description: "true on a replay: this is the stored response of the first request with this Idempotency-Key, byte for byte",
					Schema:      openapi3.NewStringSchema().WithEnum("true").NewRef(),
				}}},
				"RetryAfter": {Value: &openapi3.Header{Parameter: openapi3.Parameter{
					Description: "seconds to wait before retrying (on every problem+json 503)",
					Schema:      openapi3.NewIntegerSchema().WithMin(0).NewRef(),
				}}},
			},
		},
	}
}

// addOperations adds one operation per row of the route table to t's
// paths; it returns the tags the operations use.
func addOperations(g *schemaGen, t *openapi3.T) (map[string]bool, error) {
	tags := map[string]bool{}
	for _, r := range routes.Routes {
		op, _ := apispec.Get(r.Function)
		o, err := operation(g, r, op)
		if err != nil {
			return nil, fmt.Errorf("openapi: %s %s: %w", r.Method, r.Path, err)
		}
		item := t.Paths.Value(r.Path)
		if item == nil {
			item = &openapi3.PathItem{}
			t.Paths.Set(r.Path, item)
		}
		if item.GetOperation(r.Method) != nil {
			return nil, fmt.Errorf("openapi: %s %s is in the route table twice", r.Method, r.Path)
		}
		item.SetOperation(r.Method, o)
		tags[o.Tags[0]] = true
	}
	return tags, nil
}

// addTags lists the tags in t, sorted, each with its description.
func addTags(t *openapi3.T, tags map[string]bool) error {
	for _, name := range sortedKeys(tags) {
		desc, ok := tagDescriptions[name]
		if !ok {
			return fmt.Errorf("openapi: tag %q (a path's first segment) has no description in tagDescriptions", name)
		}
		t.Tags = append(t.Tags, &openapi3.Tag{Name: name, Description: desc})
	}
	return nil
}

// load passes t through the loader: references resolve, and what is
// returned is what a client loading the JSON gets. It drops first the
// components nothing references, then validates.
func load(g *schemaGen, t *openapi3.T) (*openapi3.T, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	// A component referenced only where it was nullable (and so inlined)
	// is referenced nowhere: drop it, as linters ask.
	var unused bool
	for name := range g.components {
		if !bytes.Contains(b, []byte(`"#/components/schemas/`+name+`"`)) {
			delete(g.components, name)
			unused = true
		}
	}
	if unused {
		if b, err = json.Marshal(t); err != nil {
			return nil, err
		}
	}
	loaded, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		return nil, fmt.Errorf("openapi: the document does not load: %w", err)
	}
	if err := loaded.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi: the document does not validate: %w", err)
	}
	return loaded, nil
}

// checkRegistry: every route has an operation and every operation a
// route; every listed code is a row of httpapi.Problems.
func checkRegistry() error {
	if errs := registryErrors(routes.Routes, apispec.Functions(), apispec.Get); len(errs) > 0 {
		return fmt.Errorf("openapi: %s", strings.Join(errs, "; "))
	}
	return nil
}

func registryErrors(rs []routes.Route, functions []string, get func(string) (apispec.Op, bool)) []string {
	var errs []string
	byFunction := map[string]bool{}
	for _, r := range rs {
		byFunction[r.Function] = true
		if _, ok := get(r.Function); !ok {
			errs = append(errs, fmt.Sprintf("route %s %s (function %s) has no apispec operation: register one in its package's apispec.go",
				r.Method, r.Path, r.Function))
		}
	}
	for _, f := range functions {
		if !byFunction[f] {
			errs = append(errs, fmt.Sprintf("apispec operation %s names no route of the route table", f))
		}
		op, _ := get(f)
		for _, c := range op.Errors {
			if _, ok := httpapi.Problems[c]; !ok {
				errs = append(errs, fmt.Sprintf("apispec operation %s lists %q, which is not a row of httpapi.Problems", f, c))
			}
		}
		if op.Response == nil {
			errs = append(errs, fmt.Sprintf("apispec operation %s has no Response", f))
		}
	}
	return errs
}

const infoDescription = `minipay: accounts, charges from the bank, savings, transfers to friends
(immediate or pending), chat-room sprinkles and a year of history.

Rules a client can rely on:

- Amounts are whole won, JSON integers (no fractions, no strings), from 1 to 1,000,000,000,000.
- Every POST that moves money needs an Idempotency-Key header (1-200 printable ASCII characters,
  scoped to the caller). The first completed answer, success or refusal, is stored and replayed
  byte for byte with Idempotent-Replayed: true; the same key with another request is 422
  idempotency_key_reused; while the first is still running, 409 idempotency_key_in_use.
  Validation errors (400) and 5xx are not stored: retry them with the same key.
- Errors are RFC 9457 application/problem+json with a stable code (the Problem schema's enum);
  refusals that carry facts add members (available, remainingToday, limit, field, movementId,
  reference, retryAfterSeconds). A 503 carries Retry-After. A 500 says nothing of its cause.
- Request bodies are application/json objects decoded strictly: unknown, duplicate or
  differently cased members are refused (400).
- Lists are newest first and paged: ?limit= (1-100) and ?cursor= (the previous page's
  nextCursor, valid only for the same listing); nextCursor is absent on the last page.
- Responses may gain members: ignore the ones you do not know.
- The API Gateway answers some requests itself with {"message": ...} as application/json
  (GatewayMessage): 401 without an Authorization header, 413 above 10 MB, 429 when throttled,
  500 when a function fails, 503.`

func securitySchemes() openapi3.SecuritySchemes {
	return openapi3.SecuritySchemes{
		SchemeUser: {Value: &openapi3.SecurityScheme{Type: "http", Scheme: "bearer", BearerFormat: "mp_<64 hex>",
			Description: "A user's API token (from POST /users or POST /me/token; shown once; it expires). " +
				"A revoked token still works until the API Gateway's authorizer cache lets go of it (30 s)."}},
		SchemeOperator: {Value: &openapi3.SecurityScheme{Type: "http", Scheme: "bearer",
			Description: "The external payment system's operator token (the stack stores only its sha256). It credits users " +
				"and, under operator registration, creates them; it cannot act for a user."}},
	}
}

func idempotencyKeyParam() *openapi3.Parameter {
	s := openapi3.NewStringSchema().WithMinLength(1).WithMaxLength(httpapi.MaxIdempotencyKeyLen).WithPattern(`^[ -~]+$`)
	return &openapi3.Parameter{Name: "Idempotency-Key", In: openapi3.ParameterInHeader, Required: true, Schema: s.NewRef(),
		Description: "A unique key per request (e.g. a UUID), 1-200 printable ASCII characters, scoped to the caller. " +
			"Reuse it only to retry the same request: the first completed answer is replayed."}
}

// problemMembers are the typed errors whose members the Problem schema
// documents: each adds facts beside the code.
func problemMembers() []domainerr.WithMembers {
	busy, _ := ledger.Busy().(domainerr.WithMembers)
	return append([]domainerr.WithMembers{
		&ledger.InsufficientFundsError{}, &ledger.LimitExceededError{}, domainerr.Field("", ""),
		&accounts.ReferenceCreditedError{}, busy,
		&merchant.WrongStatusError{}, &merchant.RefundTooMuchError{}, &merchant.MerchantFundsError{},
	}, settlement.RefusalMembers()...)
}

func problemSchema(strict bool) *openapi3.Schema {
	s := openapi3.NewObjectSchema()
	s.Description = "An RFC 9457 problem: every 4xx and 5xx answer of the API's functions. The code is stable API; " +
		"typed refusals add members beside it."
	codes := sortedKeys(httpapi.Problems)
	enum := make([]any, len(codes))
	for i, c := range codes {
		enum[i] = c
	}
	code := described(openapi3.NewStringSchema(), "what went wrong, machine-readable and stable")
	code.Enum = enum
	s.Properties = openapi3.Schemas{
		"type":     described(openapi3.NewStringSchema(), "urn:minipay:problem:<code>").WithPattern(`^urn:minipay:problem:[a-z_]+$`).NewRef(),
		"title":    described(openapi3.NewStringSchema(), "the code's fixed title").NewRef(),
		"status":   described(openapi3.NewIntegerSchema().WithMin(400).WithMax(599), "the HTTP status").NewRef(),
		"code":     code.NewRef(),
		"detail":   described(openapi3.NewStringSchema(), "what happened, for people").NewRef(),
		"instance": described(openapi3.NewStringSchema(), "the request's path").NewRef(),
	}
	s.Required = []string{"code", "status", "title", "type"}
	// The members of typed refusals, from the errors themselves.
	type member struct {
		kind  reflect.Kind
		codes []string
	}
	members := map[string]*member{}
	for _, e := range problemMembers() {
		c, _ := e.(domainerr.Coded)
		for name, v := range e.Members() {
			m := members[name]
			if m == nil {
				m = &member{kind: reflect.TypeOf(v).Kind()}
				members[name] = m
			}
			m.codes = append(m.codes, c.ErrorCode())
		}
	}
	for _, name := range sortedKeys(members) {
		m := members[name]
		var ms *openapi3.Schema
		switch m.kind {
		case reflect.String:
			ms = openapi3.NewStringSchema()
		default:
			ms = openapi3.NewInt64Schema()
		}
		sort.Strings(m.codes)
		ms.Description = "with " + strings.Join(m.codes, ", ")
		s.Properties[name] = ms.NewRef()
	}
	if strict {
		s.AdditionalProperties = openapi3.AdditionalProperties{Has: openapi3.Ptr(false)}
	}
	return s
}

func gatewayMessageSchema(strict bool) *openapi3.Schema {
	s := openapi3.NewObjectSchema().WithProperty("message", openapi3.NewStringSchema())
	s.Required = []string{"message"}
	s.Description = "The API Gateway's own answer (not problem+json), e.g. {\"message\":\"Unauthorized\"}."
	if strict {
		s.AdditionalProperties = openapi3.AdditionalProperties{Has: openapi3.Ptr(false)}
	}
	return s
}

// edgeCodes are the codes the edge (httpapi) may answer on any route of
// r's kind, whatever its handler does.
func edgeCodes(r routes.Route, op apispec.Op) []string {
	codes := []string{"bad_request", "body_too_large", "unsupported_media_type", "internal", "contention", "timed_out"}
	if op.Request != nil || len(op.Query) > 0 || r.MovesMoney {
		codes = append(codes, "invalid_field")
	}
	switch r.Auth {
	case routes.User, routes.Operator:
		codes = append(codes, "unauthorized", "token_expired", "token_revoked", "forbidden")
	case routes.Registration:
		codes = append(codes, "forbidden")
	}
	if r.MovesMoney {
		codes = append(codes, "idempotency_key_required", "idempotency_key_in_use", "idempotency_key_reused")
	}
	return codes
}

// Codes are the problem codes r's operation may answer; false: its
// operation does not list them (apispec.Op.Errors is nil).
func Codes(r routes.Route) ([]string, bool) {
	op, ok := apispec.Get(r.Function)
	if !ok || op.Errors == nil {
		return nil, false
	}
	codes := append(edgeCodes(r, op), op.Errors...)
	sort.Strings(codes)
	return slices.Compact(codes), true
}

// gatewayStatuses are the statuses API Gateway may answer itself, and
// whether only routes behind the authorizer can get it.
var gatewayStatuses = []struct {
	status     int
	authorizer bool
	why        string
}{
	{http.StatusUnauthorized, true, "without an Authorization header"},
	{http.StatusRequestEntityTooLarge, false, "a body above 10 MB"},
	{http.StatusTooManyRequests, false, "throttled"},
	{http.StatusInternalServerError, false, "the function failed or timed out"},
	{http.StatusServiceUnavailable, false, "unavailable"},
}

// operation is route r's operation: who may call it, its parameters, its
// body, its success and its error responses.
func operation(g *schemaGen, r routes.Route, op apispec.Op) (*openapi3.Operation, error) {
	segs := strings.Split(strings.TrimPrefix(r.Path, "/"), "/")
	o := &openapi3.Operation{
		OperationID: camel(r.Function),
		Summary:     r.Summary,
		Tags:        []string{segs[0]},
		Responses:   openapi3.NewResponsesWithCapacity(16),
	}
	if err := setAccess(o, r); err != nil {
		return nil, err
	}
	params, err := parameters(r, op, segs)
	if err != nil {
		return nil, err
	}
	o.Parameters = params
	if o.RequestBody, err = requestBody(g, op); err != nil {
		return nil, err
	}
	if err := setSuccess(g, o, r, op); err != nil {
		return nil, err
	}
	setErrors(o, r, op)
	return o, nil
}

// setAccess sets o's security from r's auth, and its description: who may
// call it, whether it moves money, which function serves it.
func setAccess(o *openapi3.Operation, r routes.Route) error {
	var desc []string
	switch r.Auth {
	case routes.User:
		o.Security = &openapi3.SecurityRequirements{{SchemeUser: {}}}
		desc = append(desc, "Needs a user's token (userBearer).")
	case routes.Operator:
		o.Security = &openapi3.SecurityRequirements{{SchemeOperator: {}}}
		desc = append(desc, "Needs the operator token (operatorBearer); a user's token is 403 forbidden.")
	case routes.Registration:
		o.Security = &openapi3.SecurityRequirements{{}, {SchemeOperator: {}}}
		desc = append(desc, fmt.Sprintf("Registration is a policy of the deployment (%s): under %q (the local default) anyone may "+
			"register with no token; under %q (the cloud stack's default) only the operator token may, with personId, "+
			"and anything else is 403 forbidden.", config.EnvRegistration, config.RegistrationOpen, config.RegistrationOperator))
	case routes.Public:
		o.Security = &openapi3.SecurityRequirements{}
	default:
		return fmt.Errorf("unknown auth %q", r.Auth)
	}
	if r.MovesMoney {
		desc = append(desc, "Moves money: needs an Idempotency-Key; the first completed answer (success or refusal) is replayed for the same key.")
	}
	desc = append(desc, "Served by the Lambda function "+r.Function+".")
	o.Description = strings.Join(desc, " ")
	return nil
}

// parameters are r's: the path's (segs), the query's, the idempotency
// key.
func parameters(r routes.Route, op apispec.Op, segs []string) (openapi3.Parameters, error) {
	var ps openapi3.Parameters
	for _, s := range segs {
		if !strings.HasPrefix(s, "{") {
			continue
		}
		name := strings.Trim(s, "{}+")
		d := op.Path[name]
		if d == "" {
			d = "the " + name
		}
		ps = append(ps, &openapi3.ParameterRef{Value: openapi3.NewPathParameter(name).
			WithSchema(openapi3.NewStringSchema().WithMinLength(1)).WithDescription(d)})
	}
	for name := range op.Path {
		if !strings.Contains(r.Path, "{"+name+"}") {
			return nil, fmt.Errorf("apispec describes path parameter %q, which %s does not have", name, r.Path)
		}
	}
	for _, q := range op.Query {
		p, err := queryParameter(q)
		if err != nil {
			return nil, err
		}
		ps = append(ps, &openapi3.ParameterRef{Value: p})
	}
	if r.MovesMoney {
		ps = append(ps, &openapi3.ParameterRef{Ref: "#/components/parameters/IdempotencyKey"})
	}
	return ps, nil
}

// queryParameter is q as an OpenAPI query parameter.
func queryParameter(q apispec.Param) (*openapi3.Parameter, error) {
	var s *openapi3.Schema
	switch q.Type {
	case "integer":
		s = openapi3.NewInt64Schema()
		if q.Max != 0 {
			s.WithMin(float64(q.Min)).WithMax(float64(q.Max))
		}
	case "string":
		s = openapi3.NewStringSchema()
		s.Format = q.Format
	default:
		return nil, fmt.Errorf("query parameter %s: type %q (want string or integer)", q.Name, q.Type)
	}
	for _, e := range q.Enum {
		s.Enum = append(s.Enum, e)
	}
	// An empty value (?cursor=) is as absent.
	p := openapi3.NewQueryParameter(q.Name).WithSchema(s).WithDescription(q.Description)
	p.AllowEmptyValue = true
	return p, nil
}

// requestBody is op's request body; nil if it takes none.
func requestBody(g *schemaGen, op apispec.Op) (*openapi3.RequestBodyRef, error) {
	if op.Request == nil {
		return nil, nil
	}
	s, err := g.ref(reflect.TypeOf(op.Request), inRequest)
	if err != nil {
		return nil, err
	}
	if s.Ref == "" && s.Value.Description == "" && len(s.Value.Properties) == 0 {
		s.Value.Description = "an empty object, or no body"
	}
	return &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(!op.RequestOptional).
		WithContent(openapi3.NewContentWithSchemaRef(s, []string{ContentJSON}))}, nil
}

// setSuccess sets o's success responses: op's status and its other
// statuses, each with op's response body.
func setSuccess(g *schemaGen, o *openapi3.Operation, r routes.Route, op apispec.Op) error {
	if op.Response == nil {
		return fmt.Errorf("apispec operation %s has no Response", op.Function)
	}
	body, err := g.ref(reflect.TypeOf(op.Response), inResponse)
	if err != nil {
		return err
	}
	for _, st := range append([]int{op.Status}, op.OtherStatuses...) {
		resp := openapi3.NewResponse().WithDescription(http.StatusText(st)).
			WithContent(openapi3.NewContentWithSchemaRef(body, []string{ContentJSON}))
		if r.MovesMoney {
			resp.Headers = openapi3.Headers{"Idempotent-Replayed": {Ref: "#/components/headers/IdempotentReplayed"}}
		}
		o.Responses.Set(fmt.Sprint(st), &openapi3.ResponseRef{Value: resp})
	}
	return nil
}

// setErrors sets o's error responses: one per status, listing its codes
// and the gateway's own answers; a default Problem if op does not list
// its codes.
func setErrors(o *openapi3.Operation, r routes.Route, op apispec.Op) {
	codes, listed := Codes(r)
	if !listed {
		codes = edgeCodes(r, op)
	}
	byStatus := map[int][]string{}
	for _, c := range codes {
		st := httpapi.Problems[c].Status
		byStatus[st] = append(byStatus[st], c)
	}
	for _, gw := range gatewayStatuses {
		if gw.authorizer && r.Auth != routes.User && r.Auth != routes.Operator {
			continue
		}
		if _, ok := byStatus[gw.status]; !ok {
			byStatus[gw.status] = nil
		}
	}
	for _, st := range sortedKeys(byStatus) {
		resp := errorResponse(r, st, byStatus[st], listed)
		o.Responses.Set(fmt.Sprint(st), &openapi3.ResponseRef{Value: resp})
	}
	if !listed {
		o.Responses.Set("default", &openapi3.ResponseRef{Value: openapi3.NewResponse().
			WithDescription("Any other problem (this operation does not list its codes)").
			WithContent(openapi3.NewContentWithSchemaRef(openapi3.NewSchemaRef("#/components/schemas/Problem", nil), []string{ContentProblem}))})
	}
}

// errorResponse documents status st of route r: its problem codes (as
// problem+json; complete if listed) and the gateway's own answer where it
// has one.
func errorResponse(r routes.Route, st int, codes []string, listed bool) *openapi3.Response {
	sort.Strings(codes)
	content := openapi3.Content{}
	var lines []string
	if len(codes) > 0 {
		content[ContentProblem] = openapi3.NewMediaType().WithSchemaRef(openapi3.NewSchemaRef("#/components/schemas/Problem", nil))
		for _, c := range codes {
			lines = append(lines, fmt.Sprintf("`%s`: %s", c, httpapi.Problems[c].Title))
		}
	}
	for _, gw := range gatewayStatuses {
		if gw.status == st && (!gw.authorizer || r.Auth == routes.User || r.Auth == routes.Operator) {
			content[ContentJSON] = openapi3.NewMediaType().WithSchemaRef(openapi3.NewSchemaRef("#/components/schemas/GatewayMessage", nil))
			lines = append(lines, "the API Gateway's own {\"message\"} ("+gw.why+")")
		}
	}
	if !listed {
		content[ContentProblem] = openapi3.NewMediaType().WithSchemaRef(openapi3.NewSchemaRef("#/components/schemas/Problem", nil))
		lines = append(lines, "other codes (this operation does not list its own)")
	}
	resp := openapi3.NewResponse().WithDescription(http.StatusText(st) + ": " + strings.Join(lines, "; ")).WithContent(content)
	if len(codes) > 0 && listed {
		list := make([]any, len(codes))
		for i, c := range codes {
			list[i] = c
		}
		resp.Extensions = map[string]any{ProblemCodesExtension: list}
	}
	headers := openapi3.Headers{}
	if st == http.StatusServiceUnavailable || st == http.StatusTooManyRequests {
		headers["Retry-After"] = &openapi3.HeaderRef{Ref: "#/components/headers/RetryAfter"}
	}
	// A stored refusal is replayed like a success.
	if r.MovesMoney && st != http.StatusBadRequest && st != http.StatusUnauthorized && st < 500 &&
		st != http.StatusRequestEntityTooLarge && st != http.StatusUnsupportedMediaType && st != http.StatusTooManyRequests {
		headers["Idempotent-Replayed"] = &openapi3.HeaderRef{Ref: "#/components/headers/IdempotentReplayed"}
	}
	if len(headers) > 0 {
		resp.Headers = headers
	}
	return resp
}

func sortedKeys[K interface{ ~string | ~int }, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
