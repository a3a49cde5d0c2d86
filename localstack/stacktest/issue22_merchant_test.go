package stacktest_test

// Issue 22, items 3, 4, 11 and 12: merchant payments and names, over HTTP
// through the emulator (each test ends with the money audit).

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"minipay/localstack/stacktest"
	"minipay/shared/capabilities/merchant"
)

// shop is a stack with a store (Park's) and a customer (Kim) with money.
type shop struct {
	*stacktest.Stack
	owner, kim stacktest.User
	store      string
	account    string // merchant account
	reserve    string // reserve account
}

func newShop(t *testing.T, funds int64) *shop {
	t.Helper()
	s := newStack(t)
	sh := &shop{Stack: s, owner: s.Register(t, "Park"), kim: s.Register(t, "Kim")}
	r := sh.must(t, s.Post(t, "/stores", sh.owner.Token, `{"name":"Park's Kitchen"}`), 201)
	sh.store, sh.account = r.Body["id"].(string), r.Body["accountId"].(string)
	sh.reserve, _ = r.Body["reserveAccountId"].(string)
	if funds > 0 {
		s.Fund(t, sh.kim, funds)
	}
	return sh
}

func (sh *shop) must(t testing.TB, r resp, status int) resp {
	t.Helper()
	if r.Status != status {
		t.Fatalf("want %d, got %s: %s", status, r, r.Raw)
	}
	return r
}

// act moves the clock a millisecond (ids of one millisecond sort at
// random) and posts an order action.
func (sh *shop) act(t testing.TB, u stacktest.User, id, action, body string) resp {
	t.Helper()
	sh.Clock.Advance(time.Millisecond)
	return sh.Post(t, "/orders/"+id+"/"+action, u.Token, body)
}

func (sh *shop) place(t testing.TB, amount int64) string {
	t.Helper()
	sh.Clock.Advance(time.Millisecond)
	return sh.must(t, sh.Post(t, "/orders", sh.kim.Token, fmt.Sprintf(`{"store":%q,"amount":%d}`, sh.store, amount)), 201).Body["id"].(string)
}

// captured is an order placed, accepted and cooking.
func (sh *shop) captured(t testing.TB, amount int64) string {
	t.Helper()
	id := sh.place(t, amount)
	sh.must(t, sh.act(t, sh.owner, id, "accept", ""), 200)
	sh.must(t, sh.act(t, sh.owner, id, "cook", ""), 200)
	return id
}

func (sh *shop) refund(t testing.TB, id string, amount int64) resp {
	t.Helper()
	return sh.act(t, sh.owner, id, "refunds", fmt.Sprintf(`{"amount":%d}`, amount))
}

func (sh *shop) withdraw(t testing.TB, amount int64) resp {
	t.Helper()
	return sh.Post(t, "/stores/"+sh.store+"/withdrawals", sh.owner.Token, fmt.Sprintf(`{"amount":%d}`, amount))
}

// balances are the merchant and reserve accounts' balances as the owner
// reads the store (each also checked for held 0, available = balance).
func (sh *shop) balances(t testing.TB) (merchantBalance, reserveBalance int64) {
	t.Helper()
	r := sh.must(t, sh.Get(t, "/stores/"+sh.store, sh.owner.Token), 200)
	read := func(k string) int64 {
		a, ok := r.Body[k].(map[string]any)
		if !ok {
			t.Fatalf("store has no %s: %s", k, r.Raw)
		}
		b, h, av := stacktest.Int(a["balance"]), stacktest.Int(a["held"]), stacktest.Int(a["available"])
		if h != 0 || av != b {
			t.Errorf("%s: balance %d held %d available %d", k, b, h, av)
		}
		return b
	}
	return read("account"), read("reserve")
}

func (sh *shop) wantBalances(t testing.TB, merchantBalance, reserveBalance int64) {
	t.Helper()
	if m, r := sh.balances(t); m != merchantBalance || r != reserveBalance {
		t.Errorf("merchant %d, reserve %d; want %d, %d", m, r, merchantBalance, reserveBalance)
	}
}

func (sh *shop) order(t testing.TB, id string) map[string]any {
	t.Helper()
	return sh.must(t, sh.Get(t, "/orders/"+id, sh.kim.Token), 200).Body
}

func (sh *shop) notified(t testing.TB, u stacktest.User) []string {
	t.Helper()
	var out []string
	for _, n := range sh.must(t, sh.Get(t, "/me/notifications?limit=100", u.Token), 200).Body["notifications"].([]any) {
		out = append(out, n.(map[string]any)["type"].(string))
	}
	return out
}

func (sh *shop) expiryJob(t testing.TB) string {
	t.Helper()
	run, err := sh.Emulator.Fire(context.Background(), "order-expiry", sh.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return string(run.Output)
}

// Item 3: a missing required field of a merchant route is a 400
// invalid_field naming the field (POST /orders without store was a 404
// store_not_found for the store ""); a store id that names nothing stays
// a 404.
func TestMerchantRequiredFieldsAreInvalidField(t *testing.T) {
	sh := newShop(t, 50_000)
	id := sh.captured(t, 10_000)
	cases := []struct {
		name, method, path, token, body string
		field                           string
	}{
		{"order without store", "POST", "/orders", sh.kim.Token, `{"amount":1000}`, "store"},
		{"order with an empty store", "POST", "/orders", sh.kim.Token, `{"store":"","amount":1000}`, "store"},
		{"order with a blank store", "POST", "/orders", sh.kim.Token, `{"store":"  ","amount":1000}`, "store"},
		{"order without amount", "POST", "/orders", sh.kim.Token, `{"store":"` + sh.store + `"}`, "amount"},
		{"order with neither", "POST", "/orders", sh.kim.Token, `{}`, "store"},
		{"store without name", "POST", "/stores", sh.owner.Token, `{}`, "name"},
		{"store status without status", "PUT", "/stores/" + sh.store + "/status", sh.owner.Token, `{}`, "status"},
		{"withdrawal without amount", "POST", "/stores/" + sh.store + "/withdrawals", sh.owner.Token, `{}`, "amount"},
		{"refund without amount", "POST", "/orders/" + id + "/refunds", sh.owner.Token, `{"reason":"cold"}`, "amount"},
		{"progress without status", "POST", "/orders/" + id + "/progress", sh.owner.Token, `{}`, "status"},
	}
	for _, c := range cases {
		r := sh.Do(t, req{Method: c.method, Path: c.path, Token: c.token, Body: c.body, Key: stacktest.NewKey()})
		if r.Status != 400 || r.Code() != "invalid_field" || r.Body["field"] != c.field {
			t.Errorf("%s: %s, want 400 invalid_field field %s", c.name, r.Raw, c.field)
		}
	}
	for _, store := range []string{"st_0000000000000000", "nope"} {
		if r := sh.Post(t, "/orders", sh.kim.Token, `{"store":"`+store+`","amount":1000}`); r.Status != 404 || r.Code() != "store_not_found" {
			t.Errorf("store %q: %s", store, r.Raw)
		}
	}
	if got := sh.Available(t, sh.kim); got != 40_000 {
		t.Errorf("refusals moved money: Kim has %d available", got)
	}
}

// Item 4: the store may reject until cooking starts: an accepted order
// too (out of stock after accepting). The hold is voided; the customer
// and the store are both notified; once cooking started a reject is a 409
// order_cooking_started.
func TestStoreRejectsUntilCookingStarts(t *testing.T) {
	sh := newShop(t, 30_000)
	authorized, accepted := sh.place(t, 10_000), sh.place(t, 10_000)
	sh.must(t, sh.act(t, sh.owner, accepted, "accept", ""), 200)
	if b, h, a := sh.Account(t, sh.kim, sh.kim.Main); b != 30_000 || h != 20_000 || a != 10_000 {
		t.Fatalf("Kim before: %d %d %d", b, h, a)
	}
	for _, id := range []string{accepted, authorized} {
		r := sh.must(t, sh.act(t, sh.owner, id, "reject", ""), 200)
		if r.Body["status"] != "rejected" {
			t.Fatalf("reject: %s", r.Raw)
		}
	}
	if b, h, a := sh.Account(t, sh.kim, sh.kim.Main); b != 30_000 || h != 0 || a != 30_000 {
		t.Errorf("Kim after the rejects: balance %d held %d available %d", b, h, a)
	}
	if got := sh.notified(t, sh.kim); !slices.Equal(got, []string{"order_rejected", "order_rejected", "order_accepted"}) {
		t.Errorf("Kim's notifications %v", got)
	}
	if got := sh.notified(t, sh.owner); !slices.Equal(got, []string{"order_rejected", "order_rejected", "order_received", "order_received"}) {
		t.Errorf("the store's notifications %v", got)
	}
	tl := sh.order(t, accepted)["timeline"].([]any)
	if e := tl[0].(map[string]any); e["action"] != "rejected" || e["actor"] != "store" {
		t.Errorf("timeline head %v", e)
	}
	cooking := sh.captured(t, 5_000)
	if r := sh.act(t, sh.owner, cooking, "reject", ""); r.Status != 409 || r.Code() != "order_cooking_started" {
		t.Errorf("reject once cooking: %s", r.Raw)
	}
	if r := sh.act(t, sh.owner, accepted, "reject", ""); r.Status != 409 || r.Code() != "order_status_conflict" {
		t.Errorf("reject twice: %s", r.Raw)
	}
}

// Item 4: reject racing cook on an accepted order: exactly one wins, and
// the money is exact (a captured order's money is in the reserve, a
// rejected one's back with the customer).
func TestRejectRacingCook(t *testing.T) {
	sh := newShop(t, 100_000)
	var captures int64
	for round := 0; round < 8; round++ {
		id := sh.place(t, 10_000)
		sh.must(t, sh.act(t, sh.owner, id, "accept", ""), 200)
		var cook, reject resp
		burst(2, func(i int) {
			if i == 0 {
				cook = sh.Post(t, "/orders/"+id+"/cook", sh.owner.Token, "")
			} else {
				reject = sh.Post(t, "/orders/"+id+"/reject", sh.owner.Token, "")
			}
		})
		switch st := sh.order(t, id)["status"]; {
		case cook.Status == 200 && reject.Code() == "order_cooking_started" && st == "cooking":
			captures++
		case reject.Status == 200 && cook.Code() == "order_status_conflict" && st == "rejected":
		default:
			t.Fatalf("round %d: cook %s, reject %s, status %v", round, cook.Raw, reject.Raw, st)
		}
	}
	if b, h, a := sh.Account(t, sh.kim, sh.kim.Main); b != 100_000-captures*10_000 || h != 0 || a != b {
		t.Errorf("Kim: balance %d held %d available %d after %d captures", b, h, a, captures)
	}
	sh.wantBalances(t, 0, captures*10_000)
	t.Logf("%d of 8 rounds cooked", captures)
}

// Item 11: names that mix scripts (a Cyrillic look-alike of a Latin
// name) or stack combining marks are a 400 invalid_field; Korean, Latin,
// their mix, and other single-script names pass. Store names, and user,
// savings account and room names too.
func TestNamesRefuseLookAlikes(t *testing.T) {
	s := newStack(t)
	kim := s.Register(t, "Kim Minji")
	js := func(v string) string { return fmt.Sprintf(`{"name":%q}`, v) }
	zalgo := "Z" + strings.Repeat("\u0336", 90) + "ed"
	for _, c := range []struct {
		what, path, token, name string
		ok                      bool
	}{
		{"Latin store", "/stores", kim.Token, "Minji Kitchen", true},
		{"Korean store", "/stores", kim.Token, "민지네 김밥", true},
		{"Korean and Latin store", "/stores", kim.Token, "Minji 김밥 Kitchen 2", true},
		{"Cyrillic store", "/stores", kim.Token, "Кафе Москва", true},
		{"store with one accent", "/stores", kim.Token, "Cafe\u0301 Minji", true},
		{"Cyrillic look-alike store", "/stores", kim.Token, "Minji Kitсhen", false}, // U+0441
		{"Greek look-alike store", "/stores", kim.Token, "Μinji Kitchen", false},    // U+039C
		{"store under 90 marks", "/stores", kim.Token, zalgo, false},
		{"Korean user", "/users", "", "김민지", true},
		{"look-alike user", "/users", "", "Kim Mіnji", false}, // U+0456
		{"look-alike room", "/rooms", kim.Token, "lunch сlub", false},
		{"Korean room", "/rooms", kim.Token, "점심 lunch club", true},
		{"look-alike savings account", "/accounts", kim.Token, "trаvel", false}, // U+0430
	} {
		r := s.Do(t, req{Method: "POST", Path: c.path, Token: c.token, Body: js(c.name)})
		switch {
		case c.ok && r.Status != 201:
			t.Errorf("%s %q: %s, want 201", c.what, c.name, r.Raw)
		case !c.ok && (r.Status != 400 || r.Code() != "invalid_field" || r.Body["field"] != "name" || !strings.Contains(r.Raw, "U+")):
			t.Errorf("%s %q: %s, want 400 invalid_field naming the character", c.what, c.name, r.Raw)
		}
	}
	r := s.Post(t, "/stores", kim.Token, js("Minji Kitсhen"))
	if d, _ := r.Body["detail"].(string); !strings.Contains(d, "Cyrillic") || !strings.Contains(d, "Latin") {
		t.Errorf("the refusal does not say which scripts mix: %q", d)
	}
	r = s.Post(t, "/stores", kim.Token, js(zalgo))
	if d, _ := r.Body["detail"].(string); !strings.Contains(d, "combining mark") {
		t.Errorf("the refusal does not say what is wrong: %q", d)
	}
}

// Item 12: a captured payment stays in the store's reserve account for the
// refund window (7 days): a withdrawal cannot take it (422 with what is
// available), a refund within the window always succeeds, the window's
// end is exact to the millisecond, and the order-expiry job then releases
// what was not refunded to the merchant account, once.
func TestCapturesAreReservedForRefunds(t *testing.T) {
	sh := newShop(t, 50_000)
	if sh.reserve == "" {
		t.Fatal("a store has no reserve account")
	}
	id := sh.captured(t, 10_000)
	sh.wantBalances(t, 0, 10_000)
	o := sh.order(t, id)
	until, err := time.Parse(time.RFC3339Nano, fmt.Sprint(o["refundableUntil"]))
	if err != nil || !until.Equal(sh.Clock.Now().Add(merchant.RefundWindow).Truncate(time.Millisecond)) {
		t.Fatalf("refundableUntil %v (%v), want 7 days after the capture", o["refundableUntil"], err)
	}
	// The store withdraws at once: refused, and says what is available.
	r := sh.withdraw(t, 1)
	if r.Status != 422 || r.Code() != "insufficient_funds" || stacktest.Int(r.Body["available"]) != 0 ||
		!strings.Contains(fmt.Sprint(r.Body["detail"]), "reserve") {
		t.Fatalf("withdrawing a capture: %s", r.Raw)
	}
	sh.must(t, sh.refund(t, id, 4_000), 201)
	// The reserve is the owner's account, listed and readable.
	if b, _, _ := sh.Account(t, sh.owner, sh.reserve); b != 6_000 {
		t.Errorf("reserve account reads %d", b)
	}
	// The last millisecond of the window: a refund still succeeds, the job
	// releases nothing.
	sh.Clock.Set(until.Add(-2 * time.Millisecond))
	sh.must(t, sh.refund(t, id, 1_000), 201)
	if out := sh.expiryJob(t); !strings.Contains(out, `"released":0`) {
		t.Errorf("job before the window closed: %s", out)
	}
	// The window closed: refunds refused, before the job and after it.
	sh.Clock.Set(until)
	if r := sh.refund(t, id, 1_000); r.Status != 410 || r.Code() != "refund_window_closed" {
		t.Errorf("refund after the window: %s", r.Raw)
	}
	if out := sh.expiryJob(t); !strings.Contains(out, `"released":1`) || !strings.Contains(out, `"releasedAmount":5000`) {
		t.Errorf("release: %s", out)
	}
	if out := sh.expiryJob(t); !strings.Contains(out, `"released":0`) {
		t.Errorf("second run: %s", out)
	}
	sh.wantBalances(t, 5_000, 0)
	o = sh.order(t, id)
	if stacktest.Int(o["released"]) != 5_000 || stacktest.Int(o["refunded"]) != 5_000 || o["releasedAt"] == nil {
		t.Errorf("order after the release: %v", o)
	}
	if e := o["timeline"].([]any)[0].(map[string]any); e["action"] != "released" || stacktest.Int(e["amount"]) != 5_000 {
		t.Errorf("timeline head %v", e)
	}
	if r := sh.refund(t, id, 1); r.Status != 410 || r.Code() != "refund_window_closed" {
		t.Errorf("refund after the release: %s", r.Raw)
	}
	sh.must(t, sh.withdraw(t, 5_000), 201)
	sh.wantBalances(t, 0, 0)
	if a := sh.Available(t, sh.kim); a != 45_000 {
		t.Errorf("Kim has %d available, want 45,000", a)
	}
}

// Item 12: withdrawals and refunds racing never take the same money: the
// merchant account holds 20,000 released from an old order, the reserve
// 10,000 of a new one; 8 withdrawals of 3,000 (within the route's burst)
// and 10 refunds of 1,000 at once: every refund succeeds, exactly 6
// withdrawals do.
func TestWithdrawalsRacingRefunds(t *testing.T) {
	sh := newShop(t, 30_000)
	old := sh.captured(t, 20_000)
	sh.Clock.Advance(merchant.RefundWindow)
	if out := sh.expiryJob(t); !strings.Contains(out, `"releasedAmount":20000`) {
		t.Fatalf("release of the old order: %s", out)
	}
	id := sh.captured(t, 10_000)
	sh.wantBalances(t, 20_000, 10_000)
	var mu sync.Mutex
	outcomes := map[string]int{}
	burst(18, func(i int) {
		var r resp
		if i < 8 {
			r = sh.withdraw(t, 3_000)
			mu.Lock()
			outcomes["withdraw "+r.String()]++
			mu.Unlock()
			return
		}
		r = sh.Post(t, "/orders/"+id+"/refunds", sh.owner.Token, `{"amount":1000}`)
		mu.Lock()
		outcomes["refund "+r.String()]++
		mu.Unlock()
	})
	if outcomes["refund 201"] != 10 || outcomes["withdraw 201"] != 6 || outcomes["withdraw 422 insufficient_funds"] != 2 {
		t.Fatalf("outcomes %v", outcomes)
	}
	sh.wantBalances(t, 2_000, 0)
	if a := sh.Available(t, sh.kim); a != 10_000 {
		t.Errorf("Kim has %d available, want 10,000", a)
	}
	if o := sh.order(t, old); stacktest.Int(o["released"]) != 20_000 {
		t.Errorf("old order %v", o)
	}
}

// Item 12: a refund racing the release at the window's end: each won goes
// one way (the refund commits and the release moves the rest, or the
// refund is refused and the release moves it all); nothing is lost or
// paid twice.
func TestRefundRacingTheRelease(t *testing.T) {
	sh := newShop(t, 60_000)
	var refunded, released int64
	for round := 0; round < 5; round++ {
		id := sh.captured(t, 10_000)
		until, err := time.Parse(time.RFC3339Nano, fmt.Sprint(sh.order(t, id)["refundableUntil"]))
		if err != nil {
			t.Fatal(err)
		}
		sh.Clock.Set(until.Add(-2 * time.Millisecond)) // the refund ticks one
		var refund resp
		var out string
		burst(2, func(i int) {
			if i == 0 {
				refund = sh.refund(t, id, 3_000)
				return
			}
			sh.Clock.Set(until)
			out = sh.expiryJob(t)
		})
		if !strings.Contains(out, `"released":1`) { // the release waited for the refund's order item
			out = sh.expiryJob(t)
		}
		o := sh.order(t, id)
		switch {
		case refund.Status == 201 && stacktest.Int(o["refunded"]) == 3_000 && stacktest.Int(o["released"]) == 7_000:
			refunded += 3_000
		case refund.Code() == "refund_window_closed" && stacktest.Int(o["refunded"]) == 0 && stacktest.Int(o["released"]) == 10_000:
		default:
			t.Fatalf("round %d: refund %s, job %s, order %v", round, refund.Raw, out, o)
		}
		released += stacktest.Int(o["released"])
	}
	sh.wantBalances(t, released, 0)
	if a := sh.Available(t, sh.kim); a != 60_000-50_000+refunded {
		t.Errorf("Kim has %d available, refunded %d", a, refunded)
	}
}
