package transfers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"minipay/shared/api"
	"minipay/shared/app"
	"minipay/shared/routes"
	"minipay/shared/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

var ctx = context.Background()

// world is one test's API: real handlers on a fresh DynamoDB Local table.
type world struct {
	*storetest.Env
	handlers map[string]any
	mu       sync.Mutex
	names    map[string]string // user id -> name, as the authorizer would pass it
}

func newWorld(t *testing.T) *world {
	e := storetest.New(t)
	d := api.Deps{Store: e.Store, Clock: e.Clock, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	return &world{Env: e, handlers: app.Handlers(d), names: map[string]string{}}
}

type call struct {
	fn      string
	caller  string
	noName  bool // an authorizer context without the name (old tokens)
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
		if c.caller != "" {
			lambdaCtx = map[string]any{api.CtxRole: api.RoleUser, api.CtxUserID: c.caller}
			w.mu.Lock()
			if name, ok := w.names[c.caller]; ok && !c.noName {
				lambdaCtx[api.CtxName] = name
			}
			w.mu.Unlock()
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
		t.Errorf("error without problem+json: %d %v", resp.StatusCode, resp.Headers)
	}
	return r
}

type user struct{ id, main, name, token string }

func (w *world) register(t testing.TB, name string) user {
	t.Helper()
	r := w.do(t, call{fn: "create-user", body: fmt.Sprintf(`{"name":%q}`, name)})
	if r.Status != 201 {
		t.Fatalf("register: %d %s", r.Status, r.Raw)
	}
	u := r.Body["user"].(map[string]any)
	out := user{id: u["id"].(string), main: r.Body["mainAccount"].(map[string]any)["id"].(string), name: name, token: r.Body["token"].(string)}
	w.mu.Lock()
	w.names[out.id] = name
	w.mu.Unlock()
	return out
}

var keySeq atomic.Int64

func newKey() string { return fmt.Sprintf("key-%d-%d", time.Now().UnixNano(), keySeq.Add(1)) }

func (w *world) charge(t testing.TB, u user, amount int64) {
	t.Helper()
	r := w.do(t, call{fn: "charge", caller: u.id, path: map[string]string{"id": u.main}, body: fmt.Sprintf(`{"amount":%d}`, amount), idemKey: newKey()})
	if r.Status != 201 {
		t.Fatalf("charge %d: %d %s", amount, r.Status, r.Raw)
	}
}

func (w *world) withdraw(t testing.TB, u user, amount int64) {
	t.Helper()
	r := w.do(t, call{fn: "withdraw", caller: u.id, path: map[string]string{"id": u.main}, body: fmt.Sprintf(`{"amount":%d}`, amount), idemKey: newKey()})
	if r.Status != 201 {
		t.Fatalf("withdraw %d: %d %s", amount, r.Status, r.Raw)
	}
}

func (w *world) transfer(t testing.TB, from, to user, amount int64) result {
	return w.do(t, call{fn: "transfer", caller: from.id, body: fmt.Sprintf(`{"to":%q,"amount":%d}`, to.id, amount), idemKey: newKey()})
}

func (w *world) available(t testing.TB, u user) int64 {
	t.Helper()
	r := w.do(t, call{fn: "get-account", caller: u.id, path: map[string]string{"id": u.main}})
	if r.Status != 200 {
		t.Fatalf("get account: %d %s", r.Status, r.Raw)
	}
	return int64(r.Body["available"].(float64))
}

func (w *world) entries(t testing.TB, u user) []map[string]any {
	t.Helper()
	r := w.do(t, call{fn: "list-entries", caller: u.id, path: map[string]string{"id": u.main}, query: map[string]string{"limit": "100"}})
	if r.Status != 200 {
		t.Fatalf("entries: %d %s", r.Status, r.Raw)
	}
	var out []map[string]any
	for _, e := range r.Body["entries"].([]any) {
		out = append(out, e.(map[string]any))
	}
	return out
}

func (w *world) chargedToday(t testing.TB, u user) int64 {
	t.Helper()
	n, err := w.Store.ChargedToday(ctx, u.id, w.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// run fires n requests at once and counts statuses (and problem codes).
func run(n int, f func(i int) result) map[string]int {
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

func TestTransferAndHistoryLabels(t *testing.T) {
	w := newWorld(t)
	kim := w.register(t, "Kim Minji")
	lee := w.register(t, "Lee Jun")
	w.charge(t, kim, 50_000)
	w.Clock.Advance(time.Second)
	r := w.do(t, call{fn: "transfer", caller: kim.id, idemKey: newKey(),
		body: fmt.Sprintf(`{"to":%q,"amount":12000,"displayName":"Minji from work","memo":"lunch"}`, lee.id)})
	if r.Status != 201 {
		t.Fatalf("transfer: %d %s", r.Status, r.Raw)
	}
	want := map[string]any{"type": "transfer", "from": kim.main, "to": lee.id, "toAccount": lee.main, "amount": float64(12_000),
		"autoCharged": float64(0), "displayName": "Minji from work", "memo": "lunch"}
	for k, v := range want {
		if r.Body[k] != v {
			t.Errorf("response %s = %v, want %v (%s)", k, r.Body[k], v, r.Raw)
		}
	}
	if r.Body["id"] == "" || r.Body["createdAt"] == nil {
		t.Errorf("response without id or createdAt: %s", r.Raw)
	}
	if got := w.available(t, kim); got != 38_000 {
		t.Errorf("sender %d", got)
	}
	if got := w.available(t, lee); got != 12_000 {
		t.Errorf("receiver %d", got)
	}
	in := w.entries(t, lee)
	if len(in) != 1 {
		t.Fatalf("receiver has %d entries", len(in))
	}
	e := in[0]
	if e["id"] != r.Body["id"] || e["type"] != "transfer" || e["amount"] != float64(12_000) || e["direction"] != "in" ||
		e["counterparty"] != "Kim Minji" || e["originator"] != "Kim Minji" || e["displayName"] != "Minji from work" ||
		e["counterpartyAccount"] != kim.main || e["memo"] != "lunch" {
		t.Errorf("receiver entry %v", e)
	}
	out := w.entries(t, kim)
	if len(out) != 2 || out[0]["type"] != "transfer" || out[1]["type"] != "charge" {
		t.Fatalf("sender history %v", out)
	}
	e = out[0]
	if e["amount"] != float64(-12_000) || e["direction"] != "out" || e["counterparty"] != lee.id ||
		e["counterpartyAccount"] != lee.main || e["originator"] != "Kim Minji" {
		t.Errorf("sender entry %v", e)
	}
}

// A token issued before names were stored on token items still works: the
// handler reads the profile for the name.
func TestCallerWithoutNameInContext(t *testing.T) {
	w := newWorld(t)
	kim := w.register(t, "Kim Minji")
	lee := w.register(t, "Lee Jun")
	w.charge(t, kim, 10_000)
	r := w.do(t, call{fn: "transfer", caller: kim.id, noName: true, idemKey: newKey(), body: fmt.Sprintf(`{"to":%q,"amount":10000}`, lee.id)})
	if r.Status != 201 {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
	if e := w.entries(t, lee)[0]; e["originator"] != "Kim Minji" {
		t.Fatalf("receiver entry %v", e)
	}
}

// The authorizer reads the name from the token item into the context.
func TestAuthorizerPassesTheName(t *testing.T) {
	w := newWorld(t)
	kim := w.register(t, "Kim Minji")
	h := w.handlers[routes.AuthorizerFunction].(func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error))
	resp, err := h(ctx, events.APIGatewayV2CustomAuthorizerV2Request{Headers: map[string]string{"authorization": "Bearer " + kim.token}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Context[api.CtxUserID] != kim.id || resp.Context[api.CtxName] != "Kim Minji" || resp.Context[api.CtxRole] != api.RoleUser {
		t.Fatalf("context %v", resp.Context)
	}
}

func TestBadInputMovesNothing(t *testing.T) {
	w := newWorld(t)
	kim := w.register(t, "Kim")
	lee := w.register(t, "Lee")
	w.charge(t, kim, 100_000)
	body := func(to, rest string) string { return fmt.Sprintf(`{"to":%q%s}`, to, rest) }
	tests := []struct {
		name   string
		c      call
		status int
		code   string
	}{
		{"self transfer", call{body: body(kim.id, `,"amount":1000`)}, 422, "self_transfer"},
		{"unknown receiver", call{body: body("u_0000000000000001", `,"amount":1000`)}, 404, "account_not_found"},
		{"unknown receiver needing an auto-charge", call{body: body("u_0000000000000001", `,"amount":200000`)}, 404, "account_not_found"},
		{"malformed receiver", call{body: body("kim", `,"amount":1000`)}, 400, "invalid_field"},
		{"an account id as receiver", call{body: body(lee.main, `,"amount":1000`)}, 400, "invalid_field"},
		{"missing receiver", call{body: `{"amount":1000}`}, 400, "invalid_field"},
		{"missing amount", call{body: body(lee.id, ``)}, 400, "invalid_field"},
		{"zero amount", call{body: body(lee.id, `,"amount":0`)}, 400, "invalid_field"},
		{"negative amount", call{body: body(lee.id, `,"amount":-1`)}, 400, "invalid_field"},
		{"fractional amount", call{body: body(lee.id, `,"amount":1.5`)}, 400, "invalid_field"},
		{"string amount", call{body: body(lee.id, `,"amount":"1000"`)}, 400, "bad_request"},
		{"huge amount", call{body: body(lee.id, `,"amount":1000000000001`)}, 400, "invalid_field"},
		{"unknown field", call{body: body(lee.id, `,"amount":1000,"currency":"KRW"`)}, 400, "bad_request"},
		{"display name too long", call{body: body(lee.id, `,"amount":1000,"displayName":"`+strings.Repeat("가", 51)+`"`)}, 400, "invalid_field"},
		{"memo too long", call{body: body(lee.id, `,"amount":1000,"memo":"`+strings.Repeat("m", 201)+`"`)}, 400, "invalid_field"},
		{"control character in memo", call{body: body(lee.id, `,"amount":1000,"memo":"a\u0007b"`)}, 400, "invalid_field"},
		{"malformed JSON", call{body: `{"to":`}, 400, "bad_request"},
		{"no idempotency key", call{body: body(lee.id, `,"amount":1000`), idemKey: "-"}, 400, "idempotency_key_required"},
		{"bad token", call{caller: "-", body: body(lee.id, `,"amount":1000`)}, 401, "unauthorized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.fn = "transfer"
			switch c.caller {
			case "":
				c.caller = kim.id
			case "-":
				c.caller = ""
			}
			switch c.idemKey {
			case "":
				c.idemKey = newKey()
			case "-":
				c.idemKey = ""
			}
			r := w.do(t, c)
			if r.Status != tc.status || r.Body["code"] != tc.code {
				t.Fatalf("got %d %s, want %d %s", r.Status, r.Raw, tc.status, tc.code)
			}
			if r.Body["detail"] == nil || r.Body["title"] == nil {
				t.Fatalf("problem without title or detail: %s", r.Raw)
			}
		})
	}
	if got := w.available(t, kim); got != 100_000 {
		t.Errorf("sender %d", got)
	}
	if got := w.available(t, lee); got != 0 {
		t.Errorf("receiver %d", got)
	}
	if got := w.chargedToday(t, kim); got != 100_000 {
		t.Errorf("charged today %d: a refused transfer charged", got)
	}
	if n := len(w.entries(t, kim)); n != 1 {
		t.Errorf("sender has %d entries, want the one charge", n)
	}
}

func TestAutoCharge(t *testing.T) {
	tests := []struct {
		name             string
		charged, amount  int64 // the sender's charge beforehand, the transfer
		status           int
		code             string
		autoCharged      int64
		remainingToday   float64
		senderAfter      int64
		receiverAfter    int64
		chargedTodayWant int64
	}{
		{"no shortfall", 10_000, 10_000, 201, "", 0, 0, 0, 10_000, 10_000},
		{"shortfall 1", 10_000, 10_001, 201, "", 10_000, 0, 9_999, 10_001, 20_000},
		{"shortfall 10,000", 5_000, 15_000, 201, "", 10_000, 0, 0, 15_000, 15_000},
		{"shortfall 10,001", 0, 10_001, 201, "", 20_000, 0, 9_999, 10_001, 20_000},
		{"blocked by the limit", 2_995_000, 2_995_001, 422, "daily_limit_exceeded", 0, 5_000, 2_995_000, 0, 2_995_000},
		{"more than a day's limit short", 0, 3_000_001, 422, "daily_limit_exceeded", 0, 3_000_000, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			kim := w.register(t, "Kim")
			lee := w.register(t, "Lee")
			if tc.charged > 0 {
				w.charge(t, kim, tc.charged)
			}
			w.Clock.Advance(time.Second)
			r := w.transfer(t, kim, lee, tc.amount)
			if r.Status != tc.status || tc.code != "" && r.Body["code"] != tc.code {
				t.Fatalf("got %d %s, want %d %s", r.Status, r.Raw, tc.status, tc.code)
			}
			if tc.status == 201 && r.Body["autoCharged"] != float64(tc.autoCharged) {
				t.Errorf("autoCharged %v, want %d", r.Body["autoCharged"], tc.autoCharged)
			}
			if tc.status == 422 && r.Body["remainingToday"] != tc.remainingToday {
				t.Errorf("remainingToday %v, want %v", r.Body["remainingToday"], tc.remainingToday)
			}
			if got := w.available(t, kim); got != tc.senderAfter {
				t.Errorf("sender %d, want %d", got, tc.senderAfter)
			}
			if got := w.available(t, lee); got != tc.receiverAfter {
				t.Errorf("receiver %d, want %d", got, tc.receiverAfter)
			}
			if got := w.chargedToday(t, kim); got != tc.chargedTodayWant {
				t.Errorf("charged today %d, want %d", got, tc.chargedTodayWant)
			}
			// Newest first: the transfer above the automatic charge that paid for it.
			var types []string
			for _, e := range w.entries(t, kim) {
				types = append(types, fmt.Sprintf("%s%+d", e["type"], int64(e["amount"].(float64))))
			}
			var want []string
			if tc.status == 201 {
				want = append(want, fmt.Sprintf("transfer%+d", -tc.amount))
				if tc.autoCharged > 0 {
					want = append(want, fmt.Sprintf("charge%+d", tc.autoCharged))
				}
			}
			if tc.charged > 0 {
				want = append(want, fmt.Sprintf("charge%+d", tc.charged))
			}
			if got := strings.Join(types, ","); got != strings.Join(want, ",") {
				t.Errorf("sender history %s, want %s", got, strings.Join(want, ","))
			}
		})
	}
}

// The idempotency record goes into the transaction that commits, the
// automatic charge's included: a retry replays, and nothing moves twice.
func TestAutoChargeIsIdempotent(t *testing.T) {
	w := newWorld(t)
	kim := w.register(t, "Kim")
	lee := w.register(t, "Lee")
	key := newKey()
	c := call{fn: "transfer", caller: kim.id, idemKey: key, body: fmt.Sprintf(`{"to":%q,"amount":25000}`, lee.id)}
	bodies := make([]string, 10)
	counts := run(10, func(i int) result {
		r := w.do(t, c)
		bodies[i] = r.Raw
		return r
	})
	if counts["201"] != 10 {
		t.Fatalf("statuses %v", counts)
	}
	for _, b := range bodies {
		if b != bodies[0] {
			t.Fatalf("replay differs:\n%s\n%s", b, bodies[0])
		}
	}
	if got := w.chargedToday(t, kim); got != 30_000 {
		t.Errorf("charged %d, want 30,000 once", got)
	}
	if got, got2 := w.available(t, kim), w.available(t, lee); got != 5_000 || got2 != 25_000 {
		t.Errorf("sender %d receiver %d", got, got2)
	}
	// A refusal is stored too: the same key stays refused after money arrives.
	k2 := newKey()
	c2 := call{fn: "transfer", caller: kim.id, idemKey: k2, body: fmt.Sprintf(`{"to":%q,"amount":3000000}`, lee.id)}
	first := w.do(t, c2)
	if first.Status != 422 || first.Body["code"] != "daily_limit_exceeded" {
		t.Fatalf("%d %s", first.Status, first.Raw)
	}
	w.Clock.Advance(24 * time.Hour) // a new day: the limit would allow it now
	again := w.do(t, c2)
	if again.Raw != first.Raw || again.Header["idempotent-replayed"] != "true" {
		t.Fatalf("refusal not replayed: %s", again.Raw)
	}
}

func TestHundredSendersIntoOneReceiver(t *testing.T) {
	w := newWorld(t)
	lee := w.register(t, "Lee")
	senders := make([]user, 100)
	var wg sync.WaitGroup
	for i := range senders {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			senders[i] = w.register(t, fmt.Sprintf("Sender %d", i))
			if i%2 == 0 { // half pay from their balance, half through an automatic charge
				w.charge(t, senders[i], 10_000)
			}
		}(i)
	}
	wg.Wait()
	counts := run(100, func(i int) result { return w.transfer(t, senders[i], lee, 10_000) })
	if counts["201"] != 100 {
		t.Fatalf("statuses %v, want 100x201", counts)
	}
	if got := w.available(t, lee); got != 1_000_000 {
		t.Fatalf("receiver %d, want 1,000,000", got)
	}
	for _, s := range senders[:4] {
		if got := w.available(t, s); got != 0 {
			t.Fatalf("sender %s has %d", s.id, got)
		}
	}
}

func TestFiftyConcurrentTransfersNeverOverdraw(t *testing.T) {
	w := newWorld(t)
	kim := w.register(t, "Kim")
	lee := w.register(t, "Lee")
	w.charge(t, kim, 3_000_000) // the day's limit, used up
	w.withdraw(t, kim, 2_900_000)
	counts := run(50, func(int) result { return w.transfer(t, kim, lee, 10_000) })
	if counts["201"] != 10 || counts["422 daily_limit_exceeded"] != 40 {
		t.Fatalf("statuses %v, want 10x201 and 40x422 daily_limit_exceeded", counts)
	}
	if got := w.available(t, kim); got != 0 {
		t.Fatalf("sender %d", got)
	}
	if got := w.available(t, lee); got != 100_000 {
		t.Fatalf("receiver %d", got)
	}
	if got := w.chargedToday(t, kim); got != 3_000_000 {
		t.Fatalf("charged today %d", got)
	}
}
