package transfers_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"minipay/localstack/ddbtest"
	"minipay/localstack/stacktest"
	"minipay/shared/edge/httpapi"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/clock"
	"minipay/shared/kernel/ddb"
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

func (w *world) charge(t testing.TB, u user, amount int64) {
	t.Helper()
	r := w.Do(t, call{Fn: "charge", Caller: u.ID, Path: map[string]string{"id": u.Main}, Body: fmt.Sprintf(`{"amount":%d}`, amount), IdemKey: newKey()})
	if r.Status != 201 {
		t.Fatalf("charge %d: %d %s", amount, r.Status, r.Raw)
	}
}

func (w *world) withdraw(t testing.TB, u user, amount int64) {
	t.Helper()
	r := w.Do(t, call{Fn: "withdraw", Caller: u.ID, Path: map[string]string{"id": u.Main}, Body: fmt.Sprintf(`{"amount":%d}`, amount), IdemKey: newKey()})
	if r.Status != 201 {
		t.Fatalf("withdraw %d: %d %s", amount, r.Status, r.Raw)
	}
}

func (w *world) transfer(t testing.TB, from, to user, amount int64) result {
	return w.Do(t, call{Fn: "transfer", Caller: from.ID, Body: fmt.Sprintf(`{"to":%q,"amount":%d}`, to.ID, amount), IdemKey: newKey()})
}

func (w *world) available(t testing.TB, u user) int64 {
	t.Helper()
	r := w.Do(t, call{Fn: "get-account", Caller: u.ID, Path: map[string]string{"id": u.Main}})
	if r.Status != 200 {
		t.Fatalf("get account: %d %s", r.Status, r.Raw)
	}
	return int64(r.Body["available"].(float64))
}

func (w *world) entries(t testing.TB, u user) []map[string]any {
	t.Helper()
	r := w.Do(t, call{Fn: "list-entries", Caller: u.ID, Path: map[string]string{"id": u.Main}, Query: map[string]string{"limit": "100"}})
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
	item, err := w.Table.Get(ctx, ddb.Key("USER#"+u.ID, "LIMIT#"+clock.KSTDate(w.Clock.Now())))
	if err != nil {
		t.Fatal(err)
	}
	return ddb.Decode(item).N("charged")
}

func TestTransferAndHistoryLabels(t *testing.T) {
	w := newWorld(t)
	kim := w.Register(t, "Kim Minji")
	lee := w.Register(t, "Lee Jun")
	w.charge(t, kim, 50_000)
	w.Clock.Advance(time.Second)
	r := w.Do(t, call{Fn: "transfer", Caller: kim.ID, IdemKey: newKey(),
		Body: fmt.Sprintf(`{"to":%q,"amount":12000,"displayName":"Minji from work","memo":"lunch"}`, lee.ID)})
	if r.Status != 201 {
		t.Fatalf("transfer: %d %s", r.Status, r.Raw)
	}
	want := map[string]any{"type": "transfer", "from": kim.Main, "to": lee.ID, "toAccount": lee.Main, "amount": float64(12_000),
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
		e["counterpartyAccount"] != kim.Main || e["memo"] != "lunch" {
		t.Errorf("receiver entry %v", e)
	}
	out := w.entries(t, kim)
	if len(out) != 2 || out[0]["type"] != "transfer" || out[1]["type"] != "charge" {
		t.Fatalf("sender history %v", out)
	}
	e = out[0]
	if e["amount"] != float64(-12_000) || e["direction"] != "out" || e["counterparty"] != lee.ID ||
		e["counterpartyAccount"] != lee.Main || e["originator"] != "Kim Minji" {
		t.Errorf("sender entry %v", e)
	}
}

// A token issued before names were stored on token items still works: the
// handler reads the profile for the name.
func TestCallerWithoutNameInContext(t *testing.T) {
	w := newWorld(t)
	kim := w.Register(t, "Kim Minji")
	lee := w.Register(t, "Lee Jun")
	w.charge(t, kim, 10_000)
	r := w.Do(t, call{Fn: "transfer", Caller: kim.ID, NoName: true, IdemKey: newKey(), Body: fmt.Sprintf(`{"to":%q,"amount":10000}`, lee.ID)})
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
	kim := w.Register(t, "Kim Minji")
	h := w.Handlers[routes.AuthorizerFunction].(func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error))
	resp, err := h(ctx, events.APIGatewayV2CustomAuthorizerV2Request{Headers: map[string]string{"authorization": "Bearer " + kim.Token}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Context[httpapi.CtxUserID] != kim.ID || resp.Context[httpapi.CtxName] != "Kim Minji" || resp.Context[httpapi.CtxRole] != httpapi.RoleUser {
		t.Fatalf("context %v", resp.Context)
	}
}

func TestBadInputMovesNothing(t *testing.T) {
	w := newWorld(t)
	kim := w.Register(t, "Kim")
	lee := w.Register(t, "Lee")
	w.charge(t, kim, 100_000)
	body := func(to, rest string) string { return fmt.Sprintf(`{"to":%q%s}`, to, rest) }
	tests := []struct {
		name   string
		c      call
		status int
		code   string
	}{
		{"self transfer", call{Body: body(kim.ID, `,"amount":1000`)}, 422, "self_transfer"},
		{"unknown receiver", call{Body: body("u_0000000000000001", `,"amount":1000`)}, 404, "account_not_found"},
		{"unknown receiver needing an auto-charge", call{Body: body("u_0000000000000001", `,"amount":200000`)}, 404, "account_not_found"},
		{"malformed receiver", call{Body: body("kim", `,"amount":1000`)}, 400, "invalid_field"},
		{"an account id as receiver", call{Body: body(lee.Main, `,"amount":1000`)}, 400, "invalid_field"},
		{"missing receiver", call{Body: `{"amount":1000}`}, 400, "invalid_field"},
		{"missing amount", call{Body: body(lee.ID, ``)}, 400, "invalid_field"},
		{"zero amount", call{Body: body(lee.ID, `,"amount":0`)}, 400, "invalid_field"},
		{"negative amount", call{Body: body(lee.ID, `,"amount":-1`)}, 400, "invalid_field"},
		{"fractional amount", call{Body: body(lee.ID, `,"amount":1.5`)}, 400, "invalid_field"},
		{"string amount", call{Body: body(lee.ID, `,"amount":"1000"`)}, 400, "bad_request"},
		{"huge amount", call{Body: body(lee.ID, `,"amount":1000000000001`)}, 400, "invalid_field"},
		{"unknown field", call{Body: body(lee.ID, `,"amount":1000,"currency":"KRW"`)}, 400, "bad_request"},
		{"display name too long", call{Body: body(lee.ID, `,"amount":1000,"displayName":"`+strings.Repeat("가", 51)+`"`)}, 400, "invalid_field"},
		{"memo too long", call{Body: body(lee.ID, `,"amount":1000,"memo":"`+strings.Repeat("m", 201)+`"`)}, 400, "invalid_field"},
		{"control character in memo", call{Body: body(lee.ID, `,"amount":1000,"memo":"a\u0007b"`)}, 400, "invalid_field"},
		{"malformed JSON", call{Body: `{"to":`}, 400, "bad_request"},
		{"no idempotency key", call{Body: body(lee.ID, `,"amount":1000`), IdemKey: "-"}, 400, "idempotency_key_required"},
		{"bad token", call{Caller: "-", Body: body(lee.ID, `,"amount":1000`)}, 401, "unauthorized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.Fn = "transfer"
			switch c.Caller {
			case "":
				c.Caller = kim.ID
			case "-":
				c.Caller = ""
			}
			switch c.IdemKey {
			case "":
				c.IdemKey = newKey()
			case "-":
				c.IdemKey = ""
			}
			r := w.Do(t, c)
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
			kim := w.Register(t, "Kim")
			lee := w.Register(t, "Lee")
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
	kim := w.Register(t, "Kim")
	lee := w.Register(t, "Lee")
	key := newKey()
	c := call{Fn: "transfer", Caller: kim.ID, IdemKey: key, Body: fmt.Sprintf(`{"to":%q,"amount":25000}`, lee.ID)}
	bodies := make([]string, 10)
	counts := run(10, func(i int) result {
		r := w.Do(t, c)
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
	c2 := call{Fn: "transfer", Caller: kim.ID, IdemKey: k2, Body: fmt.Sprintf(`{"to":%q,"amount":3000000}`, lee.ID)}
	first := w.Do(t, c2)
	if first.Status != 422 || first.Body["code"] != "daily_limit_exceeded" {
		t.Fatalf("%d %s", first.Status, first.Raw)
	}
	w.Clock.Advance(24 * time.Hour) // a new day: the limit would allow it now
	again := w.Do(t, c2)
	if again.Raw != first.Raw || again.Header["idempotent-replayed"] != "true" {
		t.Fatalf("refusal not replayed: %s", again.Raw)
	}
}

func TestHundredSendersIntoOneReceiver(t *testing.T) {
	w := newWorld(t)
	lee := w.Register(t, "Lee")
	senders := make([]user, 100)
	var wg sync.WaitGroup
	for i := range senders {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			senders[i] = w.Register(t, fmt.Sprintf("Sender %d", i))
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
			t.Fatalf("sender %s has %d", s.ID, got)
		}
	}
}

func TestFiftyConcurrentTransfersNeverOverdraw(t *testing.T) {
	w := newWorld(t)
	kim := w.Register(t, "Kim")
	lee := w.Register(t, "Lee")
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

// A hot receiver on real DynamoDB answers TransactionConflict; DynamoDB Local
// never does, so conflicts are injected. They are retried with jitter and the
// same request token (money moves once, even when a conflicted attempt had in
// fact committed), and when they outlast the retries the answer is a 503
// with Retry-After and nothing moved.
func TestConflictsOnAHotReceiver(t *testing.T) {
	tests := []struct {
		name       string
		conflicts  int64
		applyFirst bool
		status     int
		moved      int64
	}{
		{"retried until it commits", 3, false, 201, 10_000},
		{"a conflicted attempt that committed is not applied twice", 2, true, 201, 10_000},
		{"conflicts outlast the retries", 1000, false, 503, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			faulty := &ddbtest.Faulty{ApplyFirst: tc.applyFirst}
			w := &world{stacktest.NewWorld(t, func(db ddb.Client) ddb.Client { faulty.Client = db; return faulty })}
			w.Ledger.SetRetryPolicy(5, time.Millisecond)
			kim, lee := w.Register(t, "Kim"), w.Register(t, "Lee")
			w.charge(t, kim, 50_000)
			faulty.Conflicts.Store(tc.conflicts)
			r := w.transfer(t, kim, lee, 10_000)
			faulty.Conflicts.Store(0)
			if r.Status != tc.status {
				t.Fatalf("got %d %s, want %d", r.Status, r.Raw, tc.status)
			}
			if tc.status == 503 && (r.Header["retry-after"] == "" || r.Body["code"] != "contention") {
				t.Fatalf("503 without Retry-After or code: %v %s", r.Header, r.Raw)
			}
			if got := w.available(t, lee); got != tc.moved {
				t.Fatalf("receiver has %d, want %d", got, tc.moved)
			}
			if got := w.available(t, kim); got != 50_000-tc.moved {
				t.Fatalf("sender has %d, want %d", got, 50_000-tc.moved)
			}
		})
	}
}
