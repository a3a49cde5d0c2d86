package accounts_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"minipay/shared/accounts"
	"minipay/shared/api"
	"minipay/shared/app"
	"minipay/shared/routes"
	"minipay/shared/store"
	"minipay/shared/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

var ctx = context.Background()

// world is one test's API: real handlers on a fresh DynamoDB Local table.
type world struct {
	*storetest.Env
	handlers map[string]any
}

func newWorld(t *testing.T) *world {
	e := storetest.New(t)
	d := api.Deps{Store: e.Store, Clock: e.Clock, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	return &world{Env: e, handlers: app.Handlers(d)}
}

// caller is who sends a request: a user id, "operator", or "" (bad token).
type call struct {
	fn      string
	caller  string
	path    map[string]string
	query   map[string]string
	body    string
	idemKey string
}

type result struct {
	Status int
	Header map[string]string
	Body   map[string]any
	Raw    string
}

func (w *world) do(t testing.TB, c call) result {
	t.Helper()
	route, ok := routes.ByFunction(c.fn)
	if !ok {
		t.Fatalf("no route for %s", c.fn)
	}
	path := route.Path
	for k, v := range c.path {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	e := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: route.Method + " " + route.Path, RawPath: path,
		Headers: map[string]string{"content-type": "application/json"}, Body: c.body,
		PathParameters: c.path, QueryStringParameters: c.query,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: fmt.Sprint(time.Now().UnixNano()), HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: route.Method, Path: path},
		},
	}
	if c.idemKey != "" {
		e.Headers["idempotency-key"] = c.idemKey
	}
	if route.Auth != routes.Public {
		lambdaCtx := map[string]any{api.CtxRole: api.RoleAnonymous}
		switch c.caller {
		case "":
		case api.RoleOperator:
			lambdaCtx = map[string]any{api.CtxRole: api.RoleOperator}
		default:
			lambdaCtx = map[string]any{api.CtxRole: api.RoleUser, api.CtxUserID: c.caller}
		}
		e.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: lambdaCtx}
	}
	h := w.handlers[c.fn].(api.LambdaHandler)
	resp, err := h(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	r := result{Status: resp.StatusCode, Header: resp.Headers, Raw: resp.Body}
	_ = json.Unmarshal([]byte(resp.Body), &r.Body)
	if resp.StatusCode >= 400 && resp.Headers["content-type"] != "application/problem+json" {
		t.Fatalf("error without problem+json: %d %v", resp.StatusCode, resp.Headers)
	}
	return r
}

type user struct{ id, main string }

func (w *world) register(t testing.TB, name string) user {
	t.Helper()
	r := w.do(t, call{fn: "create-user", body: fmt.Sprintf(`{"name":%q}`, name)})
	if r.Status != 201 {
		t.Fatalf("register: %d %s", r.Status, r.Raw)
	}
	u := r.Body["user"].(map[string]any)
	return user{id: u["id"].(string), main: r.Body["mainAccount"].(map[string]any)["id"].(string)}
}

var keySeq atomic.Int64

func newKey() string { return fmt.Sprintf("key-%d-%d", time.Now().UnixNano(), keySeq.Add(1)) }

func (w *world) charge(t testing.TB, u user, amount int64) result {
	return w.do(t, call{fn: "charge", caller: u.id, path: map[string]string{"id": u.main}, body: fmt.Sprintf(`{"amount":%d}`, amount), idemKey: newKey()})
}

func (w *world) available(t testing.TB, u user, account string) int64 {
	t.Helper()
	r := w.do(t, call{fn: "get-account", caller: u.id, path: map[string]string{"id": account}})
	if r.Status != 200 {
		t.Fatalf("get account: %d %s", r.Status, r.Raw)
	}
	return int64(r.Body["available"].(float64))
}

func (w *world) openSavings(t testing.TB, u user) string {
	t.Helper()
	r := w.do(t, call{fn: "open-account", caller: u.id, body: `{"name":"travel"}`})
	if r.Status != 201 {
		t.Fatalf("open savings: %d %s", r.Status, r.Raw)
	}
	return r.Body["id"].(string)
}

func TestWalkthrough(t *testing.T) {
	w := newWorld(t)
	kim := w.register(t, "Kim")
	// Each step a second later, so history order is certain (ids are
	// time-ordered to the millisecond; the test clock does not move by itself).
	tick := func() { w.Clock.Advance(time.Second) }
	if r := w.charge(t, kim, 500_000); r.Status != 201 {
		t.Fatalf("charge: %d %s", r.Status, r.Raw)
	}
	savings := w.openSavings(t, kim)
	tick()
	r := w.do(t, call{fn: "deposit-savings", caller: kim.id, path: map[string]string{"id": savings}, body: `{"amount":200000,"memo":"trip"}`, idemKey: newKey()})
	if r.Status != 201 {
		t.Fatalf("deposit: %d %s", r.Status, r.Raw)
	}
	tick()
	r = w.do(t, call{fn: "withdraw", caller: kim.id, path: map[string]string{"id": kim.main}, body: `{"amount":50000}`, idemKey: newKey()})
	tick()
	if r.Status != 201 {
		t.Fatalf("withdraw: %d %s", r.Status, r.Raw)
	}
	r = w.do(t, call{fn: "operator-deposit", caller: api.RoleOperator, body: fmt.Sprintf(`{"userId":%q,"amount":7000,"reference":"refund 42"}`, kim.id), idemKey: newKey()})
	if r.Status != 201 {
		t.Fatalf("operator deposit: %d %s", r.Status, r.Raw)
	}
	if got := w.available(t, kim, kim.main); got != 500_000-200_000-50_000+7_000 {
		t.Fatalf("main available %d", got)
	}
	if got := w.available(t, kim, savings); got != 200_000 {
		t.Fatalf("savings available %d", got)
	}
	r = w.do(t, call{fn: "list-accounts", caller: kim.id})
	if n := len(r.Body["accounts"].([]any)); n != 2 {
		t.Fatalf("%d accounts, want 2", n)
	}
	// History, newest first.
	r = w.do(t, call{fn: "list-entries", caller: kim.id, path: map[string]string{"id": kim.main}})
	var types []string
	for _, e := range r.Body["entries"].([]any) {
		types = append(types, e.(map[string]any)["type"].(string))
	}
	if got := strings.Join(types, ","); got != "operator_deposit,withdrawal,savings_deposit,charge" {
		t.Fatalf("history %s", got)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	w := newWorld(t)
	kim := w.register(t, "Kim")
	lee := w.register(t, "Lee")
	w.charge(t, kim, 100_000)
	savings := w.openSavings(t, kim)
	leeSavings := w.openSavings(t, lee)
	main := map[string]string{"id": kim.main}
	tests := []struct {
		name   string
		c      call
		status int
		code   string
	}{
		{"malformed JSON", call{fn: "charge", caller: kim.id, path: main, body: `{"amount":`}, 400, "bad_request"},
		{"empty body", call{fn: "charge", caller: kim.id, path: main, body: ``}, 400, "bad_request"},
		{"missing amount", call{fn: "charge", caller: kim.id, path: main, body: `{}`}, 400, "invalid_field"},
		{"unknown field", call{fn: "charge", caller: kim.id, path: main, body: `{"amount":1,"currency":"USD"}`}, 400, "bad_request"},
		{"fractional amount", call{fn: "charge", caller: kim.id, path: main, body: `{"amount":10.5}`}, 400, "invalid_field"},
		{"exponent amount", call{fn: "charge", caller: kim.id, path: main, body: `{"amount":1e4}`}, 400, "invalid_field"},
		{"string amount", call{fn: "charge", caller: kim.id, path: main, body: `{"amount":"100"}`}, 400, "bad_request"},
		{"zero amount", call{fn: "charge", caller: kim.id, path: main, body: `{"amount":0}`}, 400, "invalid_field"},
		{"negative amount", call{fn: "charge", caller: kim.id, path: main, body: `{"amount":-5}`}, 400, "invalid_field"},
		{"huge amount", call{fn: "charge", caller: kim.id, path: main, body: `{"amount":99999999999999999999999}`}, 400, "invalid_field"},
		{"two JSON objects", call{fn: "charge", caller: kim.id, path: main, body: `{"amount":1}{"amount":1}`}, 400, "bad_request"},
		{"no idempotency key", call{fn: "charge", caller: kim.id, path: main, body: `{"amount":1}`}, 400, "idempotency_key_required"},
		{"over the daily limit in one go", call{fn: "charge", caller: kim.id, path: main, body: `{"amount":3000001}`}, 422, "daily_limit_exceeded"},
		{"charge into savings", call{fn: "charge", caller: kim.id, path: map[string]string{"id": savings}, body: `{"amount":1}`}, 422, "wrong_account_kind"},
		{"charge into a foreign main", call{fn: "charge", caller: kim.id, path: map[string]string{"id": lee.main}, body: `{"amount":1}`}, 404, "account_not_found"},
		{"charge into a malformed id", call{fn: "charge", caller: kim.id, path: map[string]string{"id": "../../x"}, body: `{"amount":1}`}, 404, "account_not_found"},
		{"deposit into main", call{fn: "deposit-savings", caller: kim.id, path: main, body: `{"amount":1}`}, 422, "wrong_account_kind"},
		{"deposit into foreign savings", call{fn: "deposit-savings", caller: kim.id, path: map[string]string{"id": leeSavings}, body: `{"amount":1}`}, 404, "account_not_found"},
		{"deposit more than main has", call{fn: "deposit-savings", caller: kim.id, path: map[string]string{"id": savings}, body: `{"amount":100001}`}, 422, "insufficient_funds"},
		{"withdraw from savings", call{fn: "withdraw", caller: kim.id, path: map[string]string{"id": savings}, body: `{"amount":1}`}, 422, "wrong_account_kind"},
		{"withdraw too much", call{fn: "withdraw", caller: kim.id, path: main, body: `{"amount":100001}`}, 422, "insufficient_funds"},
		{"get a foreign account", call{fn: "get-account", caller: kim.id, path: map[string]string{"id": lee.main}}, 404, "account_not_found"},
		{"history of a foreign account", call{fn: "list-entries", caller: kim.id, path: map[string]string{"id": lee.main}}, 404, "account_not_found"},
		{"history with a bad limit", call{fn: "list-entries", caller: kim.id, path: main, query: map[string]string{"limit": "1000"}}, 400, "invalid_field"},
		{"history with a forged cursor", call{fn: "list-entries", caller: kim.id, path: main, query: map[string]string{"cursor": "bm90LWEtY3Vyc29y"}}, 400, "invalid_field"},
		{"bad token", call{fn: "get-account", caller: "", path: main}, 401, "unauthorized"},
		{"bad token on a money route", call{fn: "charge", caller: "", path: main, body: `{"amount":1}`}, 401, "unauthorized"},
		{"user token on the operator route", call{fn: "operator-deposit", caller: kim.id, body: `{"userId":"` + kim.id + `","amount":1}`}, 403, "forbidden"},
		{"operator token on a user route", call{fn: "get-account", caller: api.RoleOperator, path: main}, 403, "forbidden"},
		{"operator deposit to nobody", call{fn: "operator-deposit", caller: api.RoleOperator, body: `{"userId":"u_0000000000000000","amount":1}`}, 404, "account_not_found"},
		{"operator deposit with a bad user id", call{fn: "operator-deposit", caller: api.RoleOperator, body: `{"userId":"kim","amount":1}`}, 400, "invalid_field"},
		{"register without a name", call{fn: "create-user", body: `{"name":"  "}`}, 400, "invalid_field"},
		{"register with a control character", call{fn: "create-user", body: `{"name":"a\u0000b"}`}, 400, "invalid_field"},
		{"open a second main account", call{fn: "open-account", caller: kim.id, body: `{"kind":"main"}`}, 400, "invalid_field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.c.idemKey == "" && tc.name != "no idempotency key" {
				tc.c.idemKey = newKey()
			}
			r := w.do(t, tc.c)
			if r.Status != tc.status || r.Body["code"] != tc.code {
				t.Fatalf("got %d %s, want %d %s", r.Status, r.Raw, tc.status, tc.code)
			}
			if r.Body["detail"] == nil || r.Body["title"] == nil {
				t.Fatalf("problem without title or detail: %s", r.Raw)
			}
		})
	}
	if got := w.available(t, kim, kim.main); got != 100_000 {
		t.Fatalf("bad requests changed the balance: %d", got)
	}
	if got := w.available(t, kim, savings); got != 0 {
		t.Fatalf("bad requests changed savings: %d", got)
	}
}

// run fires n requests at once and counts statuses.
func run(n int, f func(i int) result) map[int]int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			r := f(i)
			mu.Lock()
			counts[r.Status]++
			mu.Unlock()
		}(i)
	}
	close(start)
	wg.Wait()
	return counts
}

func TestFiftyConcurrentChargesStopAtTheDailyLimit(t *testing.T) {
	w := newWorld(t)
	kim := w.register(t, "Kim")
	counts := run(50, func(int) result { return w.charge(t, kim, 100_000) })
	if counts[201] != 30 || counts[422] != 20 {
		t.Fatalf("statuses %v, want 30x201 and 20x422", counts)
	}
	if got := w.available(t, kim, kim.main); got != 3_000_000 {
		t.Fatalf("balance %d", got)
	}
	charged, _ := w.Store.ChargedToday(ctx, kim.id, w.Clock.Now())
	if charged != 3_000_000 {
		t.Fatalf("counter %d", charged)
	}
	// The refusal says what is left.
	r := w.charge(t, kim, 1)
	if r.Status != 422 || r.Body["remainingToday"] != float64(0) {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
}

func TestLimitAcrossMidnightKST(t *testing.T) {
	w := newWorld(t)
	kim := w.register(t, "Kim")
	kst := time.FixedZone("KST", 9*3600)
	w.Clock.Set(time.Date(2026, 11, 22, 23, 59, 59, 0, kst))
	if r := w.charge(t, kim, 2_990_000); r.Status != 201 {
		t.Fatal(r.Raw)
	}
	if r := w.charge(t, kim, 20_000); r.Status != 422 || r.Body["remainingToday"] != float64(10_000) {
		t.Fatalf("before midnight: %d %s", r.Status, r.Raw)
	}
	w.Clock.Set(time.Date(2026, 11, 23, 0, 0, 0, 0, kst))
	if r := w.charge(t, kim, 3_000_000); r.Status != 201 {
		t.Fatalf("after midnight: %d %s", r.Status, r.Raw)
	}
}

func TestFiftyConcurrentSavingsDepositsNeverOverdraw(t *testing.T) {
	w := newWorld(t)
	kim := w.register(t, "Kim")
	savings := w.openSavings(t, kim)
	w.charge(t, kim, 100_000)
	counts := run(50, func(int) result {
		return w.do(t, call{fn: "deposit-savings", caller: kim.id, path: map[string]string{"id": savings}, body: `{"amount":3000}`, idemKey: newKey()})
	})
	if counts[201] != 33 || counts[422] != 17 { // 33 * 3,000 = 99,000
		t.Fatalf("statuses %v", counts)
	}
	if got := w.available(t, kim, kim.main); got != 1_000 {
		t.Fatalf("main %d, want 1,000", got)
	}
}

func TestSameIdempotencyKeyTwentyTimesAtOnceMovesMoneyOnce(t *testing.T) {
	w := newWorld(t)
	kim := w.register(t, "Kim")
	key := newKey()
	bodies := make([]string, 20)
	counts := run(20, func(i int) result {
		r := w.do(t, call{fn: "charge", caller: kim.id, path: map[string]string{"id": kim.main}, body: `{"amount":10000}`, idemKey: key})
		bodies[i] = r.Raw
		return r
	})
	if counts[201] != 20 {
		t.Fatalf("statuses %v, want every request to get the one 201", counts)
	}
	for _, b := range bodies {
		if b != bodies[0] {
			t.Fatalf("replay differs:\n%s\n%s", b, bodies[0])
		}
	}
	if got := w.available(t, kim, kim.main); got != 10_000 {
		t.Fatalf("balance %d, want 10,000", got)
	}
	// The same key with another body is refused; a refusal is replayed too.
	r := w.do(t, call{fn: "charge", caller: kim.id, path: map[string]string{"id": kim.main}, body: `{"amount":20000}`, idemKey: key})
	if r.Status != 422 || r.Body["code"] != "idempotency_key_reused" {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
	k2 := newKey()
	first := w.do(t, call{fn: "withdraw", caller: kim.id, path: map[string]string{"id": kim.main}, body: `{"amount":999999}`, idemKey: k2})
	w.charge(t, kim, 2_000_000) // now the withdrawal would succeed, but the key is spent
	again := w.do(t, call{fn: "withdraw", caller: kim.id, path: map[string]string{"id": kim.main}, body: `{"amount":999999}`, idemKey: k2})
	if first.Status != 422 || again.Raw != first.Raw || again.Header["idempotent-replayed"] != "true" {
		t.Fatalf("refusal not replayed: %d %s / %d %s", first.Status, first.Raw, again.Status, again.Raw)
	}
	// Keys are scoped to the caller: Lee may use Kim's key.
	lee := w.register(t, "Lee")
	r = w.do(t, call{fn: "charge", caller: lee.id, path: map[string]string{"id": lee.main}, body: `{"amount":10000}`, idemKey: key})
	if r.Status != 201 || r.Header["idempotent-replayed"] == "true" {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
}

func TestHistoryPagesAndExpiry(t *testing.T) {
	w := newWorld(t)
	kim := w.register(t, "Kim")
	start := w.Clock.Now()
	for i := 0; i < 7; i++ {
		w.Clock.Set(start.Add(time.Duration(i) * time.Hour))
		if r := w.charge(t, kim, int64(1000+i)); r.Status != 201 {
			t.Fatal(r.Raw)
		}
	}
	page := func(cursor string) ([]int64, string) {
		q := map[string]string{"limit": "3"}
		if cursor != "" {
			q["cursor"] = cursor
		}
		r := w.do(t, call{fn: "list-entries", caller: kim.id, path: map[string]string{"id": kim.main}, query: q})
		if r.Status != 200 {
			t.Fatal(r.Raw)
		}
		var amounts []int64
		for _, e := range r.Body["entries"].([]any) {
			m := e.(map[string]any)
			if m["direction"] != "in" || m["counterparty"] != accounts.LabelBank {
				t.Fatalf("entry %v", m)
			}
			amounts = append(amounts, int64(m["amount"].(float64)))
		}
		next, _ := r.Body["nextCursor"].(string)
		return amounts, next
	}
	var all []int64
	cursor := ""
	for i := 0; ; i++ {
		amounts, next := page(cursor)
		all = append(all, amounts...)
		if next == "" || i > 5 {
			break
		}
		cursor = next
	}
	if fmt.Sprint(all) != "[1006 1005 1004 1003 1002 1001 1000]" {
		t.Fatalf("pages gave %v", all)
	}
	// A year after the third charge, the first three are gone from reads
	// even though DynamoDB Local never deletes them.
	w.Clock.Set(start.Add(store.HistoryRetention + 2*time.Hour + time.Minute))
	all = nil
	cursor = ""
	for i := 0; i < 5; i++ {
		amounts, next := page(cursor)
		all = append(all, amounts...)
		if next == "" {
			break
		}
		cursor = next
	}
	if fmt.Sprint(all) != "[1006 1005 1004 1003]" {
		t.Fatalf("after a year: %v", all)
	}
}

func TestEveryRouteHasAHandler(t *testing.T) {
	w := newWorld(t)
	for _, f := range routes.Functions() {
		if w.handlers[f] == nil {
			t.Errorf("no handler for function %s", f)
		}
		if _, err := os.Stat("../../functions/" + f + "/main.go"); err != nil {
			t.Errorf("functions/%s/main.go: %v", f, err)
		}
	}
	if len(w.handlers) != len(routes.Functions()) {
		t.Errorf("%d handlers for %d functions", len(w.handlers), len(routes.Functions()))
	}
	_ = http.StatusOK
}
