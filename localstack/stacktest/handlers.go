package stacktest

// A World drives the real handlers directly with API Gateway v2 events, the
// way the authorizer and API Gateway would, on a fresh DynamoDB Local table
// per test (ddbtest audits it when the test ends): a capability's own tests
// call its handlers without the emulator's HTTP server; Stack serves them
// over HTTP.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"minipay/localstack/ddbtest"
	"minipay/shared/edge/httpapi"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
	"minipay/shared/wiring/app"
)

// World is one test's API: real handlers on a fresh table.
type World struct {
	*ddbtest.Env
	Services httpapi.Services
	Handlers map[string]any
	mu       sync.Mutex
	names    map[string]string // user id -> name, as the authorizer passes it
}

// NewWorld builds a World; wrap, if given, wraps the DynamoDB client (fault
// injection, instrumentation).
func NewWorld(t *testing.T, wrap ...func(ddb.Client) ddb.Client) *World {
	return NewWorldWithConfig(t, config.Config{}, wrap...)
}

// NewWorldWithConfig is NewWorld with a configuration (registration policy, token
// lifetime, operator token hash).
func NewWorldWithConfig(t *testing.T, cfg config.Config, wrap ...func(ddb.Client) ddb.Client) *World {
	e := ddbtest.New(t, wrap...)
	cfg.Table = e.Name
	var logOut io.Writer = io.Discard
	if os.Getenv("MINIPAY_TEST_LOG") != "" {
		logOut = os.Stderr
	}
	d, err := app.NewServices(e.DB, cfg, e.Clock, slog.New(slog.NewJSONHandler(logOut, nil)))
	if err != nil {
		t.Fatal(err)
	}
	d.Ledger = e.Ledger
	return &World{Env: e, Services: d, Handlers: app.Handlers(d), names: map[string]string{}}
}

// Call is one request. Caller is a user id, httpapi.RoleOperator, or "" (a
// token that matched nothing).
type Call struct {
	Fn      string
	Caller  string
	NoName  bool // an authorizer context without the caller's name (old tokens)
	Path    map[string]string
	Query   map[string]string
	Body    string
	IdemKey string
}

// Result is a handler's response with its JSON body decoded.
type Result struct {
	Status int
	Header map[string]string
	Body   map[string]any
	Raw    string
}

// Do sends c to its route's handler. An error response that is not
// problem+json fails the test.
func (w *World) Do(t testing.TB, c Call) Result {
	t.Helper()
	route, ok := routes.ByFunction(c.Fn)
	if !ok {
		t.Fatalf("no route for %s", c.Fn)
	}
	path := route.Path
	for k, v := range c.Path {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	e := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: route.Method + " " + route.Path, RawPath: path,
		Headers: map[string]string{"content-type": "application/json"}, Body: c.Body,
		PathParameters: c.Path, QueryStringParameters: c.Query,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: fmt.Sprint(time.Now().UnixNano()), HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: route.Method, Path: path},
		},
	}
	if c.IdemKey != "" {
		e.Headers["idempotency-key"] = c.IdemKey
	}
	if route.Auth != routes.Public {
		lambdaCtx := map[string]any{httpapi.CtxRole: httpapi.RoleAnonymous}
		switch c.Caller {
		case "":
		case httpapi.RoleOperator:
			lambdaCtx = map[string]any{httpapi.CtxRole: httpapi.RoleOperator}
		default:
			lambdaCtx = map[string]any{httpapi.CtxRole: httpapi.RoleUser, httpapi.CtxUserID: c.Caller}
			w.mu.Lock()
			if name, ok := w.names[c.Caller]; ok && !c.NoName {
				lambdaCtx[httpapi.CtxName] = name
			}
			w.mu.Unlock()
		}
		e.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: lambdaCtx}
	}
	resp, err := w.Handlers[c.Fn].(httpapi.LambdaHandler)(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	r := Result{Status: resp.StatusCode, Header: resp.Headers, Raw: resp.Body}
	_ = json.Unmarshal([]byte(resp.Body), &r.Body)
	if resp.StatusCode >= 400 && resp.Headers["content-type"] != "application/problem+json" {
		t.Errorf("error without problem+json: %d %v", resp.StatusCode, resp.Headers)
	}
	return r
}

// Register creates a user through POST /users.
func (w *World) Register(t testing.TB, name string) User {
	t.Helper()
	r := w.Do(t, Call{Fn: "create-user", Body: fmt.Sprintf(`{"name":%q}`, name)})
	if r.Status != 201 {
		t.Fatalf("register: %d %s", r.Status, r.Raw)
	}
	u := r.Body["user"].(map[string]any)
	out := User{ID: u["id"].(string), Main: r.Body["mainAccount"].(map[string]any)["id"].(string), Name: name, Token: r.Body["token"].(string)}
	w.mu.Lock()
	w.names[out.ID] = name
	w.mu.Unlock()
	return out
}

// Run fires n requests at once and counts their outcomes as "201" or
// "422 insufficient_funds" (status, then the problem code if any).
func Run(n int, f func(i int) Result) map[string]int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]int{}
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			r := f(i)
			k := fmt.Sprint(r.Status)
			if code, ok := r.Body["code"].(string); ok {
				k += " " + code
			}
			mu.Lock()
			counts[k]++
			mu.Unlock()
		}(i)
	}
	close(start)
	wg.Wait()
	return counts
}
