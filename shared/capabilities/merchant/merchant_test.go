package merchant_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/localstack/ddbtest"
	"minipay/localstack/stacktest"
	"minipay/shared/capabilities/merchant"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
)

func TestMain(m *testing.M) { os.Exit(ddbtest.Main(m)) }

type (
	req  = stacktest.Request
	resp = stacktest.Response
	user = stacktest.User
)

// world is a stack with a store (owned by Park) and a customer (Kim).
type world struct {
	*stacktest.Stack
	owner, kim user
	store      string // store id
	account    string // its merchant account
}

func newWorld(t *testing.T, cfg config.Config) *world {
	t.Helper()
	s := stacktest.New(t, cfg)
	w := &world{Stack: s, owner: s.Register(t, "Park"), kim: s.Register(t, "Kim")}
	r := s.Post(t, "/stores", w.owner.Token, `{"name":"Park's Kitchen"}`)
	if r.Status != 201 {
		t.Fatalf("create store: %s", r.Raw)
	}
	w.store, w.account = r.Body["id"].(string), r.Body["accountId"].(string)
	return w
}

func (w *world) must(t testing.TB, r resp, status int) resp {
	t.Helper()
	if r.Status != status {
		t.Fatalf("want %d, got %s: %s", status, r, r.Raw)
	}
	return r
}

// tick moves the clock on by a millisecond before each request that
// writes, so what it writes sorts after what came before (ids of one
// millisecond sort at random).
func (w *world) tick() { w.Clock.Advance(time.Millisecond) }

func (w *world) place(t testing.TB, u user, amount int64) resp {
	t.Helper()
	w.tick()
	return w.Post(t, "/orders", u.Token, fmt.Sprintf(`{"store":%q,"amount":%d,"memo":"two bibimbap"}`, w.store, amount))
}

func (w *world) placed(t testing.TB, u user, amount int64) string {
	t.Helper()
	return w.must(t, w.place(t, u, amount), 201).Body["id"].(string)
}

func (w *world) act(t testing.TB, u user, id, action string) resp {
	t.Helper()
	w.tick()
	return w.Post(t, "/orders/"+id+"/"+action, u.Token, "")
}

func (w *world) progress(t testing.TB, u user, id, status string) resp {
	t.Helper()
	w.tick()
	return w.Post(t, "/orders/"+id+"/progress", u.Token, fmt.Sprintf(`{"status":%q}`, status))
}

func (w *world) refund(t testing.TB, u user, id string, amount int64) resp {
	t.Helper()
	w.tick()
	return w.Post(t, "/orders/"+id+"/refunds", u.Token, fmt.Sprintf(`{"amount":%d,"reason":"cold soup"}`, amount))
}

// merchant is the merchant account as the store's owner reads it (GET
// /stores/{id}); reserve its reserve account.
func (w *world) merchant(t testing.TB) (balance, held, available int64) {
	return w.storeAccount(t, "account")
}

func (w *world) reserve(t testing.TB) (balance, held, available int64) {
	return w.storeAccount(t, "reserve")
}

func (w *world) storeAccount(t testing.TB, which string) (balance, held, available int64) {
	t.Helper()
	r := w.must(t, w.Get(t, "/stores/"+w.store, w.owner.Token), 200)
	a := r.Body[which].(map[string]any)
	return stacktest.Int(a["balance"]), stacktest.Int(a["held"]), stacktest.Int(a["available"])
}

func (w *world) order(t testing.TB, id string) map[string]any {
	t.Helper()
	return w.must(t, w.Get(t, "/orders/"+id, w.kim.Token), 200).Body
}

func (w *world) expiry(t testing.TB, id string) time.Time {
	t.Helper()
	e, err := time.Parse(time.RFC3339, w.order(t, id)["authorizationExpiresAt"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (w *world) status(t testing.TB, id string) string {
	t.Helper()
	return w.order(t, id)["status"].(string)
}

func (w *world) wantMain(t testing.TB, u user, balance, held, available int64) {
	t.Helper()
	b, h, a := w.Account(t, u, u.Main)
	if b != balance || h != held || a != available {
		t.Errorf("%s main: balance %d held %d available %d, want %d %d %d", u.Name, b, h, a, balance, held, available)
	}
}

// wantMerchant checks the merchant account (withdrawable) and the reserve
// account (captured payments in their refund window).
func (w *world) wantMerchant(t testing.TB, balance, reserve int64) {
	t.Helper()
	if b, h, a := w.merchant(t); b != balance || h != 0 || a != balance {
		t.Errorf("merchant: balance %d held %d available %d, want %d", b, h, a, balance)
	}
	if b, h, a := w.reserve(t); b != reserve || h != 0 || a != reserve {
		t.Errorf("reserve: balance %d held %d available %d, want %d", b, h, a, reserve)
	}
}

// notifications are u's inbox types, newest first.
func (w *world) notifications(t testing.TB, u user) []string {
	t.Helper()
	r := w.must(t, w.Get(t, "/me/notifications?limit=100", u.Token), 200)
	var out []string
	for _, n := range r.Body["notifications"].([]any) {
		out = append(out, n.(map[string]any)["type"].(string))
	}
	return out
}

func (w *world) wantNotified(t testing.TB, u user, want ...string) {
	t.Helper()
	if got := w.notifications(t, u); !slices.Equal(got, want) {
		t.Errorf("%s's notifications %v, want %v", u.Name, got, want)
	}
}

// listed is the ids of a list page (GET /orders or GET /stores/{id}/orders).
func listed(t testing.TB, r resp) []string {
	t.Helper()
	var ids []string
	for _, o := range r.Body["orders"].([]any) {
		ids = append(ids, o.(map[string]any)["id"].(string))
	}
	return ids
}

func burst(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); <-start; f(i) }()
	}
	close(start)
	wg.Wait()
}

// The whole life cycle: a customer with nothing pays (the shortfall is
// charged automatically), the store accepts, cooks (the capture), marks
// cooked, picked up, delivered; the customer confirms; the store refunds
// in parts (one refused for the merchant account's funds after a
// withdrawal, one for exceeding the capture); the read model and both
// inboxes tell it all, newest first, paged.
func TestOrderLifeCycle(t *testing.T) {
	w := newWorld(t, config.Config{})
	kim, park := w.kim, w.owner

	// The merchant account is the owner's, of its own kind, in GET /accounts.
	accounts := w.must(t, w.Get(t, "/accounts", park.Token), 200).Body["accounts"].([]any)
	var kinds []string
	for _, a := range accounts {
		kinds = append(kinds, a.(map[string]any)["kind"].(string)+" "+a.(map[string]any)["id"].(string))
	}
	if !slices.Contains(kinds, "merchant "+w.account) || !slices.Contains(kinds, "merchant_reserve "+merchant.ReserveAccountID(w.store)) || len(kinds) != 3 {
		t.Fatalf("owner's accounts %v", kinds)
	}
	if r := w.Get(t, "/stores/"+w.store, kim.Token); r.Status != 200 || r.Body["name"] != "Park's Kitchen" || r.Body["account"] != nil {
		t.Fatalf("a customer reads the store: %s", r.Raw)
	}

	// Place: 18,000 on an empty account charges 20,000 and holds 18,000.
	pr := w.must(t, w.place(t, kim, 18_000), 201)
	id := pr.Body["id"].(string)
	if pr.Body["status"] != "authorized" || stacktest.Int(pr.Body["autoCharged"]) != 20_000 || pr.Body["storeName"] != "Park's Kitchen" {
		t.Fatalf("placed: %s", pr.Raw)
	}
	exp, _ := time.Parse(time.RFC3339, pr.Body["authorizationExpiresAt"].(string))
	if want := w.Clock.Now().Add(15 * time.Minute); !exp.Equal(want) {
		t.Errorf("authorization expires %s, want %s", exp, want)
	}
	w.wantMain(t, kim, 20_000, 18_000, 2_000)
	w.wantMerchant(t, 0, 0)
	if ids := listed(t, w.must(t, w.Get(t, "/stores/"+w.store+"/orders?status=authorized", park.Token), 200)); !slices.Equal(ids, []string{id}) {
		t.Fatalf("store's authorized orders %v", ids)
	}

	w.must(t, w.act(t, park, id, "accept"), 200)
	cook := w.must(t, w.act(t, park, id, "cook"), 200)
	if cook.Body["status"] != "cooking" || stacktest.Int(cook.Body["captured"]) != 18_000 {
		t.Fatalf("cook: %s", cook.Raw)
	}
	w.wantMain(t, kim, 2_000, 0, 2_000)
	w.wantMerchant(t, 0, 18_000)
	for _, st := range []string{"cooked", "picked_up", "delivered"} {
		if r := w.must(t, w.progress(t, park, id, st), 200); r.Body["status"] != st {
			t.Fatalf("%s: %s", st, r.Raw)
		}
	}
	w.must(t, w.act(t, kim, id, "complete"), 200)

	// Refunds.
	if r := w.must(t, w.refund(t, park, id, 5_000), 201); r.Body["order"] != id || stacktest.Int(r.Body["amount"]) != 5_000 {
		t.Fatalf("refund: %s", r.Raw)
	}
	// The capture is in the reserve for the refund window: not withdrawable.
	w.tick()
	if r := w.Post(t, "/stores/"+w.store+"/withdrawals", park.Token, `{"amount":10000}`); r.Status != 422 || r.Code() != "insufficient_funds" || stacktest.Int(r.Body["available"]) != 0 {
		t.Fatalf("withdrawing a capture in its refund window: %s", r.Raw)
	}
	w.wantMerchant(t, 0, 13_000)
	if r := w.refund(t, park, id, 13_001); r.Status != 422 || r.Code() != "refund_exceeds_capture" || stacktest.Int(r.Body["refundable"]) != 13_000 {
		t.Fatalf("refund past the capture: %s", r.Raw)
	}
	w.must(t, w.refund(t, park, id, 3_000), 201)
	w.wantMerchant(t, 0, 10_000)
	w.wantMain(t, kim, 10_000, 0, 10_000)
	o := w.order(t, id)
	if o["status"] != "completed" || stacktest.Int(o["captured"]) != 18_000 || stacktest.Int(o["refunded"]) != 8_000 || stacktest.Int(o["refundable"]) != 10_000 {
		t.Fatalf("order: %v", o)
	}

	// The timeline, newest first, in pages of 4; the store reads it too.
	var actions []string
	for cursor, pages := "", 0; pages < 5; pages++ {
		r := w.must(t, w.Get(t, "/orders/"+id+"?limit=4&cursor="+cursor, park.Token), 200)
		for _, e := range r.Body["timeline"].([]any) {
			e := e.(map[string]any)
			actions = append(actions, e["action"].(string)+"/"+e["actor"].(string))
		}
		if cursor, _ = r.Body["nextCursor"].(string); cursor == "" {
			break
		}
	}
	want := []string{"refund/store", "refund/store", "completed/customer", "delivered/store", "picked_up/store", "cooked/store",
		"cooking/store", "accepted/store", "placed/customer"}
	if !slices.Equal(actions, want) {
		t.Errorf("timeline %v, want %v", actions, want)
	}
	// The lists: every order, and by status (the pointers moved with it).
	if ids := listed(t, w.must(t, w.Get(t, "/orders", kim.Token), 200)); !slices.Equal(ids, []string{id}) {
		t.Errorf("Kim's orders %v", ids)
	}
	if r := w.must(t, w.Get(t, "/orders?status=completed", kim.Token), 200); len(listed(t, r)) != 1 || r.Body["orders"].([]any)[0].(map[string]any)["status"] != "completed" {
		t.Errorf("Kim's completed orders: %s", r.Raw)
	}
	for _, st := range []string{"authorized", "accepted", "cooking", "delivered"} {
		if ids := listed(t, w.must(t, w.Get(t, "/stores/"+w.store+"/orders?status="+st, park.Token), 200)); len(ids) != 0 {
			t.Errorf("store's %s orders %v after completion", st, ids)
		}
	}
	// History on both sides names the order.
	history := func(account string) []string {
		t.Helper()
		var types []string
		for _, e := range w.must(t, w.Get(t, "/accounts/"+account+"/entries", park.Token), 200).Body["entries"].([]any) {
			types = append(types, e.(map[string]any)["type"].(string)+" "+e.(map[string]any)["reference"].(string))
		}
		return types
	}
	ref := "order " + id
	if got, want := history(merchant.ReserveAccountID(w.store)), []string{"order_refund " + ref, "order_refund " + ref, "order_payment " + ref}; !slices.Equal(got, want) {
		t.Errorf("reserve history %v, want %v", got, want)
	}
	// Notifications: every transition told the party who did not cause it.
	w.wantNotified(t, kim, "order_refunded", "order_refunded", "order_delivered", "order_picked_up", "order_cooked", "order_cooking", "order_accepted")
	w.wantNotified(t, park, "order_refund_issued", "order_refund_issued", "order_completed", "order_received")

	// The refund window closes: what was not refunded moves to the merchant
	// account (the order-expiry job), which the store withdraws.
	w.Clock.Advance(merchant.RefundWindow)
	if r := w.refund(t, park, id, 1); r.Status != 410 || r.Code() != "refund_window_closed" {
		t.Fatalf("refund after the window: %s", r.Raw)
	}
	if _, err := w.Emulator.Fire(context.Background(), "order-expiry", w.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	w.wantMerchant(t, 10_000, 0)
	w.tick()
	w.must(t, w.Post(t, "/stores/"+w.store+"/withdrawals", park.Token, `{"amount":10000}`), 201)
	w.wantMerchant(t, 0, 0)
	if got, want := history(w.account), []string{"merchant_withdrawal store " + w.store, "order_reserve_release " + ref}; !slices.Equal(got, want) {
		t.Errorf("merchant history %v, want %v", got, want)
	}
	if o := w.order(t, id); stacktest.Int(o["released"]) != 10_000 || o["timeline"].([]any)[0].(map[string]any)["action"] != "released" {
		t.Errorf("order after the release: %v", o)
	}
}

// Every refusal is a clear 4xx problem, and moves nothing.
func TestOrderRefusals(t *testing.T) {
	w := newWorld(t, config.Config{})
	kim, park := w.kim, w.owner
	lee := w.Register(t, "Lee") // a stranger, and the owner of another store
	other := w.must(t, w.Post(t, "/stores", lee.Token, `{"name":"Lee's"}`), 201).Body["id"].(string)
	w.Fund(t, kim, 100_000)
	authorized := w.placed(t, kim, 10_000)
	accepted := w.placed(t, kim, 10_000)
	w.must(t, w.act(t, park, accepted, "accept"), 200)
	cooking := w.placed(t, kim, 10_000)
	w.must(t, w.act(t, park, cooking, "accept"), 200)
	w.must(t, w.act(t, park, cooking, "cook"), 200)
	rejected := w.placed(t, kim, 10_000)
	w.must(t, w.act(t, park, rejected, "reject"), 200)
	const unknown = "01kapq0e00abcdefghjkmnpqrs"
	body := func(store string, amount any) string { return fmt.Sprintf(`{"store":%q,"amount":%v}`, store, amount) }

	cases := []struct {
		name   string
		r      func() resp
		status int
		code   string
	}{
		{"unknown store", func() resp { return w.Post(t, "/orders", kim.Token, body("st_0000000000000000", 1000)) }, 404, "store_not_found"},
		{"malformed store", func() resp { return w.Post(t, "/orders", kim.Token, body("nope", 1000)) }, 404, "store_not_found"},
		{"own store", func() resp { return w.Post(t, "/orders", park.Token, body(w.store, 1000)) }, 422, "own_store"},
		{"zero", func() resp { return w.Post(t, "/orders", kim.Token, body(w.store, 0)) }, 400, "invalid_field"},
		{"negative", func() resp { return w.Post(t, "/orders", kim.Token, body(w.store, -5)) }, 400, "invalid_field"},
		{"fraction", func() resp { return w.Post(t, "/orders", kim.Token, body(w.store, 1.5)) }, 400, "invalid_field"},
		{"string", func() resp { return w.Post(t, "/orders", kim.Token, body(w.store, `"1000"`)) }, 400, "bad_request"},
		{"above an order's maximum", func() resp { return w.Post(t, "/orders", kim.Token, body(w.store, 10_000_001)) }, 400, "invalid_field"},
		{"absurd", func() resp { return w.Post(t, "/orders", kim.Token, body(w.store, "1e30")) }, 400, "invalid_field"},
		{"past the daily charge limit", func() resp { return w.Post(t, "/orders", kim.Token, body(w.store, 9_000_000)) }, 422, "daily_limit_exceeded"},
		{"unknown field", func() resp { return w.Post(t, "/orders", kim.Token, `{"store":"`+w.store+`","amount":1,"tip":1}`) }, 400, "bad_request"},
		{"no idempotency key", func() resp {
			return w.Do(t, req{Method: "POST", Path: "/orders", Token: kim.Token, Body: body(w.store, 1000)})
		}, 400, "idempotency_key_required"},
		{"unknown order", func() resp { return w.act(t, park, unknown, "accept") }, 404, "order_not_found"},
		{"malformed order", func() resp { return w.act(t, park, "x", "accept") }, 404, "order_not_found"},
		{"a stranger accepts", func() resp { return w.act(t, lee, authorized, "accept") }, 404, "order_not_found"},
		{"a stranger reads", func() resp { return w.Get(t, "/orders/"+authorized, lee.Token) }, 404, "order_not_found"},
		{"the customer accepts", func() resp { return w.act(t, kim, authorized, "accept") }, 403, "not_order_store"},
		{"the customer cooks", func() resp { return w.act(t, kim, accepted, "cook") }, 403, "not_order_store"},
		{"the customer refunds", func() resp { return w.refund(t, kim, cooking, 1) }, 403, "not_order_store"},
		{"the store cancels", func() resp { return w.act(t, park, authorized, "cancel") }, 403, "not_order_customer"},
		{"the store completes", func() resp { return w.act(t, park, cooking, "complete") }, 403, "not_order_customer"},
		{"accept twice", func() resp { return w.act(t, park, accepted, "accept") }, 409, "order_status_conflict"},
		{"cook before accepting", func() resp { return w.act(t, park, authorized, "cook") }, 409, "order_status_conflict"},
		{"reject once cooking", func() resp { return w.act(t, park, cooking, "reject") }, 409, "order_cooking_started"},
		{"accept a rejected order", func() resp { return w.act(t, park, rejected, "accept") }, 409, "order_status_conflict"},
		{"cancel a rejected order", func() resp { return w.act(t, kim, rejected, "cancel") }, 409, "order_status_conflict"},
		{"cancel once cooking", func() resp { return w.act(t, kim, cooking, "cancel") }, 409, "order_cooking_started"},
		{"picked up before cooked", func() resp { return w.progress(t, park, cooking, "picked_up") }, 409, "order_status_conflict"},
		{"cooked before cooking", func() resp { return w.progress(t, park, accepted, "cooked") }, 409, "order_status_conflict"},
		{"progress to a status it cannot be set to", func() resp { return w.progress(t, park, cooking, "cooking") }, 400, "invalid_field"},
		{"complete before delivery", func() resp { return w.act(t, kim, cooking, "complete") }, 409, "order_status_conflict"},
		{"refund before the capture", func() resp { return w.refund(t, park, accepted, 100) }, 409, "order_status_conflict"},
		{"refund more than captured", func() resp { return w.refund(t, park, cooking, 10_001) }, 422, "refund_exceeds_capture"},
		{"refund zero", func() resp { return w.refund(t, park, cooking, 0) }, 400, "invalid_field"},
		{"another store's owner refunds", func() resp { return w.refund(t, lee, cooking, 1) }, 404, "order_not_found"},
		{"close another's store", func() resp {
			return w.Do(t, req{Method: "PUT", Path: "/stores/" + other + "/status", Token: park.Token, Body: `{"status":"closed"}`})
		}, 403, "not_store_owner"},
		{"withdraw from another's store", func() resp { return w.Post(t, "/stores/"+other+"/withdrawals", park.Token, `{"amount":1}`) }, 404, "store_not_found"},
		{"withdraw more than the merchant has", func() resp { return w.Post(t, "/stores/"+w.store+"/withdrawals", park.Token, `{"amount":10001}`) }, 422, "insufficient_funds"},
		{"withdraw the merchant account as a main account", func() resp {
			return w.Post(t, "/accounts/"+w.account+"/withdrawals", park.Token, `{"amount":1}`)
		}, 422, "wrong_account_kind"},
		{"list another's store orders", func() resp { return w.Get(t, "/stores/"+other+"/orders", park.Token) }, 403, "not_store_owner"},
		{"a bad status filter", func() resp { return w.Get(t, "/orders?status=eaten", kim.Token) }, 400, "invalid_field"},
		{"a store without a name", func() resp { return w.Post(t, "/stores", kim.Token, `{"name":" "}`) }, 400, "invalid_field"},
		{"an unknown store", func() resp { return w.Get(t, "/stores/st_0000000000000000", kim.Token) }, 404, "store_not_found"},
	}
	before := w.Available(t, kim)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if r := c.r(); r.Status != c.status || r.Code() != c.code {
				t.Errorf("got %s (%s), want %d %s", r, r.Raw, c.status, c.code)
			}
		})
	}
	if after := w.Available(t, kim); after != before {
		t.Errorf("refusals moved money: available %d -> %d", before, after)
	}
	w.wantMerchant(t, 0, 10_000)

	// A closed store takes no orders; reopened, it does.
	w.must(t, w.Do(t, req{Method: "PUT", Path: "/stores/" + w.store + "/status", Token: park.Token, Body: `{"status":"closed"}`}), 200)
	if r := w.place(t, kim, 1000); r.Status != 409 || r.Code() != "store_closed" {
		t.Errorf("closed store: %s", r.Raw)
	}
	w.must(t, w.Do(t, req{Method: "PUT", Path: "/stores/" + w.store + "/status", Token: park.Token, Body: `{"status":"open"}`}), 200)
	w.placed(t, kim, 1000)

	// An expired authorization: refused before the sweep and after it.
	w.Clock.Advance(15 * time.Minute)
	for _, c := range []struct {
		u  user
		id string
		a  string
	}{{park, authorized, "accept"}, {kim, accepted, "cancel"}, {park, accepted, "cook"}} {
		if r := w.act(t, c.u, c.id, c.a); r.Status != 410 || r.Code() != "order_expired" {
			t.Errorf("%s after expiry: %s", c.a, r.Raw)
		}
	}
	if _, err := w.Emulator.Fire(context.Background(), "order-expiry", w.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if r := w.act(t, park, authorized, "accept"); r.Status != 410 || r.Code() != "order_expired" {
		t.Errorf("accept after the sweep: %s", r.Raw)
	}
	if r := w.refund(t, park, authorized, 1); r.Status != 410 || r.Code() != "order_expired" {
		t.Errorf("refund of an expired order: %s", r.Raw)
	}

	// At most MaxStores stores per user.
	for i := 0; i < 9; i++ {
		w.must(t, w.Post(t, "/stores", lee.Token, fmt.Sprintf(`{"name":"Lee %d"}`, i)), 201)
	}
	if r := w.Post(t, "/stores", lee.Token, `{"name":"one more"}`); r.Status != 422 || r.Code() != "too_many_stores" {
		t.Errorf("11th store: %s", r.Raw)
	}
}

// A transition retried with its key replays the first answer, byte for byte.
func TestTransitionsAreIdempotent(t *testing.T) {
	w := newWorld(t, config.Config{})
	w.Fund(t, w.kim, 50_000)
	id := w.placed(t, w.kim, 10_000)
	key := stacktest.NewKey()
	first := w.Do(t, req{Method: "POST", Path: "/orders/" + id + "/accept", Token: w.owner.Token, Key: key})
	again := w.Do(t, req{Method: "POST", Path: "/orders/" + id + "/accept", Token: w.owner.Token, Key: key})
	if first.Status != 200 || again.Raw != first.Raw || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("first %s\nagain %s", first.Raw, again.Raw)
	}
	w.must(t, w.act(t, w.owner, id, "cook"), 200)
	rkey := stacktest.NewKey()
	for i := 0; i < 3; i++ {
		r := w.Do(t, req{Method: "POST", Path: "/orders/" + id + "/refunds", Token: w.owner.Token, Key: rkey, Body: `{"amount":4000}`})
		if r.Status != 201 {
			t.Fatalf("refund %d: %s", i, r.Raw)
		}
	}
	if o := w.order(t, id); stacktest.Int(o["refunded"]) != 4_000 {
		t.Fatalf("a replayed refund refunded again: %v", o["refunded"])
	}
}

// Unanswered authorizations expire by the sweep (authorized and accepted
// alike); the money is the customer's again; both parties are told; a
// second run does nothing; an order cooking is not touched. The
// authorization's length is configurable.
func TestUnansweredOrdersExpire(t *testing.T) {
	w := newWorld(t, config.Config{OrderAuthorization: 5 * time.Minute})
	kim, park := w.kim, w.owner
	w.Fund(t, kim, 30_000)
	a := w.placed(t, kim, 10_000)
	b := w.placed(t, kim, 10_000)
	w.must(t, w.act(t, park, b, "accept"), 200)
	c := w.placed(t, kim, 10_000)
	w.must(t, w.act(t, park, c, "accept"), 200)
	w.must(t, w.act(t, park, c, "cook"), 200)
	ctx := context.Background()

	if got, want := w.expiry(t, a), w.Clock.Now().Add(5*time.Minute-5*time.Millisecond); !got.Equal(want) {
		t.Fatalf("a expires %s, want %s", got, want)
	}
	w.Clock.Set(w.expiry(t, a).Add(-time.Millisecond))
	if _, err := w.Emulator.Fire(ctx, "order-expiry", w.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if w.status(t, a) != "authorized" || w.status(t, b) != "accepted" {
		t.Fatal("expired before the authorization's end")
	}
	w.Clock.Set(w.expiry(t, b))
	run, err := w.Emulator.Fire(ctx, "order-expiry", w.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(run.Output), `"expired":2`) {
		t.Errorf("run: %s", run.Output)
	}
	for _, id := range []string{a, b} {
		if st := w.status(t, id); st != "expired" {
			t.Errorf("%s is %s", id, st)
		}
	}
	if w.status(t, c) != "cooking" {
		t.Error("a captured order expired")
	}
	w.wantMain(t, kim, 20_000, 0, 20_000)
	w.wantMerchant(t, 0, 10_000)
	run, err = w.Emulator.Fire(ctx, "order-expiry", w.Clock.Now())
	if err != nil || !strings.Contains(string(run.Output), `"expired":0`) {
		t.Errorf("second run: %s %v", run.Output, err)
	}
	tl := w.order(t, a)["timeline"].([]any)
	if e := tl[0].(map[string]any); e["action"] != "expired" || e["actor"] != "system" {
		t.Errorf("timeline head %v", e)
	}
	if ids := listed(t, w.must(t, w.Get(t, "/orders?status=expired", kim.Token), 200)); len(ids) != 2 {
		t.Errorf("Kim's expired orders %v", ids)
	}
	w.wantNotified(t, kim, "order_expired", "order_expired", "order_cooking", "order_accepted", "order_accepted")
	w.wantNotified(t, park, "order_expired", "order_expired", "order_received", "order_received", "order_received")
}

// Races: each ends as some serial order of the same requests.
func TestRaces(t *testing.T) {
	t.Run("accept vs cancel", func(t *testing.T) {
		w := newWorld(t, config.Config{})
		w.Fund(t, w.kim, 100_000)
		for round := 0; round < 6; round++ {
			id := w.placed(t, w.kim, 10_000)
			var accept, cancel resp
			burst(2, func(i int) {
				if i == 0 {
					accept = w.act(t, w.owner, id, "accept")
				} else {
					cancel = w.act(t, w.kim, id, "cancel")
				}
			})
			// accept then cancel: both succeed; cancel then accept: accept refused.
			ok := cancel.Status == 200 && (accept.Status == 200 || accept.Code() == "order_status_conflict")
			if !ok || w.status(t, id) != "cancelled" {
				t.Fatalf("round %d: accept %s, cancel %s, status %s", round, accept.Raw, cancel.Raw, w.status(t, id))
			}
		}
		w.wantMain(t, w.kim, 100_000, 0, 100_000)
	})
	t.Run("capture vs cancel", func(t *testing.T) {
		w := newWorld(t, config.Config{})
		w.Fund(t, w.kim, 100_000)
		var captures int64
		for round := 0; round < 6; round++ {
			id := w.placed(t, w.kim, 10_000)
			w.must(t, w.act(t, w.owner, id, "accept"), 200)
			var cook, cancel resp
			burst(2, func(i int) {
				if i == 0 {
					cook = w.act(t, w.owner, id, "cook")
				} else {
					cancel = w.act(t, w.kim, id, "cancel")
				}
			})
			switch st := w.status(t, id); {
			case cook.Status == 200 && cancel.Code() == "order_cooking_started" && st == "cooking":
				captures++
			case cancel.Status == 200 && cook.Code() == "order_status_conflict" && st == "cancelled":
			default:
				t.Fatalf("round %d: cook %s, cancel %s, status %s", round, cook.Raw, cancel.Raw, st)
			}
		}
		w.wantMain(t, w.kim, 100_000-captures*10_000, 0, 100_000-captures*10_000)
		w.wantMerchant(t, 0, captures*10_000)
	})
	t.Run("cancel vs expiry", func(t *testing.T) {
		w := newWorld(t, config.Config{})
		w.Fund(t, w.kim, 100_000)
		for round := 0; round < 6; round++ {
			id := w.placed(t, w.kim, 10_000)
			w.must(t, w.act(t, w.owner, id, "accept"), 200)
			exp := w.expiry(t, id)
			w.Clock.Set(exp.Add(-2 * time.Millisecond)) // the cancel ticks one
			var cancel resp
			burst(2, func(i int) {
				if i == 0 {
					cancel = w.act(t, w.kim, id, "cancel")
					return
				}
				w.Clock.Set(exp) // the authorization's end, then the sweep
				if _, err := w.Emulator.Fire(context.Background(), "order-expiry", w.Clock.Now()); err != nil {
					t.Error(err)
				}
			})
			switch st := w.status(t, id); {
			case cancel.Status == 200 && st == "cancelled":
			case cancel.Code() == "order_expired" && st == "expired":
			default:
				t.Fatalf("round %d: cancel %s, status %s", round, cancel.Raw, st)
			}
		}
		w.wantMain(t, w.kim, 100_000, 0, 100_000)
	})
	t.Run("20 refunds whose sum would exceed the capture", func(t *testing.T) {
		w := newWorld(t, config.Config{})
		w.Fund(t, w.kim, 10_000)
		id := w.placed(t, w.kim, 10_000)
		w.must(t, w.act(t, w.owner, id, "accept"), 200)
		w.must(t, w.act(t, w.owner, id, "cook"), 200)
		var mu sync.Mutex
		outcomes := map[string]int{}
		burst(20, func(int) {
			r := w.refund(t, w.owner, id, 700)
			mu.Lock()
			outcomes[r.String()]++
			mu.Unlock()
		})
		// 14 x 700 = 9,800 fit in 10,000; the 15th would not.
		if outcomes["201"] != 14 || outcomes["422 refund_exceeds_capture"] != 6 {
			t.Fatalf("outcomes %v", outcomes)
		}
		if o := w.order(t, id); stacktest.Int(o["refunded"]) != 9_800 || stacktest.Int(o["refundable"]) != 200 {
			t.Fatalf("order %v", o)
		}
		w.wantMerchant(t, 0, 200)
		w.wantMain(t, w.kim, 9_800, 0, 9_800)
	})
}

// Overload: past a payment route's throttle the gateway answers 429 at
// once, before any function runs, while other routes and requests within
// the rate keep succeeding; a throttled request retried later with its key
// is paid exactly once. Past a function's reserved concurrency an
// invocation is refused at once (the gateway's 500), never queued, and
// nothing of it is written.
func TestOverloadIsAnsweredAtOnce(t *testing.T) {
	w := newWorld(t, config.Config{})
	w.Fund(t, w.kim, 1_000_000)
	var accepted []string
	for i := 0; i < 5; i++ {
		accepted = append(accepted, w.placed(t, w.kim, 1000))
	}
	count := func() int {
		return len(listed(t, w.must(t, w.Get(t, "/stores/"+w.store+"/orders?status=authorized&limit=100", w.owner.Token), 200)))
	}
	w.Emulator.SetThrottle("POST /orders", &routes.Throttle{Rate: 1, Burst: 5})
	var mu sync.Mutex
	outcomes := map[string]int{}
	var throttledKey string
	burst(45, func(i int) {
		var r resp
		switch {
		case i < 30: // 30 orders at one instant: 5 fit the burst
			key := stacktest.NewKey()
			r = w.Do(t, req{Method: "POST", Path: "/orders", Token: w.kim.Token, Key: key,
				Body: fmt.Sprintf(`{"store":%q,"amount":1000}`, w.store)})
			if r.Status == 429 {
				mu.Lock()
				throttledKey = key
				mu.Unlock()
				if r.Raw != `{"message":"Too Many Requests"}` {
					t.Errorf("throttled: %s", r.Raw)
				}
			}
			mu.Lock()
			outcomes["place "+r.String()]++
			mu.Unlock()
			return
		case i < 35: // other routes meanwhile
			r = w.Post(t, "/orders/"+accepted[i-30]+"/accept", w.owner.Token, "")
		default:
			r = w.Get(t, "/orders?limit=5", w.kim.Token)
		}
		mu.Lock()
		outcomes["other "+r.String()]++
		mu.Unlock()
	})
	if outcomes["place 201"] != 5 || outcomes["place 429"] != 25 || outcomes["other 200"] != 15 || len(outcomes) != 3 {
		t.Fatalf("outcomes %v", outcomes)
	}
	if n := count(); n != 5 {
		t.Fatalf("%d authorized orders, want the 5 that passed", n)
	}
	// Within the rate (one a second on the stack's clock) every order passes.
	for i := 0; i < 5; i++ {
		w.Clock.Advance(time.Second)
		w.must(t, w.Post(t, "/orders", w.kim.Token, fmt.Sprintf(`{"store":%q,"amount":1000}`, w.store)), 201)
	}
	w.Clock.Advance(time.Second)
	retry := req{Method: "POST", Path: "/orders", Token: w.kim.Token, Key: throttledKey, Body: fmt.Sprintf(`{"store":%q,"amount":1000}`, w.store)}
	first := w.must(t, w.Do(t, retry), 201)
	w.Clock.Advance(time.Second)
	if again := w.Do(t, retry); again.Raw != first.Raw || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %s", again.Raw)
	}
	if n := count(); n != 11 {
		t.Fatalf("%d authorized orders, want 11", n)
	}
	if b, h, _ := w.Account(t, w.kim, w.kim.Main); b != 1_000_000 || h != 16*1000 {
		t.Fatalf("Kim: balance %d held %d", b, h)
	}

	// Reserved concurrency, the backstop.
	w.Emulator.SetThrottle("POST /orders", nil)
	w.Emulator.SetReservedConcurrency("place-order", 2)
	refusedBefore := w.Emulator.Overload().Refused
	clear(outcomes)
	burst(20, func(int) {
		r := w.Post(t, "/orders", w.kim.Token, fmt.Sprintf(`{"store":%q,"amount":1000}`, w.store))
		if r.Status == 500 && r.Raw != `{"message":"Internal Server Error"}` {
			t.Errorf("refused invocation: %s", r.Raw)
		}
		mu.Lock()
		outcomes[r.String()]++
		mu.Unlock()
	})
	if outcomes["201"] < 1 || outcomes["201"]+outcomes["500"] != 20 || int64(outcomes["500"]) != w.Emulator.Overload().Refused-refusedBefore {
		t.Fatalf("outcomes %v", outcomes)
	}
	if n := count(); n != 11+outcomes["201"] {
		t.Fatalf("%d authorized orders, want %d", n, 11+outcomes["201"])
	}
	w.Emulator.SetReservedConcurrency("place-order", 100)
	w.must(t, w.Post(t, "/orders", w.kim.Token, fmt.Sprintf(`{"store":%q,"amount":1000}`, w.store)), 201)
}

// A store created before reserve accounts existed gets one at its first
// capture, and the capture goes into it.
func TestAnOldStoreGetsItsReserveAtTheFirstCapture(t *testing.T) {
	w := newWorld(t, config.Config{})
	_, err := ddbtest.Client().DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(w.Name),
		Key: ddb.Key("USER#"+w.owner.ID, "ACCOUNT#"+merchant.ReserveAccountID(w.store))})
	if err != nil {
		t.Fatal(err)
	}
	if r := w.must(t, w.Get(t, "/stores/"+w.store, w.owner.Token), 200); r.Body["reserve"] != nil {
		t.Fatalf("the reserve is still there: %s", r.Raw)
	}
	w.Fund(t, w.kim, 10_000)
	id := w.placed(t, w.kim, 10_000)
	w.must(t, w.act(t, w.owner, id, "accept"), 200)
	w.must(t, w.act(t, w.owner, id, "cook"), 200)
	w.wantMerchant(t, 0, 10_000)
	w.must(t, w.refund(t, w.owner, id, 2_000), 201)
	w.wantMerchant(t, 0, 8_000)
}
