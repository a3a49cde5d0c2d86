package emulator_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"minipay/localstack/emulator"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/clock"
)

var start = time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)

// fakes is a route table served by recording handlers, with an authorizer
// that allows "Bearer ok*" (userId = the token), denies "Bearer deny",
// fails on "Bearer boom" and answers garbage to "Bearer garbage".
type fakes struct {
	mu     sync.Mutex
	events []events.APIGatewayV2HTTPRequest
	auths  []events.APIGatewayV2CustomAuthorizerV2Request
}

func (f *fakes) last(t *testing.T) events.APIGatewayV2HTTPRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.events) == 0 {
		t.Fatal("no handler was invoked")
	}
	return f.events[len(f.events)-1]
}

func (f *fakes) calls() (handler, authorizer int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.events), len(f.auths)
}

var fakeRoutes = []routes.Route{
	{Method: "POST", Path: "/users", Function: "echo", Auth: routes.Public},
	{Method: "GET", Path: "/accounts", Function: "echo", Auth: routes.User},
	{Method: "POST", Path: "/accounts/{id}/charges", Function: "echo", Auth: routes.User},
	{Method: "GET", Path: "/error", Function: "error", Auth: routes.Public},
	{Method: "GET", Path: "/panic", Function: "panic", Auth: routes.Public},
	{Method: "GET", Path: "/inferred", Function: "inferred", Auth: routes.Public},
	{Method: "GET", Path: "/binary", Function: "binary", Auth: routes.Public},
	{Method: "GET", Path: "/bad-status", Function: "bad-status", Auth: routes.Public},
	{Method: "GET", Path: "/slow", Function: "slow", Auth: routes.Public},
}

func newFakeEmulator(t testing.TB, clk clock.Clock) (*emulator.Emulator, *fakes) {
	t.Helper()
	f := &fakes{}
	handlers := map[string]any{
		"echo": func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			f.mu.Lock()
			f.events = append(f.events, e)
			f.mu.Unlock()
			return events.APIGatewayV2HTTPResponse{StatusCode: 201, Headers: map[string]string{"content-type": "application/json", "x-route": e.RouteKey},
				MultiValueHeaders: map[string][]string{"x-multi": {"a", "b"}}, Cookies: []string{"c1=v1", "c2=v2"}, Body: `{"ok":true}`}, nil
		},
		"error": func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{}, errors.New("secret cause")
		},
		"panic": func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			panic("boom")
		},
		"inferred": func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (map[string]any, error) {
			return map[string]any{"hello": "world"}, nil
		},
		"binary": func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"content-type": "application/octet-stream"},
				Body: base64.StdEncoding.EncodeToString([]byte{0xff, 0x00, 0xfe}), IsBase64Encoded: true}, nil
		},
		"bad-status": func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (map[string]any, error) {
			return map[string]any{"statusCode": "teapot"}, nil
		},
		"slow": func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			<-ctx.Done()
			return events.APIGatewayV2HTTPResponse{}, ctx.Err()
		},
		routes.AuthorizerFunction: func(ctx context.Context, e events.APIGatewayV2CustomAuthorizerV2Request) (any, error) {
			f.mu.Lock()
			f.auths = append(f.auths, e)
			f.mu.Unlock()
			switch tok := strings.TrimPrefix(e.Headers["authorization"], "Bearer "); {
			case tok == "deny":
				return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}, nil
			case tok == "boom":
				return nil, errors.New("token table unavailable")
			case tok == "garbage":
				return map[string]any{"allow": "yes"}, nil
			default:
				return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: map[string]any{"role": "user", "userId": tok, "n": 7}}, nil
			}
		},
	}
	em, err := emulator.New(emulator.Config{Handlers: handlers, Routes: fakeRoutes, Clock: clk, Log: quietLog(),
		FunctionTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return em, f
}

type reply struct {
	status int
	header http.Header
	body   string
}

func do(em http.Handler, method, target string, body []byte, header ...string) reply {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	em.ServeHTTP(rec, req)
	return reply{rec.Code, rec.Header(), rec.Body.String()}
}

func TestEventShape(t *testing.T) {
	clk := clock.NewManual(start)
	em, f := newFakeEmulator(t, clk)
	r := do(em, "POST", "http://api.local:8080/accounts/m_1/charges?a=1&b=x%20y&a=2", []byte(`{"amount":5}`),
		"Authorization", "Bearer okKim", "Content-Type", "application/json", "X-Dup", "one", "X-Dup", "two",
		"Cookie", "s=1; t=2", "User-Agent", "curl/8")
	if r.status != 201 || r.body != `{"ok":true}` {
		t.Fatalf("status %d body %s", r.status, r.body)
	}
	e := f.last(t)
	checks := []struct {
		name      string
		got, want any
	}{
		{"version", e.Version, "2.0"},
		{"routeKey", e.RouteKey, "POST /accounts/{id}/charges"},
		{"rawPath", e.RawPath, "/accounts/m_1/charges"},
		{"rawQueryString", e.RawQueryString, "a=1&b=x%20y&a=2"},
		{"queryStringParameters", e.QueryStringParameters, map[string]string{"a": "1,2", "b": "x y"}},
		{"pathParameters", e.PathParameters, map[string]string{"id": "m_1"}},
		{"cookies", e.Cookies, []string{"s=1", "t=2"}},
		{"header x-dup", e.Headers["x-dup"], "one,two"},
		{"header content-type", e.Headers["content-type"], "application/json"},
		{"header authorization", e.Headers["authorization"], "Bearer okKim"},
		{"header host", e.Headers["host"], "api.local:8080"},
		{"header x-forwarded-for", e.Headers["x-forwarded-for"], "192.0.2.1"},
		{"no cookie header", e.Headers["cookie"], ""},
		{"body", e.Body, `{"amount":5}`},
		{"isBase64Encoded", e.IsBase64Encoded, false},
		{"requestContext.routeKey", e.RequestContext.RouteKey, "POST /accounts/{id}/charges"},
		{"requestContext.accountId", e.RequestContext.AccountID, emulator.DefaultAccountID},
		{"requestContext.apiId", e.RequestContext.APIID, "local"},
		{"requestContext.stage", e.RequestContext.Stage, "$default"},
		{"requestContext.domainName", e.RequestContext.DomainName, "api.local"},
		{"requestContext.domainPrefix", e.RequestContext.DomainPrefix, "api"},
		{"requestContext.time", e.RequestContext.Time, "22/Nov/2026:01:00:00 +0000"},
		{"requestContext.timeEpoch", e.RequestContext.TimeEpoch, start.UnixMilli()},
		{"http.method", e.RequestContext.HTTP.Method, "POST"},
		{"http.path", e.RequestContext.HTTP.Path, "/accounts/m_1/charges"},
		{"http.protocol", e.RequestContext.HTTP.Protocol, "HTTP/1.1"},
		{"http.sourceIp", e.RequestContext.HTTP.SourceIP, "192.0.2.1"},
		{"http.userAgent", e.RequestContext.HTTP.UserAgent, "curl/8"},
		{"authorizer.lambda", e.RequestContext.Authorizer.Lambda, map[string]any{"role": "user", "userId": "okKim", "n": float64(7)}},
		{"apigw-requestid header", r.header.Get("Apigw-Requestid"), e.RequestContext.RequestID},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if len(e.RequestContext.RequestID) != 16 {
		t.Errorf("requestId %q is not 16 characters", e.RequestContext.RequestID)
	}

	// The response: headers, multi-value headers and cookies.
	if got := r.header.Values("Set-Cookie"); !reflect.DeepEqual(got, []string{"c1=v1", "c2=v2"}) {
		t.Errorf("Set-Cookie %v", got)
	}
	if got := r.header.Values("X-Multi"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("X-Multi %v", got)
	}
	if r.header.Get("X-Route") != "POST /accounts/{id}/charges" {
		t.Errorf("X-Route %q", r.header.Get("X-Route"))
	}

	// A second request: a new request id; no body, no query, public route.
	do(em, "POST", "/users", nil)
	e2 := f.last(t)
	if e2.RequestContext.RequestID == e.RequestContext.RequestID {
		t.Error("two requests share a request id")
	}
	if e2.Body != "" || e2.IsBase64Encoded || e2.QueryStringParameters != nil || e2.PathParameters != nil || e2.RequestContext.Authorizer != nil {
		t.Errorf("public bodiless request: %+v", e2)
	}

	// A body that is not UTF-8 arrives base64-encoded.
	bin := []byte{0xff, 0xfe, 0x00, 'a'}
	do(em, "POST", "/users", bin)
	e3 := f.last(t)
	if !e3.IsBase64Encoded || e3.Body != base64.StdEncoding.EncodeToString(bin) {
		t.Errorf("binary body: isBase64Encoded %v body %q", e3.IsBase64Encoded, e3.Body)
	}

	// The JSON the handler received is what API Gateway sends: spot-check names.
	raw, _ := json.Marshal(e)
	for _, name := range []string{`"version":"2.0"`, `"routeKey":`, `"rawPath":`, `"rawQueryString":`, `"requestContext":`, `"timeEpoch":`, `"sourceIp":`, `"lambda":`} {
		if !strings.Contains(string(raw), name) {
			t.Errorf("event JSON lacks %s", name)
		}
	}
}

func TestGatewayAnswers(t *testing.T) {
	em, f := newFakeEmulator(t, clock.NewManual(start))
	tests := []struct {
		name        string
		method, url string
		header      []string
		status      int
		body        string
		contentType string
	}{
		{"unknown path", "GET", "/nope", nil, 404, `{"message":"Not Found"}`, "application/json"},
		{"known path, other method", "DELETE", "/users", nil, 404, `{"message":"Not Found"}`, "application/json"},
		{"no authorization header", "GET", "/accounts", nil, 401, `{"message":"Unauthorized"}`, "application/json"},
		{"empty authorization header", "GET", "/accounts", []string{"Authorization", ""}, 401, `{"message":"Unauthorized"}`, "application/json"},
		{"authorizer denies", "GET", "/accounts", []string{"Authorization", "Bearer deny"}, 403, `{"message":"Forbidden"}`, "application/json"},
		{"authorizer fails", "GET", "/accounts", []string{"Authorization", "Bearer boom"}, 500, `{"message":"Internal Server Error"}`, "application/json"},
		{"authorizer answers no simple response", "GET", "/accounts", []string{"Authorization", "Bearer garbage"}, 500, `{"message":"Internal Server Error"}`, "application/json"},
		{"handler error", "GET", "/error", nil, 500, `{"message":"Internal Server Error"}`, "application/json"},
		{"handler panic", "GET", "/panic", nil, 500, `{"message":"Internal Server Error"}`, "application/json"},
		{"malformed statusCode", "GET", "/bad-status", nil, 500, `{"message":"Internal Server Error"}`, "application/json"},
		{"handler timeout: Lambda fails it, the gateway answers 500", "GET", "/slow", nil, 500, `{"message":"Internal Server Error"}`, "application/json"},
		{"inferred response", "GET", "/inferred", nil, 200, `{"hello":"world"}`, "application/json"},
		{"base64 response", "GET", "/binary", nil, 200, "\xff\x00\xfe", "application/octet-stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			handlerCalls, _ := f.calls()
			r := do(em, tt.method, tt.url, nil, tt.header...)
			if r.status != tt.status || r.body != tt.body {
				t.Errorf("got %d %q, want %d %q", r.status, r.body, tt.status, tt.body)
			}
			if ct := r.header.Get("Content-Type"); ct != tt.contentType {
				t.Errorf("content-type %q, want %q", ct, tt.contentType)
			}
			if after, _ := f.calls(); tt.status >= 400 && after != handlerCalls {
				t.Error("the echo handler ran for a request the gateway refused")
			}
		})
	}
}

func TestAuthorizerCache(t *testing.T) {
	clk := clock.NewManual(start)
	em, f := newFakeEmulator(t, clk)
	get := func(header ...string) int { return do(em, "GET", "/accounts", nil, header...).status }

	// No header: 401 and the authorizer is not invoked.
	if s := get(); s != 401 {
		t.Fatalf("no header: %d", s)
	}
	if _, a := f.calls(); a != 0 {
		t.Fatalf("authorizer invoked %d times without an Authorization header", a)
	}

	// Two requests with one header: one authorizer run.
	for i := 0; i < 2; i++ {
		if s := get("Authorization", "Bearer okA"); s != 201 {
			t.Fatalf("request %d: %d", i, s)
		}
	}
	if _, a := f.calls(); a != 1 {
		t.Fatalf("authorizer invoked %d times for two requests with the same header, want 1", a)
	}
	st := em.Stats()
	if st.AuthorizerInvocations != 1 || st.AuthorizerCacheHits != 1 || st.Invocations[routes.AuthorizerFunction] != 1 || st.Invocations["echo"] != 2 {
		t.Errorf("stats %+v", st)
	}
	// The cached context reaches the second request too.
	if got := f.last(t).RequestContext.Authorizer.Lambda["userId"]; got != "okA" {
		t.Errorf("cached userId %v", got)
	}
	// The authorizer got API Gateway's authorizer event.
	f.mu.Lock()
	ae := f.auths[0]
	f.mu.Unlock()
	if ae.Version != "2.0" || ae.Type != "REQUEST" || !reflect.DeepEqual(ae.IdentitySource, []string{"Bearer okA"}) ||
		ae.RouteKey != "GET /accounts" || ae.RouteArn != "arn:aws:execute-api:ap-northeast-2:000000000000:local/$default/GET/accounts" {
		t.Errorf("authorizer event %+v", ae)
	}

	// Another header: another run. A deny is cached as well.
	get("Authorization", "Bearer okB")
	for i := 0; i < 2; i++ {
		if s := get("Authorization", "Bearer deny"); s != 403 {
			t.Fatalf("deny: %d", s)
		}
	}
	if _, a := f.calls(); a != 3 {
		t.Fatalf("authorizer runs %d, want 3", a)
	}

	// An error is not cached.
	get("Authorization", "Bearer boom")
	get("Authorization", "Bearer boom")
	if _, a := f.calls(); a != 5 {
		t.Fatalf("authorizer runs %d, want 5 (errors are not cached)", a)
	}

	// AuthorizerCacheTTL later the cache has expired.
	clk.Advance(routes.AuthorizerCacheTTL - time.Second)
	get("Authorization", "Bearer okA")
	if _, a := f.calls(); a != 5 {
		t.Fatalf("authorizer runs %d before expiry, want 5", a)
	}
	clk.Advance(time.Second)
	get("Authorization", "Bearer okA")
	if _, a := f.calls(); a != 6 {
		t.Fatalf("authorizer runs %d after expiry, want 6", a)
	}
	em.FlushAuthorizerCache()
	get("Authorization", "Bearer okA")
	if _, a := f.calls(); a != 7 {
		t.Fatalf("authorizer runs %d after flush, want 7", a)
	}
}

func TestNewChecksTables(t *testing.T) {
	h := func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{}, nil
	}
	clk := clock.NewManual(start)
	tests := []struct {
		name string
		cfg  emulator.Config
	}{
		{"route without handler", emulator.Config{Routes: []routes.Route{{Method: "GET", Path: "/a", Function: "missing", Auth: routes.Public}}}},
		{"user route without authorizer", emulator.Config{Handlers: map[string]any{"f": h}, Routes: []routes.Route{{Method: "GET", Path: "/a", Function: "f", Auth: routes.User}}}},
		{"schedule without handler", emulator.Config{Schedules: []routes.Schedule{{Name: "j", Function: "missing", Every: time.Minute}}}},
		{"bad schedule", emulator.Config{Handlers: map[string]any{"f": h}, Schedules: []routes.Schedule{{Name: "j", Function: "f", DailyAt: "25:00", TimeZone: "Asia/Seoul"}}}},
		{"duplicate schedule", emulator.Config{Handlers: map[string]any{"f": h}, Schedules: []routes.Schedule{{Name: "j", Function: "f", Every: time.Minute}, {Name: "j", Function: "f", Every: time.Minute}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Clock, tt.cfg.Log = clk, quietLog()
			if _, err := emulator.New(tt.cfg); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}

// BenchmarkGateway measures the emulator's own overhead per request (event
// building, JSON round trips, a cached authorizer) with a trivial handler.
func BenchmarkGateway(b *testing.B) {
	em, _ := newFakeEmulator(b, clock.NewManual(start))
	body := []byte(`{"amount":5}`)
	b.ReportAllocs()
	for b.Loop() {
		if r := do(em, "POST", "/accounts/m_1/charges", body, "Authorization", "Bearer okBench"); r.status != 201 {
			b.Fatal(r.status)
		}
	}
	st := em.Stats()
	b.ReportMetric(float64(st.AuthorizerInvocations), "authorizer-runs")
}

// GET /openapi.json serves Config.OpenAPI, outside the route table; without
// a document the path is like any other unknown one.
func TestTheOpenAPIDocumentIsServed(t *testing.T) {
	clk := clock.NewManual(start)
	doc := []byte(`{"openapi":"3.0.3"}`)
	em, err := emulator.New(emulator.Config{Handlers: map[string]any{}, Clock: clk, Log: quietLog(), OpenAPI: doc})
	if err != nil {
		t.Fatal(err)
	}
	if r := do(em, "GET", emulator.OpenAPIPath, nil); r.status != 200 || r.body != string(doc) || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET: %+v", r)
	}
	if r := do(em, "HEAD", emulator.OpenAPIPath, nil); r.status != 200 || r.body != "" || r.header.Get("Content-Length") != "19" {
		t.Fatalf("HEAD: %+v", r)
	}
	if r := do(em, "POST", emulator.OpenAPIPath, nil); r.status != 404 {
		t.Fatalf("POST: %+v", r)
	}
	bare, err := emulator.New(emulator.Config{Handlers: map[string]any{}, Clock: clk, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	if r := do(bare, "GET", emulator.OpenAPIPath, nil); r.status != 404 {
		t.Fatalf("without a document: %+v", r)
	}
}
