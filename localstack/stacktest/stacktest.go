// Package stacktest runs the whole local stack in a test: the real
// handlers (app.Handlers) behind the emulator of API Gateway and the
// Scheduler, on a fresh DynamoDB Local table, served over HTTP on
// loopback. Tests drive it the way a client does and end with the audit.
//
// Every request a test sends and every response it gets is validated
// against the OpenAPI document (shared/wiring/openapi's Checker, on the strict
// document: responses may carry no undocumented member); a mismatch fails
// the test. Requests the document refuses must be refused by the API.
package stacktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"minipay/localstack/ddbtest"
	"minipay/localstack/emulator"
	"minipay/shared/capabilities/users"
	"minipay/shared/edge/httpapi"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
	"minipay/shared/wiring/app"
	"minipay/shared/wiring/openapi"
)

// OperatorToken is the stack's operator token.
const OperatorToken = "stacktest-operator-token"

// Stack is one test's running stack.
type Stack struct {
	*ddbtest.Env
	Services httpapi.Services
	Emulator *emulator.Emulator
	URL      string
	// OpenAPI validates every exchange of Do against the document.
	OpenAPI *openapi.Checker
	client  *http.Client
}

// New starts a stack; cfg's registration policy and token lifetime apply,
// wrap wraps the DynamoDB client (fault injection, counting, the
// contention model).
func New(t testing.TB, cfg config.Config, wrap ...func(ddb.Client) ddb.Client) *Stack {
	t.Helper()
	env := ddbtest.New(t, wrap...)
	cfg.Table = env.Name
	cfg.OperatorTokenSHA256 = users.TokenHash(OperatorToken)
	var logOut io.Writer = io.Discard
	if os.Getenv("MINIPAY_TEST_LOG") != "" {
		logOut = os.Stderr
	}
	log := slog.New(slog.NewJSONHandler(logOut, nil))
	d, err := app.NewServices(env.DB, cfg, env.Clock, log)
	if err != nil {
		t.Fatal(err)
	}
	d.Ledger = env.Ledger
	spec, err := openapi.JSON()
	if err != nil {
		t.Fatal(err)
	}
	queues := emulator.NewLocalQueues(routes.Queues)
	d.Queue = queues
	// One DynamoDB Local on a shared 2-core machine queues bursts far
	// beyond what the cloud would, so requests get longer than the stack's
	// function timeout; the emulator's own tests check that timeout.
	em, err := emulator.New(emulator.Config{Handlers: app.Handlers(d), Routes: routes.Routes, Schedules: routes.Schedules,
		Clock: env.Clock, Log: log, Sweeper: env.TTLSweeper(), OpenAPI: spec, Queues: queues, FunctionTimeout: 2 * time.Minute,
		// The test clock's look at the due index, on the bare client (not
		// the wrapped one the tests count or inject faults into).
		NextDue: ddb.NewTable(ddbtest.Client(), env.Name).EarliestDue})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(emulator.TestClockPath+"/", em.TestClockHandler()) // local only, as in the local stack
	mux.Handle(emulator.TestClockPath, em.TestClockHandler())
	mux.Handle("/", em)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	checker, err := openapi.NewChecker(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	checkers.Lock()
	checkers.all = append(checkers.all, checker)
	checkers.Unlock()
	return &Stack{Env: env, Services: d, Emulator: em, URL: srv.URL, OpenAPI: checker,
		// Five minutes: a request may wait long on a loaded machine.
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 5 * time.Minute}}
}

var checkers struct {
	sync.Mutex
	all []*openapi.Checker
}

// OpenAPIStats sums what every stack's Checker validated in this process.
func OpenAPIStats() openapi.Stats {
	checkers.Lock()
	defer checkers.Unlock()
	sum := openapi.Stats{Seen: map[string]map[int]int{}}
	for _, c := range checkers.all {
		s := c.Stats()
		sum.Exchanges += s.Exchanges
		sum.Refused += s.Refused
		sum.Unrouted += s.Unrouted
		sum.Gateway += s.Gateway
		for op, m := range s.Seen {
			if sum.Seen[op] == nil {
				sum.Seen[op] = map[int]int{}
			}
			for st, n := range m {
				sum.Seen[op][st] += n
			}
		}
	}
	return sum
}

// OpenAPIReport is what the stacks validated against the document: the
// totals and, per operation, the statuses seen.
func OpenAPIReport() string {
	s := OpenAPIStats()
	d, err := openapi.Strict()
	if err != nil {
		return err.Error()
	}
	lines, missing := s.Coverage(d)
	var b strings.Builder
	fmt.Fprintf(&b, "openapi: %d requests and their responses validated against the document "+
		"(%d refused by the document and by the API, %d unrouted answered by the fallback, %d API Gateway answers)\n",
		s.Exchanges, s.Refused, s.Unrouted, s.Gateway)
	for _, l := range lines {
		b.WriteString("  " + l + "\n")
	}
	if len(missing) > 0 {
		fmt.Fprintf(&b, "  operations without a 2xx exchange: %s\n", strings.Join(missing, ", "))
	}
	return b.String()
}

// Response is an answer with its JSON body decoded (Body nil if not an object).
type Response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// Code is the problem code ("" for none).
func (r Response) Code() string { c, _ := r.Body["code"].(string); return c }

// String is "201" or "422 insufficient_funds".
func (r Response) String() string { return strings.TrimSpace(fmt.Sprint(r.Status, " ", r.Code())) }

// Request is one HTTP request. A Body is sent as application/json unless
// Header sets a Content-Type ("-" sends none).
type Request struct {
	Method, Path, Token, Body string
	Key                       string // Idempotency-Key
	Header                    map[string]string
}

// Do sends r. The request and its response are validated against the
// OpenAPI document (openapi.Checker); a mismatch fails the test (t.Errorf:
// Do may run on many goroutines at once).
func (s *Stack) Do(t testing.TB, r Request) Response {
	t.Helper()
	req, err := http.NewRequest(r.Method, s.URL+r.Path, strings.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	if r.Body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	if r.Key != "" {
		req.Header.Set("Idempotency-Key", r.Key)
	}
	for k, v := range r.Header {
		if v == "-" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	// The test clock is the local stack's own route, never deployed and
	// not in the document.
	if !strings.HasPrefix(req.URL.Path, emulator.TestClockPath) {
		if err := s.OpenAPI.Check(context.Background(), openapi.Exchange{Request: req, Body: []byte(r.Body),
			Status: resp.StatusCode, Header: resp.Header, Reply: raw}); err != nil {
			t.Errorf("%v", err)
		}
	}
	out := Response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	_ = dec.Decode(&out.Body)
	return out
}

// Post is a POST with a fresh Idempotency-Key.
func (s *Stack) Post(t testing.TB, path, token, body string) Response {
	t.Helper()
	return s.Do(t, Request{Method: "POST", Path: path, Token: token, Body: body, Key: NewKey()})
}

// Get is a GET.
func (s *Stack) Get(t testing.TB, path, token string) Response {
	t.Helper()
	return s.Do(t, Request{Method: "GET", Path: path, Token: token})
}

var keys atomic.Int64

// NewKey is a fresh Idempotency-Key.
func NewKey() string { return fmt.Sprintf("k-%d-%d", time.Now().UnixNano(), keys.Add(1)) }

// User is a registered user.
type User struct{ ID, Main, Name, Token string }

// Register creates a user (open registration, or with the operator token).
func (s *Stack) Register(t testing.TB, name string) User {
	t.Helper()
	r := s.Do(t, Request{Method: "POST", Path: "/users", Body: fmt.Sprintf(`{"name":%q}`, name)})
	if r.Status != 201 {
		r = s.Do(t, Request{Method: "POST", Path: "/users", Token: OperatorToken,
			Body: fmt.Sprintf(`{"name":%q,"personId":%q}`, name, NewKey())})
	}
	if r.Status != 201 {
		t.Fatalf("register %s: %s", name, r.Raw)
	}
	return User{ID: r.Body["user"].(map[string]any)["id"].(string), Main: r.Body["mainAccount"].(map[string]any)["id"].(string),
		Name: name, Token: r.Body["token"].(string)}
}

// Charge charges u's main account from their bank.
func (s *Stack) Charge(t testing.TB, u User, amount int64) {
	t.Helper()
	if r := s.Post(t, "/accounts/"+u.Main+"/charges", u.Token, fmt.Sprintf(`{"amount":%d}`, amount)); r.Status != 201 {
		t.Fatalf("charge %d: %s", amount, r.Raw)
	}
}

// Fund credits u's main account from the operator, outside the daily limit.
func (s *Stack) Fund(t testing.TB, u User, amount int64) {
	t.Helper()
	if r := s.Post(t, "/operator/deposits", OperatorToken, fmt.Sprintf(`{"userId":%q,"amount":%d,"reference":%q}`, u.ID, amount, NewKey())); r.Status != 201 {
		t.Fatalf("fund %d: %s", amount, r.Raw)
	}
}

// Account is u's account as GET /accounts/{id} answers it.
func (s *Stack) Account(t testing.TB, u User, id string) (balance, held, available int64) {
	t.Helper()
	r := s.Get(t, "/accounts/"+id, u.Token)
	if r.Status != 200 {
		t.Fatalf("account %s: %s", id, r.Raw)
	}
	return Int(r.Body["balance"]), Int(r.Body["held"]), Int(r.Body["available"])
}

// Available is u's main account's available balance.
func (s *Stack) Available(t testing.TB, u User) int64 {
	t.Helper()
	_, _, a := s.Account(t, u, u.Main)
	return a
}

// Int reads a JSON number decoded as json.Number.
func Int(v any) int64 {
	n, _ := v.(json.Number)
	i, _ := n.Int64()
	return i
}
