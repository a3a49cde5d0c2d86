package stacktest_test

// Issue 21: signed webhooks for stores, over HTTP through the emulator: a
// local receiver (httptest), the test clock moving time so the
// webhook-sweep job and the webhook-delivery queue's worker run as in the
// cloud, and the money audit at the end of each test.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/localstack/stacktest"
	"minipay/shared/capabilities/webhooks"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
)

// received is one POST the receiver got.
type received struct {
	event     webhooks.Event
	signature string
	body      []byte
}

// receiver is a store's system: it records every delivery and answers
// as its mode says.
type receiver struct {
	srv  *httptest.Server
	mode atomic.Value // "ok", "500", "hang", "down", "redirect"
	mu   sync.Mutex
	got  []received
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.mode.Store("ok")
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		switch r.mode.Load().(string) {
		case "down": // the connection drops: nothing answers
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
				}
			}
			return
		case "hang":
			select {
			case <-req.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		var ev webhooks.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("receiver: body %s: %v", body, err)
		}
		r.mu.Lock()
		r.got = append(r.got, received{event: ev, signature: req.Header.Get(webhooks.HeaderSignature), body: body})
		r.mu.Unlock()
		switch r.mode.Load().(string) {
		case "500":
			w.WriteHeader(500)
		case "redirect":
			http.Redirect(w, req, "http://127.0.0.1:1/elsewhere", http.StatusFound)
		default:
			w.WriteHeader(204)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// hookShop is a shop whose stack allows loopback endpoints.
func newHookShop(t *testing.T, funds int64, wrap ...func(ddb.Client) ddb.Client) *shop {
	t.Helper()
	old := webhooks.DeliveryTimeout
	webhooks.DeliveryTimeout = 300 * time.Millisecond // the hanging receiver
	t.Cleanup(func() { webhooks.DeliveryTimeout = old })
	s := stacktest.New(t, config.Config{WebhookAllowLoopback: true}, wrap...)
	sh := &shop{Stack: s, owner: s.Register(t, "Park"), kim: s.Register(t, "Kim")}
	r := sh.must(t, s.Post(t, "/stores", sh.owner.Token, `{"name":"Park's Kitchen"}`), 201)
	sh.store, sh.account = r.Body["id"].(string), r.Body["accountId"].(string)
	sh.reserve, _ = r.Body["reserveAccountId"].(string)
	if funds > 0 {
		s.Fund(t, sh.kim, funds)
	}
	return sh
}

// endpoint registers url for the store; it answers the endpoint's id and secret.
func (sh *shop) endpoint(t *testing.T, url string, events ...string) (id, secret string) {
	t.Helper()
	body := fmt.Sprintf(`{"url":%q}`, url)
	if len(events) > 0 {
		b, _ := json.Marshal(events)
		body = fmt.Sprintf(`{"url":%q,"events":%s}`, url, b)
	}
	r := sh.must(t, sh.Post(t, "/stores/"+sh.store+"/webhooks", sh.owner.Token, body), 201)
	return r.Body["id"].(string), r.Body["secret"].(string)
}

func (sh *shop) advance(t *testing.T, d time.Duration) {
	t.Helper()
	// In steps of at most a day, so the jobs' budgets are never the limit.
	for d > 0 {
		step := min(d, 24*time.Hour)
		adv, err := sh.Emulator.AdvanceClock(context.Background(), step)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range adv.Failed {
			if f.Job != "webhook-sweep" { // a sweep whose send failed is retried; others must not fail
				t.Errorf("%s at %s: %s", f.Job, f.At, f.Error)
			}
		}
		d -= step
	}
}

func (sh *shop) deliveries(t *testing.T, endpoint string) []map[string]any {
	t.Helper()
	var out []map[string]any
	cursor := ""
	for {
		r := sh.must(t, sh.Get(t, "/stores/"+sh.store+"/webhooks/"+endpoint+"/deliveries?limit=100"+cursor, sh.owner.Token), 200)
		for _, d := range r.Body["deliveries"].([]any) {
			out = append(out, d.(map[string]any))
		}
		next, _ := r.Body["nextCursor"].(string)
		if next == "" {
			return out
		}
		cursor = "&cursor=" + next
	}
}

// verified checks every delivery's signature with one of secrets at the
// test clock's time of the delivery (5 minutes' tolerance) and answers the
// distinct events, by id.
func verified(t *testing.T, got []received, secrets ...string) map[string]webhooks.Event {
	t.Helper()
	out := map[string]webhooks.Event{}
	for _, g := range got {
		ts := tsOf(g.signature)
		ok := false
		for _, s := range secrets {
			if webhooks.Verify(g.signature, g.body, s, time.Unix(ts, 0), 5*time.Minute) == nil {
				ok = true
			}
		}
		if !ok {
			t.Errorf("event %s (%s): signature %q verifies with none of the secrets", g.event.ID, g.event.Type, g.signature)
		}
		out[g.event.ID] = g.event
	}
	return out
}

func tsOf(header string) int64 {
	var ts int64
	for _, p := range strings.Split(header, ",") {
		if v, ok := strings.CutPrefix(p, "t="); ok {
			fmt.Sscan(v, &ts)
		}
	}
	return ts
}

// sequences are each order's event sequence numbers, sorted.
func sequences(evs map[string]webhooks.Event) map[string][]int64 {
	out := map[string][]int64{}
	for _, e := range evs {
		if e.Data.Order != nil {
			out[e.Data.Order.ID] = append(out[e.Data.Order.ID], e.Sequence)
		}
	}
	for _, s := range out {
		slices.Sort(s)
	}
	return out
}

func contiguous(s []int64) bool {
	for i, n := range s {
		if n != int64(i+1) {
			return false
		}
	}
	return true
}

// Every event type is delivered exactly once, signed, with the order's
// state and amounts; a second endpoint that subscribes to order.placed
// only gets those; the test event arrives; the delivery log says it all.
func TestWebhooksDeliverEveryEventTypeOnce(t *testing.T) {
	sh := newHookShop(t, 200_000)
	all, placedOnly := newReceiver(t), newReceiver(t)
	ep, secret := sh.endpoint(t, all.srv.URL+"/hooks")
	_, secret2 := sh.endpoint(t, placedOnly.srv.URL, "order.placed")

	served := sh.place(t, 30_000)
	for _, a := range []string{"accept", "cook"} {
		sh.must(t, sh.act(t, sh.owner, served, a, ""), 200)
	}
	for _, st := range []string{"cooked", "picked_up", "delivered"} {
		sh.must(t, sh.Post(t, "/orders/"+served+"/progress", sh.owner.Token, `{"status":"`+st+`"}`), 200)
	}
	sh.must(t, sh.act(t, sh.kim, served, "complete", ""), 200)
	sh.must(t, sh.Post(t, "/orders/"+served+"/refunds", sh.owner.Token, `{"amount":4000,"reason":"cold soup"}`), 201)
	rejected, cancelled, expired := sh.place(t, 1000), sh.place(t, 2000), sh.place(t, 3000)
	sh.must(t, sh.act(t, sh.owner, rejected, "reject", ""), 200)
	sh.must(t, sh.act(t, sh.kim, cancelled, "cancel", ""), 200)
	sh.must(t, sh.Post(t, "/stores/"+sh.store+"/webhooks/"+ep+"/test", sh.owner.Token, ""), 202)
	sh.advance(t, 8*24*time.Hour) // the authorization lapses; the refund window closes (the payout)

	got := all.all()
	evs := verified(t, got, secret)
	if len(got) != len(evs) {
		t.Errorf("%d deliveries of %d events: some delivered twice", len(got), len(evs))
	}
	var typs []string
	for _, e := range evs {
		typs = append(typs, e.Type)
	}
	sort.Strings(typs)
	want := append(slices.Clone(webhooks.Types), webhooks.OrderPlaced, webhooks.OrderPlaced, webhooks.OrderPlaced, webhooks.Test)
	sort.Strings(want)
	if !slices.Equal(typs, want) {
		t.Errorf("types delivered %v\nwant %v", typs, want)
	}
	for id, seqs := range sequences(evs) {
		if !contiguous(seqs) {
			t.Errorf("order %s: sequences %v", id, seqs)
		}
	}
	if n := len(sequences(evs)[served]); n != 9 { // placed .. completed (7), refunded, payout
		t.Errorf("order %s: %d events, want 9", served, n)
	}
	for _, e := range evs {
		o := e.Data.Order
		switch {
		case e.Store != sh.store:
			t.Errorf("event %s: store %s", e.ID, e.Store)
		case e.Type == webhooks.OrderRefunded && (e.Data.Refund == nil || e.Data.Refund.Amount != 4000 || o.Refunded != 4000 || o.Captured != 30_000):
			t.Errorf("refund event %+v %+v", e.Data.Refund, o)
		case e.Type == webhooks.OrderPayout && (e.Data.Payout == nil || e.Data.Payout.Amount != 26_000):
			t.Errorf("payout event %+v", e.Data.Payout)
		case e.Type == webhooks.OrderCaptured && (o.Status != "cooking" || o.Captured != 30_000):
			t.Errorf("captured event %+v", o)
		case e.Type == webhooks.OrderExpired && (o.ID != expired || o.Status != "expired"):
			t.Errorf("expired event %+v", o)
		}
	}
	// The placed-only endpoint: the four placements, nothing else.
	only := verified(t, placedOnly.all(), secret2)
	if len(only) != 4 {
		t.Errorf("placed-only endpoint got %d events", len(only))
	}
	for _, e := range only {
		if e.Type != webhooks.OrderPlaced {
			t.Errorf("placed-only endpoint got %s", e.Type)
		}
	}
	// The log: every delivery delivered at the first attempt, with its status.
	log := sh.deliveries(t, ep)
	if len(log) != len(evs) {
		t.Fatalf("log has %d deliveries, want %d", len(log), len(evs))
	}
	for _, d := range log {
		attempts := d["log"].([]any)
		if d["status"] != "delivered" || stacktest.Int(d["attempts"]) != 1 || len(attempts) != 1 ||
			stacktest.Int(attempts[0].(map[string]any)["status"]) != 204 {
			t.Errorf("delivery %v", d)
		}
	}
	// Money moved as the orders say (the audit runs at the end too).
	if b, h, a := sh.Account(t, sh.kim, sh.kim.Main); b != 200_000-26_000 || h != 0 || a != b {
		t.Errorf("Kim's main: balance %d held %d available %d", b, h, a)
	}
}

// An endpoint gets the events of changes made after it: an order placed
// before the store's first endpoint (no event written) sends its later
// changes, numbered on from its sequence, and orders placed racing the
// endpoint's creation answer 201 (a change refused by the store's new
// endpoint is built again with its event inside the request); each
// placement begun after the endpoint exists is delivered.
func TestWebhooksBeginWithTheFirstEndpoint(t *testing.T) {
	sh := newHookShop(t, 200_000)
	rc := newReceiver(t)
	before := sh.place(t, 1000)
	var wg sync.WaitGroup
	var ep, secret string
	created := make(chan struct{})
	var mu sync.Mutex
	var after []string
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 3; j++ {
				done := false
				select {
				case <-created:
					done = true
				default:
				}
				r := sh.Post(t, "/orders", sh.kim.Token, fmt.Sprintf(`{"store":%q,"amount":100}`, sh.store))
				if r.Status != 201 {
					t.Errorf("a placement racing the endpoint: %d %s", r.Status, r.Raw)
					continue
				}
				id, _ := r.Body["id"].(string)
				if done {
					mu.Lock()
					after = append(after, id)
					mu.Unlock()
				}
			}
		}()
	}
	ep, secret = sh.endpoint(t, rc.srv.URL)
	close(created)
	wg.Wait()
	sh.must(t, sh.act(t, sh.owner, before, "accept", ""), 200)
	sh.advance(t, 2*time.Minute)

	evs := verified(t, rc.all(), secret)
	seqs := sequences(evs)
	if got := seqs[before]; !slices.Equal(got, []int64{2}) {
		t.Errorf("the order placed before the endpoint: sequences %v delivered, want [2] (its acceptance)", got)
	}
	for _, id := range after {
		if got := seqs[id]; !slices.Equal(got, []int64{1}) {
			t.Errorf("order %s placed after the endpoint: sequences %v delivered, want [1]", id, got)
		}
	}
	if len(sh.deliveries(t, ep)) != len(evs) {
		t.Errorf("the log and the receiver disagree")
	}
	t.Logf("%d events delivered; %d placements begun after the endpoint", len(evs), len(after))
}

// A receiver that is down for a while gets every event once it is back:
// the attempts while it was down are in the log (no status, an error),
// and every order's sequence numbers arrive complete, so the receiver
// orders them.
func TestWebhooksReceiverDownThenBack(t *testing.T) {
	sh := newHookShop(t, 100_000)
	rc := newReceiver(t)
	ep, secret := sh.endpoint(t, rc.srv.URL)
	rc.mode.Store("down")
	var orders []string
	for i := 0; i < 3; i++ {
		id := sh.place(t, 5000)
		sh.must(t, sh.act(t, sh.owner, id, "accept", ""), 200)
		sh.must(t, sh.act(t, sh.owner, id, "cook", ""), 200)
		orders = append(orders, id)
	}
	sh.advance(t, 40*time.Minute) // attempts at about 1, 2, 4, 8, 16 minutes' waits fail
	if got := rc.all(); len(got) != 0 {
		t.Fatalf("a down receiver got %d", len(got))
	}
	down := sh.deliveries(t, ep)
	for _, d := range down {
		a := d["log"].([]any)
		if d["status"] != "pending" || len(a) < 3 || stacktest.Int(a[0].(map[string]any)["status"]) != 0 || a[0].(map[string]any)["error"] == nil {
			t.Fatalf("while down: %v", d)
		}
	}
	list := sh.must(t, sh.Get(t, "/stores/"+sh.store+"/webhooks", sh.owner.Token), 200).Body["endpoints"].([]any)
	if list[0].(map[string]any)["failingSince"] == nil {
		t.Errorf("a failing endpoint without failingSince: %v", list[0])
	}
	rc.mode.Store("ok")
	sh.advance(t, 7*time.Hour) // past the longest wait
	evs := verified(t, rc.all(), secret)
	if len(evs) != 9 {
		t.Fatalf("after the receiver came back: %d events, want 9", len(evs))
	}
	seqs := sequences(evs)
	for _, id := range orders {
		if !slices.Equal(seqs[id], []int64{1, 2, 3}) {
			t.Errorf("order %s: sequences %v", id, seqs[id])
		}
	}
	for _, d := range sh.deliveries(t, ep) {
		if d["status"] != "delivered" {
			t.Errorf("delivery %v", d)
		}
	}
	list = sh.must(t, sh.Get(t, "/stores/"+sh.store+"/webhooks", sh.owner.Token), 200).Body["endpoints"].([]any)
	if list[0].(map[string]any)["failingSince"] != nil {
		t.Errorf("the success did not end the failure streak: %v", list[0])
	}
}

// A receiver that answers 500, one that hangs past the timeout and one
// that redirects are retried on the test clock's time with growing waits
// for 3 days, then the deliveries fail and the owner is told; an endpoint
// still failing after 3 days is disabled (and the owner told) at its next
// delivery. A resend starts again; a re-enabled endpoint gets new events.
func TestWebhooksRetriedThenFailed(t *testing.T) {
	sh := newHookShop(t, 100_000)
	five, hang, redirect := newReceiver(t), newReceiver(t), newReceiver(t)
	five.mode.Store("500")
	hang.mode.Store("hang")
	redirect.mode.Store("redirect")
	ep500, _ := sh.endpoint(t, five.srv.URL)
	epHang, _ := sh.endpoint(t, hang.srv.URL)
	epRedirect, _ := sh.endpoint(t, redirect.srv.URL)
	first := sh.place(t, 1000) // placed, then expired 15 minutes later: two events
	sh.advance(t, 73*time.Hour)
	// The endpoint's failure streak began at the placed event's first
	// attempt; the expired event's attempts began 15 minutes later, so with
	// jitter its last attempt may come 3 days into the streak and disable
	// the endpoint already (then its remaining attempt ends "endpoint
	// disabled", without a delivery-failed notice). Either order is the rule.
	disabledEarly := map[string]bool{}
	failedNotices := 0
	for _, ep := range []string{ep500, epHang, epRedirect} {
		if e := sh.endpointView(t, ep); e["status"] == "disabled" {
			if e["disabledReason"] != "failing" {
				t.Errorf("disabled early, not for failing: %v", e)
			}
			disabledEarly[ep] = true
		}
		log := sh.deliveries(t, ep)
		if len(log) != 2 {
			t.Fatalf("%s: %d deliveries", ep, len(log))
		}
		for _, d := range log {
			attempts := d["log"].([]any)
			if d["status"] != "failed" || stacktest.Int(d["attempts"]) < 10 || len(attempts) != int(stacktest.Int(d["attempts"])) {
				t.Fatalf("%s: %v", ep, d)
			}
			if last := attempts[len(attempts)-1].(map[string]any); last["error"] == "endpoint disabled" {
				if !disabledEarly[ep] {
					t.Errorf("%s: ended by a disabled endpoint that is enabled: %v", ep, last)
				}
				attempts = attempts[:len(attempts)-1] // not an attempt at the receiver
			} else {
				failedNotices++
			}
			// The waits grow: each at least the one before, give or take the jitter.
			var ats []time.Time
			for _, a := range attempts {
				at, _ := time.Parse(time.RFC3339Nano, a.(map[string]any)["at"].(string))
				ats = append(ats, at)
			}
			first, last := ats[1].Sub(ats[0]), ats[len(ats)-1].Sub(ats[len(ats)-2])
			if first > 2*time.Minute || last < time.Hour || ats[len(ats)-1].Sub(ats[0]) > webhooks.RetryFor {
				t.Errorf("%s: attempts at %v", ep, ats)
			}
			a0 := attempts[0].(map[string]any)
			switch ep {
			case ep500:
				if stacktest.Int(a0["status"]) != 500 {
					t.Errorf("500: %v", a0)
				}
			case epHang:
				if stacktest.Int(a0["status"]) != 0 || !strings.Contains(a0["error"].(string), "timeout") {
					t.Errorf("hang: %v", a0)
				}
			case epRedirect:
				if stacktest.Int(a0["status"]) != 302 {
					t.Errorf("redirect (never followed): %v", a0)
				}
			}
		}
	}
	posts := 0
	for _, d := range sh.deliveries(t, epRedirect) {
		for _, a := range d["log"].([]any) {
			if a.(map[string]any)["error"] != "endpoint disabled" {
				posts++
			}
		}
	}
	if n := len(redirect.all()); n != posts {
		t.Errorf("the redirect was followed or an attempt not logged: %d posts, %d attempts", n, posts)
	}
	notes := sh.notified(t, sh.owner)
	if c := countOf(notes, webhooks.NotifDeliveryFailed); c != failedNotices || c < 3 {
		t.Errorf("owner's notifications %v: want %d %s", notes, failedNotices, webhooks.NotifDeliveryFailed)
	}
	// More than 3 days of failing: the next delivery disables the endpoint.
	second := sh.place(t, 1000)
	sh.advance(t, 2*time.Minute)
	for _, ep := range []string{ep500, epHang, epRedirect} {
		e := sh.endpointView(t, ep)
		if e["status"] != "disabled" || e["disabledReason"] != "failing" {
			t.Errorf("after 3 days failing: %v", e)
		}
	}
	if c := countOf(sh.notified(t, sh.owner), webhooks.NotifEndpointDisabled); c != 3 {
		t.Errorf("want 3 %s", webhooks.NotifEndpointDisabled)
	}
	// Fixed and re-enabled: new events arrive, and the failed ones resent.
	five.mode.Store("ok")
	sh.must(t, sh.Do(t, req{Method: "PUT", Path: "/stores/" + sh.store + "/webhooks/" + ep500 + "/status", Token: sh.owner.Token, Body: `{"status":"enabled"}`}), 200)
	for _, d := range sh.deliveries(t, ep500) {
		if d["status"] == "failed" {
			id := d["event"].(map[string]any)["id"].(string)
			sh.must(t, sh.Post(t, "/stores/"+sh.store+"/webhooks/"+ep500+"/deliveries/"+id+"/resend", sh.owner.Token, ""), 202)
		}
	}
	sh.must(t, sh.act(t, sh.kim, second, "cancel", ""), 200)
	sh.advance(t, 10*time.Minute)
	delivered := map[string][]string{}
	for _, d := range sh.deliveries(t, ep500) {
		ev := d["event"].(map[string]any)
		if d["status"] != "delivered" {
			t.Errorf("after re-enabling and resending: %v", d)
		}
		id, _ := ev["data"].(map[string]any)["order"].(map[string]any)["id"].(string)
		delivered[id] = append(delivered[id], ev["type"].(string))
	}
	// A disabled endpoint gets no new events: the second order's placement
	// reached ep500 only if it was still enabled then.
	wantSecond := 2
	if disabledEarly[ep500] {
		wantSecond = 1
	}
	if len(delivered[first]) != 2 || len(delivered[second]) != wantSecond {
		t.Errorf("delivered after re-enabling (disabled early: %v): %v", disabledEarly[ep500], delivered)
	}
	r := sh.Post(t, "/stores/"+sh.store+"/webhooks/"+ep500+"/deliveries/evt_01kapq0e00abcdefghjkmnpqrs/resend", sh.owner.Token, "")
	if r.Status != 404 || r.Code() != "webhook_event_not_found" {
		t.Errorf("resend of an unknown event: %s", r.Raw)
	}
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func (sh *shop) endpointView(t *testing.T, id string) map[string]any {
	t.Helper()
	for _, e := range sh.must(t, sh.Get(t, "/stores/"+sh.store+"/webhooks", sh.owner.Token), 200).Body["endpoints"].([]any) {
		if m := e.(map[string]any); m["id"] == id {
			return m
		}
	}
	t.Fatalf("no endpoint %s", id)
	return nil
}

// A rotation's grace period: for 24 hours every delivery carries two
// signatures, one by the new secret and one by the old; then only the new.
func TestWebhookSecretRotation(t *testing.T) {
	sh := newHookShop(t, 100_000)
	rc := newReceiver(t)
	ep, old := sh.endpoint(t, rc.srv.URL)
	r := sh.must(t, sh.Post(t, "/stores/"+sh.store+"/webhooks/"+ep+"/rotate", sh.owner.Token, ""), 200)
	fresh := r.Body["secret"].(string)
	if fresh == old || !strings.HasPrefix(fresh, "whsec_") || r.Body["previousSecretExpiresAt"] == nil {
		t.Fatalf("rotate: %s", r.Raw)
	}
	for _, e := range sh.must(t, sh.Get(t, "/stores/"+sh.store+"/webhooks", sh.owner.Token), 200).Body["endpoints"].([]any) {
		if _, shown := e.(map[string]any)["secret"]; shown {
			t.Fatal("the list shows a secret")
		}
	}
	sh.place(t, 1000)
	sh.advance(t, 2*time.Minute)
	sh.advance(t, 23*time.Hour)
	sh.place(t, 1000) // within the grace period
	sh.advance(t, 2*time.Minute)
	sh.advance(t, time.Hour) // past it
	sh.place(t, 1000)
	sh.advance(t, 2*time.Minute)
	var got []received
	for _, g := range rc.all() {
		if g.event.Type == webhooks.OrderPlaced { // the first two orders' expiries arrive too
			got = append(got, g)
		}
	}
	if len(got) != 3 {
		t.Fatalf("%d deliveries", len(got))
	}
	for i, g := range got {
		at := time.Unix(tsOf(g.signature), 0)
		newOK := webhooks.Verify(g.signature, g.body, fresh, at, time.Minute) == nil
		oldOK := webhooks.Verify(g.signature, g.body, old, at, time.Minute) == nil
		sigs := strings.Count(g.signature, "v1=")
		if i < 2 && (!newOK || !oldOK || sigs != 2) || i == 2 && (!newOK || oldOK || sigs != 1) {
			t.Errorf("delivery %d: %q: new %v old %v", i, g.signature, newOK, oldOK)
		}
	}
	// A wrong body or an old timestamp does not verify.
	g := got[0]
	if webhooks.Verify(g.signature, append(g.body, ' '), fresh, time.Unix(tsOf(g.signature), 0), time.Minute) == nil ||
		webhooks.Verify(g.signature, g.body, fresh, time.Unix(tsOf(g.signature), 0).Add(10*time.Minute), 5*time.Minute) == nil {
		t.Error("a tampered body or a stale timestamp verified")
	}
}

// SSRF: endpoints must be https to a public address; loopback only where
// the stack allows it (the cloud stack never does).
func TestWebhookURLsAreRefused(t *testing.T) {
	s := stacktest.New(t, config.Config{}) // as in the cloud
	park := s.Register(t, "Park")
	store := s.Post(t, "/stores", park.Token, `{"name":"Park's"}`).Body["id"].(string)
	for _, url := range []string{"http://example.com/hook", "https://127.0.0.1/hook", "https://localhost/hook", "https://10.0.0.8/hook",
		"https://169.254.169.254/latest/meta-data", "https://[::1]/hook", "https://[fd00:ec2::254]/", "https://100.64.0.1/",
		"https://0.0.0.0/", "https://224.0.0.1/", "ftp://example.com/", "https://user:pw@example.com/", "not a url", ""} {
		r := s.Post(t, "/stores/"+store+"/webhooks", park.Token, fmt.Sprintf(`{"url":%q}`, url))
		if r.Status != 400 || r.Code() != "invalid_field" {
			t.Errorf("%q: %s", url, r.Raw)
		}
	}
	if r := s.Post(t, "/stores/"+store+"/webhooks", park.Token, `{"url":"https://kitchen.example.com/hook","events":["order.nope"]}`); r.Status != 400 {
		t.Errorf("unknown event type: %s", r.Raw)
	}
	ok := s.Post(t, "/stores/"+store+"/webhooks", park.Token, `{"url":"https://kitchen.example.com/hook"}`)
	if ok.Status != 201 {
		t.Fatalf("a public https URL: %s", ok.Raw)
	}
	kim := s.Register(t, "Kim")
	if r := s.Get(t, "/stores/"+store+"/webhooks", kim.Token); r.Code() != "not_store_owner" {
		t.Errorf("another user lists the endpoints: %s", r.Raw)
	}
	for i := 1; i < webhooks.MaxEndpoints; i++ {
		s.Post(t, "/stores/"+store+"/webhooks", park.Token, `{"url":"https://kitchen.example.com/hook"}`)
	}
	if r := s.Post(t, "/stores/"+store+"/webhooks", park.Token, `{"url":"https://kitchen.example.com/hook"}`); r.Code() != "too_many_webhooks" {
		t.Errorf("a sixth endpoint: %s", r.Raw)
	}
	id := ok.Body["id"].(string)
	if r := s.Do(t, req{Method: "DELETE", Path: "/stores/" + store + "/webhooks/" + id, Token: park.Token}); r.Status != 200 {
		t.Errorf("delete: %s", r.Raw)
	}
	if r := s.Do(t, req{Method: "DELETE", Path: "/stores/" + store + "/webhooks/" + id, Token: park.Token}); r.Code() != "webhook_not_found" {
		t.Errorf("delete twice: %s", r.Raw)
	}
}

// crashWorker makes the webhook worker's first n record transactions fail
// after its POST: a worker dying mid-delivery.
type crashWorker struct {
	ddb.Client
	left atomic.Int64
}

func (c *crashWorker) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if lc, ok := lambdacontext.FromContext(ctx); ok && strings.HasSuffix(lc.InvokedFunctionArn, ":minipay-webhook-worker") && c.left.Add(-1) >= 0 {
		return nil, fmt.Errorf("crashWorker: the worker died before recording")
	}
	return c.Client.TransactWriteItems(ctx, in, o...)
}

// A worker that dies between its POST and its record loses nothing: the
// queue delivers the message again (here until it is dead-lettered), and
// when the delivery's lease ends the sweep sends it again, so it is
// delivered and recorded; the receiver saw the same event id more than
// once and deduplicates by it.
func TestWebhookWorkerCrashLosesNothing(t *testing.T) {
	crash := &crashWorker{}
	crash.left.Store(3) // every receive of the first message
	sh := newHookShop(t, 100_000, func(c ddb.Client) ddb.Client { crash.Client = c; return crash })
	rc := newReceiver(t)
	ep, secret := sh.endpoint(t, rc.srv.URL)
	id := sh.place(t, 1000)
	sh.advance(t, time.Minute)
	if d := sh.deliveries(t, ep); len(d) != 1 || d[0]["status"] != "pending" || stacktest.Int(d[0]["attempts"]) != 0 {
		t.Fatalf("after the crashes: %v", d)
	}
	if st := sh.Emulator.QueueStats(); st.DeadLettered != 1 {
		t.Fatalf("queue %+v", st)
	}
	sh.advance(t, webhooks.Lease+time.Minute)
	got := rc.all()
	evs := verified(t, got, secret)
	if len(got) != 4 || len(evs) != 1 {
		t.Fatalf("%d posts of %d events; want 4 posts (3 crashed) of 1", len(got), len(evs))
	}
	for _, e := range evs {
		if e.Type != webhooks.OrderPlaced || e.Data.Order.ID != id {
			t.Errorf("event %+v", e)
		}
	}
	if d := sh.deliveries(t, ep); d[0]["status"] != "delivered" || stacktest.Int(d[0]["attempts"]) != 1 {
		t.Errorf("delivery %v", d[0])
	}
}

// Many changes of one order at once (refunds racing each other and a
// progress step): each committed change has exactly one event, and the
// sequence numbers are 1..n without a gap or a repeat, because every
// change conditions on the counter it read.
func TestWebhookSequencesUnderRacingChanges(t *testing.T) {
	sh := newHookShop(t, 100_000)
	rc := newReceiver(t)
	_, secret := sh.endpoint(t, rc.srv.URL)
	id := sh.captured(t, 10_000) // placed, accepted, captured: 1..3
	var mu sync.Mutex
	ok := 0
	var wg sync.WaitGroup
	for i := 0; i < 9; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := sh.Post(t, "/orders/"+id+"/refunds", sh.owner.Token, `{"amount":500}`)
			if r.Status == 201 {
				mu.Lock()
				ok++
				mu.Unlock()
			} else {
				t.Errorf("refund: %s", r.Raw)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		sh.must(t, sh.Post(t, "/orders/"+id+"/progress", sh.owner.Token, `{"status":"cooked"}`), 200)
	}()
	wg.Wait()
	sh.advance(t, 2*time.Minute)
	evs := verified(t, rc.all(), secret)
	seqs := sequences(evs)[id]
	if len(seqs) != 3+ok+1 || !contiguous(seqs) {
		t.Fatalf("%d refunds: sequences %v", ok, seqs)
	}
	refunded := int64(0)
	for _, e := range evs {
		if e.Type == webhooks.OrderRefunded {
			refunded = max(refunded, e.Data.Order.Refunded)
		}
	}
	if refunded != int64(ok)*500 {
		t.Errorf("the last refund event says %d refunded, want %d", refunded, ok*500)
	}
}
