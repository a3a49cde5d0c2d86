package accounts_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"minipay/localstack/ddbtest"
	"minipay/localstack/stacktest"
	"minipay/shared/edge/httpapi"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/clock"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

func TestMain(m *testing.M) { os.Exit(ddbtest.Main(m)) }

var ctx = context.Background()

// world is one test's API (stacktest.World) plus this package's shortcuts.
type world struct{ *stacktest.World }

func newWorld(t *testing.T) *world { return &world{stacktest.NewWorld(t)} }

type (
	call   = stacktest.Call
	result = stacktest.Result
	user   = stacktest.User
)

var (
	newKey = stacktest.NewKey
	run    = stacktest.Run
)

func (w *world) charge(t testing.TB, u user, amount int64) result {
	return w.Do(t, call{Fn: "charge", Caller: u.ID, Path: map[string]string{"id": u.Main}, Body: fmt.Sprintf(`{"amount":%d}`, amount), IdemKey: newKey()})
}

func (w *world) available(t testing.TB, u user, account string) int64 {
	t.Helper()
	r := w.Do(t, call{Fn: "get-account", Caller: u.ID, Path: map[string]string{"id": account}})
	if r.Status != 200 {
		t.Fatalf("get account: %d %s", r.Status, r.Raw)
	}
	return int64(r.Body["available"].(float64))
}

func (w *world) openSavings(t testing.TB, u user) string {
	t.Helper()
	r := w.Do(t, call{Fn: "open-account", Caller: u.ID, Body: `{"name":"travel"}`})
	if r.Status != 201 {
		t.Fatalf("open savings: %d %s", r.Status, r.Raw)
	}
	return r.Body["id"].(string)
}

func TestWalkthrough(t *testing.T) {
	w := newWorld(t)
	kim := w.Register(t, "Kim")
	// Each step a second later, so history order is certain (ids are
	// time-ordered to the millisecond; the test clock does not move by itself).
	tick := func() { w.Clock.Advance(time.Second) }
	if r := w.charge(t, kim, 500_000); r.Status != 201 {
		t.Fatalf("charge: %d %s", r.Status, r.Raw)
	}
	savings := w.openSavings(t, kim)
	tick()
	r := w.Do(t, call{Fn: "deposit-savings", Caller: kim.ID, Path: map[string]string{"id": savings}, Body: `{"amount":200000,"memo":"trip"}`, IdemKey: newKey()})
	if r.Status != 201 {
		t.Fatalf("deposit: %d %s", r.Status, r.Raw)
	}
	tick()
	r = w.Do(t, call{Fn: "withdraw", Caller: kim.ID, Path: map[string]string{"id": kim.Main}, Body: `{"amount":50000}`, IdemKey: newKey()})
	tick()
	if r.Status != 201 {
		t.Fatalf("withdraw: %d %s", r.Status, r.Raw)
	}
	r = w.Do(t, call{Fn: "operator-deposit", Caller: httpapi.RoleOperator, Body: fmt.Sprintf(`{"userId":%q,"amount":7000,"reference":"refund 42"}`, kim.ID), IdemKey: newKey()})
	if r.Status != 201 {
		t.Fatalf("operator deposit: %d %s", r.Status, r.Raw)
	}
	if got := w.available(t, kim, kim.Main); got != 500_000-200_000-50_000+7_000 {
		t.Fatalf("main available %d", got)
	}
	if got := w.available(t, kim, savings); got != 200_000 {
		t.Fatalf("savings available %d", got)
	}
	r = w.Do(t, call{Fn: "list-accounts", Caller: kim.ID})
	if n := len(r.Body["accounts"].([]any)); n != 2 {
		t.Fatalf("%d accounts, want 2", n)
	}
	// History, newest first.
	r = w.Do(t, call{Fn: "list-entries", Caller: kim.ID, Path: map[string]string{"id": kim.Main}})
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
	kim := w.Register(t, "Kim")
	lee := w.Register(t, "Lee")
	w.charge(t, kim, 100_000)
	savings := w.openSavings(t, kim)
	leeSavings := w.openSavings(t, lee)
	main := map[string]string{"id": kim.Main}
	tests := []struct {
		name   string
		c      call
		status int
		code   string
	}{
		{"malformed JSON", call{Fn: "charge", Caller: kim.ID, Path: main, Body: `{"amount":`}, 400, "bad_request"},
		{"empty body", call{Fn: "charge", Caller: kim.ID, Path: main, Body: ``}, 400, "bad_request"},
		{"missing amount", call{Fn: "charge", Caller: kim.ID, Path: main, Body: `{}`}, 400, "invalid_field"},
		{"unknown field", call{Fn: "charge", Caller: kim.ID, Path: main, Body: `{"amount":1,"currency":"USD"}`}, 400, "bad_request"},
		{"fractional amount", call{Fn: "charge", Caller: kim.ID, Path: main, Body: `{"amount":10.5}`}, 400, "invalid_field"},
		{"exponent amount", call{Fn: "charge", Caller: kim.ID, Path: main, Body: `{"amount":1e4}`}, 400, "invalid_field"},
		{"string amount", call{Fn: "charge", Caller: kim.ID, Path: main, Body: `{"amount":"100"}`}, 400, "bad_request"},
		{"zero amount", call{Fn: "charge", Caller: kim.ID, Path: main, Body: `{"amount":0}`}, 400, "invalid_field"},
		{"negative amount", call{Fn: "charge", Caller: kim.ID, Path: main, Body: `{"amount":-5}`}, 400, "invalid_field"},
		{"huge amount", call{Fn: "charge", Caller: kim.ID, Path: main, Body: `{"amount":99999999999999999999999}`}, 400, "invalid_field"},
		{"two JSON objects", call{Fn: "charge", Caller: kim.ID, Path: main, Body: `{"amount":1}{"amount":1}`}, 400, "bad_request"},
		{"no idempotency key", call{Fn: "charge", Caller: kim.ID, Path: main, Body: `{"amount":1}`}, 400, "idempotency_key_required"},
		{"over the daily limit in one go", call{Fn: "charge", Caller: kim.ID, Path: main, Body: `{"amount":3000001}`}, 422, "daily_limit_exceeded"},
		{"charge into savings", call{Fn: "charge", Caller: kim.ID, Path: map[string]string{"id": savings}, Body: `{"amount":1}`}, 422, "wrong_account_kind"},
		{"charge into a foreign main", call{Fn: "charge", Caller: kim.ID, Path: map[string]string{"id": lee.Main}, Body: `{"amount":1}`}, 404, "account_not_found"},
		{"charge into a malformed id", call{Fn: "charge", Caller: kim.ID, Path: map[string]string{"id": "../../x"}, Body: `{"amount":1}`}, 404, "account_not_found"},
		{"deposit into main", call{Fn: "deposit-savings", Caller: kim.ID, Path: main, Body: `{"amount":1}`}, 422, "wrong_account_kind"},
		{"deposit into foreign savings", call{Fn: "deposit-savings", Caller: kim.ID, Path: map[string]string{"id": leeSavings}, Body: `{"amount":1}`}, 404, "account_not_found"},
		{"deposit more than main has", call{Fn: "deposit-savings", Caller: kim.ID, Path: map[string]string{"id": savings}, Body: `{"amount":100001}`}, 422, "insufficient_funds"},
		{"withdraw from savings", call{Fn: "withdraw", Caller: kim.ID, Path: map[string]string{"id": savings}, Body: `{"amount":1}`}, 422, "wrong_account_kind"},
		{"withdraw too much", call{Fn: "withdraw", Caller: kim.ID, Path: main, Body: `{"amount":100001}`}, 422, "insufficient_funds"},
		{"get a foreign account", call{Fn: "get-account", Caller: kim.ID, Path: map[string]string{"id": lee.Main}}, 404, "account_not_found"},
		{"history of a foreign account", call{Fn: "list-entries", Caller: kim.ID, Path: map[string]string{"id": lee.Main}}, 404, "account_not_found"},
		{"history with a bad limit", call{Fn: "list-entries", Caller: kim.ID, Path: main, Query: map[string]string{"limit": "1000"}}, 400, "invalid_field"},
		{"history with a forged cursor", call{Fn: "list-entries", Caller: kim.ID, Path: main, Query: map[string]string{"cursor": "bm90LWEtY3Vyc29y"}}, 400, "invalid_field"},
		{"bad token", call{Fn: "get-account", Caller: "", Path: main}, 401, "unauthorized"},
		{"bad token on a money route", call{Fn: "charge", Caller: "", Path: main, Body: `{"amount":1}`}, 401, "unauthorized"},
		{"user token on the operator route", call{Fn: "operator-deposit", Caller: kim.ID, Body: `{"userId":"` + kim.ID + `","amount":1}`}, 403, "forbidden"},
		{"operator token on a user route", call{Fn: "get-account", Caller: httpapi.RoleOperator, Path: main}, 403, "forbidden"},
		{"operator deposit to nobody", call{Fn: "operator-deposit", Caller: httpapi.RoleOperator, Body: `{"userId":"u_0000000000000000","amount":1,"reference":"r-1"}`}, 404, "account_not_found"},
		{"operator deposit with a bad user id", call{Fn: "operator-deposit", Caller: httpapi.RoleOperator, Body: `{"userId":"kim","amount":1,"reference":"r-2"}`}, 400, "invalid_field"},
		{"register without a name", call{Fn: "create-user", Body: `{"name":"  "}`}, 400, "invalid_field"},
		{"register with a control character", call{Fn: "create-user", Body: `{"name":"a\u0000b"}`}, 400, "invalid_field"},
		{"open a second main account", call{Fn: "open-account", Caller: kim.ID, Body: `{"kind":"main"}`}, 400, "invalid_field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.c.IdemKey == "" && tc.name != "no idempotency key" {
				tc.c.IdemKey = newKey()
			}
			r := w.Do(t, tc.c)
			if r.Status != tc.status || r.Body["code"] != tc.code {
				t.Fatalf("got %d %s, want %d %s", r.Status, r.Raw, tc.status, tc.code)
			}
			if r.Body["detail"] == nil || r.Body["title"] == nil {
				t.Fatalf("problem without title or detail: %s", r.Raw)
			}
		})
	}
	if got := w.available(t, kim, kim.Main); got != 100_000 {
		t.Fatalf("bad requests changed the balance: %d", got)
	}
	if got := w.available(t, kim, savings); got != 0 {
		t.Fatalf("bad requests changed savings: %d", got)
	}
}

func TestFiftyConcurrentChargesStopAtTheDailyLimit(t *testing.T) {
	w := newWorld(t)
	kim := w.Register(t, "Kim")
	counts := run(50, func(int) result { return w.charge(t, kim, 100_000) })
	if counts["201"] != 30 || counts["422 daily_limit_exceeded"] != 20 {
		t.Fatalf("statuses %v, want 30x201 and 20x422", counts)
	}
	if got := w.available(t, kim, kim.Main); got != 3_000_000 {
		t.Fatalf("balance %d", got)
	}
	item, err := w.Table.Get(ctx, ddb.Key("USER#"+kim.ID, "LIMIT#"+clock.KSTDate(w.Clock.Now())))
	if charged := ddb.Decode(item).N("charged"); err != nil || charged != 3_000_000 {
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
	kim := w.Register(t, "Kim")
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
	kim := w.Register(t, "Kim")
	savings := w.openSavings(t, kim)
	w.charge(t, kim, 100_000)
	counts := run(50, func(int) result {
		return w.Do(t, call{Fn: "deposit-savings", Caller: kim.ID, Path: map[string]string{"id": savings}, Body: `{"amount":3000}`, IdemKey: newKey()})
	})
	if counts["201"] != 33 || counts["422 insufficient_funds"] != 17 { // 33 * 3,000 = 99,000
		t.Fatalf("statuses %v", counts)
	}
	if got := w.available(t, kim, kim.Main); got != 1_000 {
		t.Fatalf("main %d, want 1,000", got)
	}
}

func TestSameIdempotencyKeyTwentyTimesAtOnceMovesMoneyOnce(t *testing.T) {
	w := newWorld(t)
	kim := w.Register(t, "Kim")
	key := newKey()
	bodies := make([]string, 20)
	counts := run(20, func(i int) result {
		r := w.Do(t, call{Fn: "charge", Caller: kim.ID, Path: map[string]string{"id": kim.Main}, Body: `{"amount":10000}`, IdemKey: key})
		bodies[i] = r.Raw
		return r
	})
	if counts["201"] != 20 {
		t.Fatalf("statuses %v, want every request to get the one 201", counts)
	}
	for _, b := range bodies {
		if b != bodies[0] {
			t.Fatalf("replay differs:\n%s\n%s", b, bodies[0])
		}
	}
	if got := w.available(t, kim, kim.Main); got != 10_000 {
		t.Fatalf("balance %d, want 10,000", got)
	}
	// The same key with another body is refused; a refusal is replayed too.
	r := w.Do(t, call{Fn: "charge", Caller: kim.ID, Path: map[string]string{"id": kim.Main}, Body: `{"amount":20000}`, IdemKey: key})
	if r.Status != 422 || r.Body["code"] != "idempotency_key_reused" {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
	k2 := newKey()
	first := w.Do(t, call{Fn: "withdraw", Caller: kim.ID, Path: map[string]string{"id": kim.Main}, Body: `{"amount":999999}`, IdemKey: k2})
	w.charge(t, kim, 2_000_000) // now the withdrawal would succeed, but the key is spent
	again := w.Do(t, call{Fn: "withdraw", Caller: kim.ID, Path: map[string]string{"id": kim.Main}, Body: `{"amount":999999}`, IdemKey: k2})
	if first.Status != 422 || again.Raw != first.Raw || again.Header["idempotent-replayed"] != "true" {
		t.Fatalf("refusal not replayed: %d %s / %d %s", first.Status, first.Raw, again.Status, again.Raw)
	}
	// Keys are scoped to the Caller: Lee may use Kim's key.
	lee := w.Register(t, "Lee")
	r = w.Do(t, call{Fn: "charge", Caller: lee.ID, Path: map[string]string{"id": lee.Main}, Body: `{"amount":10000}`, IdemKey: key})
	if r.Status != 201 || r.Header["idempotent-replayed"] == "true" {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
}

func TestHistoryPagesAndExpiry(t *testing.T) {
	w := newWorld(t)
	kim := w.Register(t, "Kim")
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
		r := w.Do(t, call{Fn: "list-entries", Caller: kim.ID, Path: map[string]string{"id": kim.Main}, Query: q})
		if r.Status != 200 {
			t.Fatal(r.Raw)
		}
		var amounts []int64
		for _, e := range r.Body["entries"].([]any) {
			m := e.(map[string]any)
			if m["direction"] != "in" || m["counterparty"] != ledger.LabelBank {
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
	w.Clock.Set(start.Add(ledger.HistoryRetention + 2*time.Hour + time.Minute))
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
		if w.Handlers[f] == nil {
			t.Errorf("no handler for function %s", f)
		}
		if _, err := os.Stat("../../../functions/" + f + "/main.go"); err != nil {
			t.Errorf("functions/%s/main.go: %v", f, err)
		}
	}
	if len(w.Handlers) != len(routes.Functions()) {
		t.Errorf("%d handlers for %d functions", len(w.Handlers), len(routes.Functions()))
	}
	_ = http.StatusOK
}

func TestHistoryFilters(t *testing.T) {
	w := newWorld(t)
	kim := w.Register(t, "Kim")
	start := w.Clock.Now()
	// Hour i: a charge of 10,000+i; on odd hours also a withdrawal of 100+i.
	for i := 0; i < 8; i++ {
		w.Clock.Set(start.Add(time.Duration(i) * time.Hour))
		if r := w.charge(t, kim, int64(10_000+i)); r.Status != 201 {
			t.Fatal(r.Raw)
		}
		if i%2 == 1 {
			w.Clock.Advance(time.Minute)
			r := w.Do(t, call{Fn: "withdraw", Caller: kim.ID, Path: map[string]string{"id": kim.Main}, Body: fmt.Sprintf(`{"amount":%d}`, 100+i), IdemKey: newKey()})
			if r.Status != 201 {
				t.Fatal(r.Raw)
			}
		}
	}
	all := func(q map[string]string) []int64 {
		var amounts []int64
		q["limit"] = "2"
		for pages := 0; pages < 20; pages++ {
			r := w.Do(t, call{Fn: "list-entries", Caller: kim.ID, Path: map[string]string{"id": kim.Main}, Query: q})
			if r.Status != 200 {
				t.Fatalf("%v: %d %s", q, r.Status, r.Raw)
			}
			for _, e := range r.Body["entries"].([]any) {
				amounts = append(amounts, int64(e.(map[string]any)["amount"].(float64)))
			}
			next, _ := r.Body["nextCursor"].(string)
			if next == "" {
				return amounts
			}
			q["cursor"] = next
		}
		t.Fatal("too many pages")
		return nil
	}
	at := func(h int) string { return start.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
	tests := []struct {
		name  string
		query map[string]string
		want  string
	}{
		{"out only", map[string]string{"direction": "out"}, "[-107 -105 -103 -101]"},
		{"in only", map[string]string{"direction": "in"}, "[10007 10006 10005 10004 10003 10002 10001 10000]"},
		{"time range", map[string]string{"from": at(2), "to": at(4)}, "[10004 -103 10003 10002]"},
		{"out in a time range", map[string]string{"direction": "out", "from": at(2), "to": at(6)}, "[-105 -103]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := fmt.Sprint(all(tc.query)); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
	r := w.Do(t, call{Fn: "list-entries", Caller: kim.ID, Path: map[string]string{"id": kim.Main}, Query: map[string]string{"direction": "sideways"}})
	if r.Status != 400 || r.Body["code"] != "invalid_field" {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
}
