package stacktest_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"minipay/localstack/capacity"
	"minipay/localstack/contention"
	"minipay/localstack/ddbtest"
	"minipay/localstack/stacktest"
	"minipay/shared/capabilities/users"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
)

var updateFootprints = flag.Bool("update", false, "rewrite localstack/capacity/footprints.json from this run")

// footprintFile is the generated footprint table.
var footprintFile = filepath.Join("..", "capacity", "footprints.json")

// footprints drives stacks under a capacity.Recorder and keeps, per step,
// what the step's requests cost on each partition class.
type footprints struct {
	t        *testing.T
	table    capacity.Table
	shards   map[string]map[string]bool
	recorded []recorded // summarized at the end, once every sharded family is known
}

// recorded is one step's charges, classified by its roles.
type recorded struct {
	cl   *capacity.Classifier
	keep []capacity.Charge
}

type recStack struct {
	*stacktest.Stack
	rec *capacity.Recorder
	f   *footprints
}

func (f *footprints) stack() *recStack {
	var rec *capacity.Recorder
	s := stacktest.New(f.t, config.Config{WebhookAllowLoopback: true}, func(c ddb.Client) ddb.Client {
		rec = capacity.NewRecorder(c, ddbtest.Client(), capacity.Schema{})
		return rec
	})
	schema, err := capacity.DescribeSchema(context.Background(), ddbtest.Client(), s.Name)
	if err != nil {
		f.t.Fatal(err)
	}
	rec.SetSchema(schema)
	return &recStack{Stack: s, rec: rec, f: f}
}

// roles names actors: a user stands for its id, main account and token.
type roles map[string]string

func (r roles) user(u stacktest.User, role string) roles {
	r[u.ID], r[u.Main], r[users.TokenHash(u.Token)] = role, role, role
	return r
}

// step records what do costs as the footprint name (per: subjects covered;
// -1: the users' accounts whose items it wrote; a system account's cost is
// spread over them, since which of the shared external shards a run's
// random ids meet varies, and counting them made the subjects vary too).
// The authorizer's lookups are left out (API Gateway caches its answers);
// "authorizer (cache miss)" records one.
func (s *recStack) step(name string, per int, who func() roles, do func()) {
	s.f.t.Helper()
	ctx := context.Background()
	s.Emulator.DrainQueues(ctx)
	s.f.discover(s.rec.Take())
	do()
	s.Emulator.DrainQueues(ctx)
	var keep []capacity.Charge
	all := s.rec.Take()
	s.f.discover(all)
	for _, c := range all {
		if (c.Function == "authorizer") == (name == "authorizer (cache miss)") {
			keep = append(keep, c)
		}
	}
	cl := &capacity.Classifier{}
	for id, r := range who() {
		cl.Role(id, r)
	}
	if per < 0 {
		seen := map[string]bool{}
		for _, c := range keep {
			if c.Kind == capacity.Write && c.Index == "" && strings.HasPrefix(c.SK, "ACCOUNT#") && !strings.HasPrefix(c.PK, "SYSTEM#") {
				seen[c.PK+" "+c.SK] = true
			}
		}
		per = len(seen)
	}
	if per <= 0 {
		per = 1
	}
	if _, dup := s.f.table.Get(name); dup {
		s.f.t.Fatalf("footprint %q recorded twice", name)
	}
	s.f.table.Footprints = append(s.f.table.Footprints, capacity.Footprint{Name: name, Per: per, Roles: cl.Roles()})
	s.f.recorded = append(s.f.recorded, recorded{cl, keep})
}

// discover notes the shards of role-free classes (SYSTEM#sys_external_<n>)
// in every charge, the steps' setup included: the more of a class's shards
// the recording sees, the truer its count.
func (f *footprints) discover(cs []capacity.Charge) {
	var cl capacity.Classifier
	for _, c := range cs {
		class := cl.Class(c.PK)
		if !strings.Contains(class, "<n>") || strings.Contains(class, "<id>") {
			continue
		}
		w := capacity.Use{Index: c.Index, Class: class}.Where()
		if f.shards[w] == nil {
			f.shards[w] = map[string]bool{}
		}
		f.shards[w][c.PK] = true
	}
}

func (s *recStack) must(r stacktest.Response, status int) stacktest.Response {
	s.f.t.Helper()
	if r.Status != status {
		s.f.t.Fatalf("want %d: %d %s", status, r.Status, r.Raw)
	}
	return r
}

func (s *recStack) fire(job string) {
	s.f.t.Helper()
	if _, err := s.Emulator.Fire(context.Background(), job, s.Clock.Now()); err != nil {
		s.f.t.Fatal(err)
	}
	s.Emulator.DrainQueues(context.Background())
}

func str(r stacktest.Response, field string) string { v, _ := r.Body[field].(string); return v }

// TestFootprints records the footprint of one request of every route and
// one run of every job (localstack/capacity/footprints.json) from real runs of
// the handlers on DynamoDB Local, and fails if they differ from the
// checked-in table. After a design change: go test ./localstack/stacktest -run
// TestFootprints -update, then make capacity.
func TestFootprints(t *testing.T) {
	f := &footprints{t: t, shards: map[string]map[string]bool{}}
	f.routes()
	f.jobs()
	f.promoted()
	fams := capacity.Families{}
	for _, r := range f.recorded {
		fams.Learn(r.cl, r.keep)
	}
	for i, r := range f.recorded {
		f.table.Footprints[i].Charges = r.cl.Summarize(r.keep, f.shards, fams)
	}

	f.table.Note = "generated by go test ./localstack/stacktest -run TestFootprints -update: do not edit; make capacity reads it"
	f.table.Shards = capacity.ShardCounts(f.shards)
	got := &f.table
	if *updateFootprints {
		if err := os.WriteFile(footprintFile, got.JSON(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := capacity.Recorded()
	if err != nil {
		t.Fatal(err)
	}
	if d := capacity.Diff(want, got, 0.05); len(d) > 0 {
		sort.Strings(d)
		t.Fatalf("the footprints differ from localstack/capacity/footprints.json (regenerate: go test ./localstack/stacktest -run TestFootprints -update):\n  %s",
			strings.Join(d, "\n  "))
	}
}

func (f *footprints) routes() {
	t := f.t
	s := f.stack()
	type req = stacktest.Request

	var nu stacktest.User
	s.step("POST /users", 1, func() roles { return roles{}.user(nu, "user") }, func() { nu = s.Register(t, "new") })
	s.step("authorizer (cache miss)", 1, func() roles { return roles{}.user(nu, "user") }, func() { s.must(s.Get(t, "/accounts", nu.Token), 200) })

	kim, lee, park := s.Register(t, "Kim"), s.Register(t, "Lee"), s.Register(t, "Park")
	s.step("POST /accounts/{id}/charges", 1, func() roles { return roles{}.user(kim, "user") }, func() { s.Charge(t, kim, 300_000) })
	s.step("POST /operator/deposits", 1, func() roles { return roles{}.user(lee, "user") }, func() { s.Fund(t, lee, 50_000) })
	s.Charge(t, park, 100_000)
	for _, u := range []stacktest.User{kim, lee, park} { // every first request's authorizer miss, outside the steps
		s.must(s.Get(t, "/accounts", u.Token), 200)
	}
	s.step("GET /accounts", 1, func() roles { return roles{}.user(kim, "user") }, func() { s.must(s.Get(t, "/accounts", kim.Token), 200) })
	var savings string
	sv := func() roles { return roles{savings: "savings"}.user(kim, "user") }
	s.step("POST /accounts", 1, sv, func() { savings = str(s.must(s.Post(t, "/accounts", kim.Token, `{"name":"trip"}`), 201), "id") })
	s.step("GET /accounts/{id}", 1, sv, func() { s.must(s.Get(t, "/accounts/"+savings, kim.Token), 200) })
	s.step("POST /accounts/{id}/deposits", 1, sv, func() { s.must(s.Post(t, "/accounts/"+savings+"/deposits", kim.Token, `{"amount":1000}`), 201) })
	s.step("POST /accounts/{id}/withdrawals", 1, sv, func() { s.must(s.Post(t, "/accounts/"+kim.Main+"/withdrawals", kim.Token, `{"amount":1000}`), 201) })
	s.step("GET /accounts/{id}/entries", 1, sv, func() { s.must(s.Get(t, "/accounts/"+kim.Main+"/entries?limit=20", kim.Token), 200) })
	var fixed string
	s.step("POST /accounts (fixed)", 1, func() roles { return roles{fixed: "savings"}.user(kim, "user") }, func() {
		fixed = str(s.must(s.Post(t, "/accounts", kim.Token, `{"product":"fixed","installment":10000}`), 201), "id")
	})
	s.step("POST /accounts/{id}/close", 1, func() roles { return roles{fixed: "savings"}.user(kim, "user") }, func() {
		s.must(s.Post(t, "/accounts/"+fixed+"/close", kim.Token, ""), 201)
	})

	// Movements between users.
	pp := func() roles { return roles{}.user(kim, "payer").user(lee, "payee") }
	s.step("POST /transfers", 1, pp, func() { s.must(s.Post(t, "/transfers", kim.Token, transfer(lee.ID, 1000)), 201) })
	fresh := s.Register(t, "fresh")
	s.Fund(t, fresh, 20_000) // an operator deposit is a posting: the first spend folds it
	s.must(s.Get(t, "/accounts", fresh.Token), 200)
	s.step("POST /transfers (payer folds a posting first)", 1, func() roles { return roles{}.user(fresh, "payer").user(lee, "payee") }, func() {
		s.must(s.Post(t, "/transfers", fresh.Token, transfer(lee.ID, 1000)), 201)
	})
	pending := make([]string, 4)
	s.step("POST /transfers (pending)", 1, pp, func() {
		pending[0] = str(s.must(s.Post(t, "/transfers", kim.Token, `{"to":"`+lee.ID+`","amount":100,"pending":true}`), 201), "id")
	})
	for i := 1; i < 4; i++ {
		pending[i] = str(s.must(s.Post(t, "/transfers", kim.Token, `{"to":"`+lee.ID+`","amount":100,"pending":true}`), 201), "id")
	}
	s.step("GET /transfers", 1, pp, func() { s.must(s.Get(t, "/transfers?role=received", lee.Token), 200) })
	s.step("POST /transfers/{id}/accept", 1, pp, func() { s.must(s.Post(t, "/transfers/"+pending[0]+"/accept", lee.Token, ""), 201) })
	s.step("POST /transfers/{id}/reject", 1, pp, func() { s.must(s.Post(t, "/transfers/"+pending[1]+"/reject", lee.Token, ""), 201) })
	s.step("POST /transfers/{id}/cancel", 1, pp, func() { s.must(s.Post(t, "/transfers/"+pending[2]+"/cancel", kim.Token, ""), 201) })
	s.step("GET /me/notifications", 1, pp, func() { s.must(s.Get(t, "/me/notifications", lee.Token), 200) })
	// pending[3] is left for the sweep's reminder and expiry.

	// Rooms and sprinkles.
	sp := s.Register(t, "sp")
	s.Charge(t, sp, 100_000)
	s.must(s.Get(t, "/accounts", sp.Token), 200)
	var room, tok, spID string
	claimers := []stacktest.User{lee, kim, park, s.Register(t, "m4"), s.Register(t, "m5")}
	rr := func() roles {
		r := roles{room: "room", tok: "sprinkle", spID: "sprinkle"}.user(sp, "sprinkler").user(lee, "claimer")
		if spID == "" {
			delete(r, "")
		}
		return r
	}
	s.step("POST /rooms", 1, rr, func() { room = str(s.must(s.Post(t, "/rooms", sp.Token, `{"name":"club"}`), 201), "id") })
	s.step("POST /rooms/{id}/members", 1, rr, func() {
		s.must(s.Post(t, "/rooms/"+room+"/members", sp.Token, fmt.Sprintf(`{"userId":%q}`, lee.ID)), 201)
	})
	for _, u := range claimers[1:] {
		s.must(s.Post(t, "/rooms/"+room+"/members", sp.Token, fmt.Sprintf(`{"userId":%q}`, u.ID)), 201)
		s.must(s.Get(t, "/accounts", u.Token), 200)
	}
	s.step("GET /rooms/{id}", 1, rr, func() { s.must(s.Get(t, "/rooms/"+room, lee.Token), 200) })
	s.step("POST /rooms/{id}/sprinkles", 1, rr, func() {
		r := s.must(s.Post(t, "/rooms/"+room+"/sprinkles", sp.Token, `{"amount":3000,"count":3}`), 201)
		tok, spID = str(r, "token"), str(r, "id")
	})
	s.step("POST /rooms/{id}/sprinkles/{token}/claims", 1, rr, func() {
		s.must(s.Post(t, "/rooms/"+room+"/sprinkles/"+tok+"/claims", lee.Token, ""), 201)
	})
	for _, u := range claimers[1:3] {
		s.must(s.Post(t, "/rooms/"+room+"/sprinkles/"+tok+"/claims", u.Token, ""), 201)
	}
	s.step("POST /rooms/{id}/sprinkles/{token}/claims (exhausted)", 1, func() roles { return rr().user(claimers[3], "claimer") }, func() {
		s.must(s.Post(t, "/rooms/"+room+"/sprinkles/"+tok+"/claims", claimers[3].Token, ""), 409)
	})
	s.step("GET /rooms/{id}/sprinkles/{token}", 1, rr, func() { s.must(s.Get(t, "/rooms/"+room+"/sprinkles/"+tok, sp.Token), 200) })
	s.step("DELETE /rooms/{id}/members/me", 1, func() roles { return rr().user(claimers[4], "member") }, func() {
		s.must(s.Do(t, req{Method: "DELETE", Path: "/rooms/" + room + "/members/me", Token: claimers[4].Token}), 200)
	})
	// A second sprinkle, claimed once, for the reclaim job.
	left := str(s.must(s.Post(t, "/rooms/"+room+"/sprinkles", sp.Token, `{"amount":3000,"count":3}`), 201), "token")
	s.must(s.Post(t, "/rooms/"+room+"/sprinkles/"+left+"/claims", lee.Token, ""), 201)

	// Tokens and settings.
	var rotated string
	tk := func() roles { r := roles{}.user(park, "user"); r[users.TokenHash(rotated)] = "user"; return r }
	s.step("POST /me/token", 1, tk, func() { rotated = str(s.must(s.Post(t, "/me/token", park.Token, ""), 201), "token") })
	s.must(s.Get(t, "/accounts", rotated), 200)
	s.step("DELETE /me/token", 1, tk, func() { s.must(s.Do(t, req{Method: "DELETE", Path: "/me/token", Token: rotated}), 200) })
	s.step("PUT /me/settings", 1, func() roles { return roles{}.user(sp, "user") }, func() {
		s.must(s.Do(t, req{Method: "PUT", Path: "/me/settings", Token: sp.Token, Body: `{"pendingTransfers":false}`}), 200)
	})

	// A store and its orders through every transition.
	cu := s.Register(t, "customer")
	s.Charge(t, cu, 100_000)
	s.must(s.Get(t, "/accounts", cu.Token), 200)
	// Two stores: plain never has a webhook endpoint (mix (b), make
	// load's stores), store gets one (webhooks b).
	var store, plain, order string
	so := func() roles { return roles{store: "store", plain: "store"}.user(kim, "owner").user(cu, "customer") }
	s.step("POST /stores", 1, so, func() { store = str(s.must(s.Post(t, "/stores", kim.Token, `{"name":"Kim's"}`), 201), "id") })
	plain = str(s.must(s.Post(t, "/stores", kim.Token, `{"name":"Kim's plain"}`), 201), "id")
	s.must(s.Get(t, "/stores/"+plain+"/orders", kim.Token), 200) // its facts cached, as a warm instance has them
	s.step("GET /stores/{id}", 1, so, func() { s.must(s.Get(t, "/stores/"+store, kim.Token), 200) })
	s.step("PUT /stores/{id}/status", 1, so, func() {
		s.must(s.Do(t, req{Method: "PUT", Path: "/stores/" + store + "/status", Token: kim.Token, Body: `{"status":"closed"}`}), 200)
	})
	s.must(s.Do(t, req{Method: "PUT", Path: "/stores/" + store + "/status", Token: kim.Token, Body: `{"status":"open"}`}), 200)
	// The store's webhook endpoint: its order events are delivered to a
	// local receiver by the sweep and the queue's worker.
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(receiver.Close)
	var hook string
	hooks := "/stores/" + store + "/webhooks"
	s.step("POST /stores/{id}/webhooks", 1, so, func() {
		hook = str(s.must(s.Post(t, hooks, kim.Token, fmt.Sprintf(`{"url":%q}`, receiver.URL)), 201), "id")
	})
	s.step("GET /stores/{id}/webhooks", 1, so, func() { s.must(s.Get(t, hooks, kim.Token), 200) })
	s.step("POST /stores/{id}/webhooks/{webhookId}/rotate", 1, so, func() { s.must(s.Post(t, hooks+"/"+hook+"/rotate", kim.Token, ""), 200) })
	s.step("PUT /stores/{id}/webhooks/{webhookId}/status", 1, so, func() {
		s.must(s.Do(t, req{Method: "PUT", Path: hooks + "/" + hook + "/status", Token: kim.Token, Body: `{"status":"disabled"}`}), 200)
	})
	s.must(s.Do(t, req{Method: "PUT", Path: hooks + "/" + hook + "/status", Token: kim.Token, Body: `{"status":"enabled"}`}), 200)
	placeAt := func(at string) string {
		return str(s.must(s.Post(t, "/orders", cu.Token, fmt.Sprintf(`{"store":%q,"amount":1000}`, at)), 201), "id")
	}
	place := func() string { return placeAt(plain) }
	// An order's life cycle (capacity.OrderSteps), named as the plain
	// store's and, with capacity.WithEndpoint, as the hooked store's.
	lifeCycle := func(at, suffix string) string {
		var id string
		s.step("POST /orders"+suffix, 1, so, func() { id = placeAt(at) })
		s.step("POST /orders/{id}/accept"+suffix, 1, so, func() { s.must(s.Post(t, "/orders/"+id+"/accept", kim.Token, ""), 200) })
		s.step("POST /orders/{id}/cook"+suffix, 1, so, func() { s.must(s.Post(t, "/orders/"+id+"/cook", kim.Token, ""), 200) })
		for _, st := range []string{"cooked", "picked_up", "delivered"} {
			s.step("POST /orders/{id}/progress ("+st+")"+suffix, 1, so, func() {
				s.must(s.Post(t, "/orders/"+id+"/progress", kim.Token, `{"status":"`+st+`"}`), 200)
			})
		}
		s.step("POST /orders/{id}/complete"+suffix, 1, so, func() { s.must(s.Post(t, "/orders/"+id+"/complete", cu.Token, ""), 200) })
		return id
	}
	order = lifeCycle(plain, "")
	lifeCycle(store, capacity.WithEndpoint)
	s.step("POST /orders/{id}/refunds", 1, so, func() { s.must(s.Post(t, "/orders/"+order+"/refunds", kim.Token, `{"amount":100}`), 201) })
	rejected, cancelled, cancelledAccepted := place(), place(), place()
	s.step("POST /orders/{id}/reject", 1, so, func() { s.must(s.Post(t, "/orders/"+rejected+"/reject", kim.Token, ""), 200) })
	s.step("POST /orders/{id}/cancel", 1, so, func() { s.must(s.Post(t, "/orders/"+cancelled+"/cancel", cu.Token, ""), 200) })
	s.must(s.Post(t, "/orders/"+cancelledAccepted+"/accept", kim.Token, ""), 200)
	s.step("POST /orders/{id}/cancel (accepted)", 1, so, func() { s.must(s.Post(t, "/orders/"+cancelledAccepted+"/cancel", cu.Token, ""), 200) })
	s.step("GET /stores/{id}/orders", 1, so, func() { s.must(s.Get(t, "/stores/"+plain+"/orders", kim.Token), 200) })
	s.step("GET /orders", 1, so, func() { s.must(s.Get(t, "/orders", cu.Token), 200) })
	s.step("GET /orders/{id}", 1, so, func() { s.must(s.Get(t, "/orders/"+order, cu.Token), 200) })
	// The owner's inbox: its Query per shard is what tells the model how
	// many partitions a store owner's notifications spread over.
	s.step("GET /me/notifications (store owner)", 1, so, func() { s.must(s.Get(t, "/me/notifications", kim.Token), 200) })
	place() // left to expire
	// The order events above, fanned out to the endpoint and delivered.
	s.Clock.Advance(time.Minute)
	s.step("job webhook-sweep (and the worker's deliveries)", 1, so, func() { s.fire("webhook-sweep") })
	var event string
	s.step("GET /stores/{id}/webhooks/{webhookId}/deliveries", 1, so, func() {
		ds, _ := s.must(s.Get(t, hooks+"/"+hook+"/deliveries?limit=20", kim.Token), 200).Body["deliveries"].([]any)
		if len(ds) == 0 {
			t.Fatal("no webhook deliveries")
		}
		// One type's event: events made at one clock instant come in any
		// order, and their sizes (so the resend's units) differ by type.
		for _, d := range ds {
			ev, _ := d.(map[string]any)["event"].(map[string]any)
			if ev["type"] == "order.placed" {
				event, _ = ev["id"].(string)
				break
			}
		}
		if event == "" {
			t.Fatal("no order.placed delivery")
		}
	})
	s.step("POST /stores/{id}/webhooks/{webhookId}/deliveries/{eventId}/resend", 1, so, func() {
		s.must(s.Post(t, hooks+"/"+hook+"/deliveries/"+event+"/resend", kim.Token, ""), 202)
	})
	s.step("POST /stores/{id}/webhooks/{webhookId}/test", 1, so, func() { s.must(s.Post(t, hooks+"/"+hook+"/test", kim.Token, ""), 202) })
	s.step("DELETE /stores/{id}/webhooks/{webhookId}", 1, so, func() { s.must(s.Do(t, req{Method: "DELETE", Path: hooks + "/" + hook, Token: kim.Token}), 200) })

	// Settlements.
	pa, pb := s.Register(t, "pa"), s.Register(t, "pb")
	s.Charge(t, pa, 100_000)
	for _, u := range []stacktest.User{pa, pb} {
		s.must(s.Get(t, "/accounts", u.Token), 200)
	}
	var bill, other string
	st := func() roles {
		return roles{bill: "settlement", other: "settlement"}.user(kim, "requester").user(pa, "payer").user(pb, "payer")
	}
	due := s.Clock.Now().Add(36 * time.Hour).UTC().Format(time.RFC3339)
	s.step("POST /settlements", 1, st, func() {
		bill = str(s.must(s.Post(t, "/settlements", kim.Token, fmt.Sprintf(`{"total":30000,"split":"equal","participants":[%q,%q,%q],"dueAt":%q}`,
			kim.ID, pa.ID, pb.ID, due)), 201), "id")
	})
	s.step("GET /settlements", 1, st, func() { s.must(s.Get(t, "/settlements?role=received", pa.Token), 200) })
	s.step("GET /settlements/{id}", 1, st, func() { s.must(s.Get(t, "/settlements/"+bill, kim.Token), 200) })
	s.step("POST /settlements/{id}/shares/{userId}/pay", 1, st, func() {
		s.must(s.Post(t, "/settlements/"+bill+"/shares/"+pa.ID+"/pay", pa.Token, ""), 201)
	})
	other = str(s.must(s.Post(t, "/settlements", kim.Token, fmt.Sprintf(`{"total":2000,"participants":[%q,%q]}`, pa.ID, pb.ID)), 201), "id")
	s.step("POST /settlements/{id}/remind", 1, st, func() { s.must(s.Post(t, "/settlements/"+other+"/remind", kim.Token, ""), 200) })
	s.step("POST /settlements/{id}/shares/{userId}/decline", 1, st, func() {
		s.must(s.Post(t, "/settlements/"+other+"/shares/"+pb.ID+"/decline", pb.Token, ""), 200)
	})
	s.step("POST /settlements/{id}/cancel", 1, st, func() { s.must(s.Post(t, "/settlements/"+other+"/cancel", kim.Token, ""), 200) })

	// The minute jobs, each with one item due.
	all := func() roles {
		r := roles{room: "room", left: "sprinkle", bill: "settlement", store: "store"}
		return r.user(kim, "user").user(lee, "user").user(sp, "user").user(cu, "user").user(pa, "user").user(pb, "user")
	}
	s.Clock.Advance(37 * time.Hour)
	s.step("job settlement-sweep (reminder)", 1, all, func() { s.fire("settlement-sweep") })
	s.Clock.Advance(12 * time.Hour) // 49 h: the sprinkle closed, the order expired, the pending transfer's reminder
	s.step("job sprinkle-reclaim", 1, all, func() { s.fire("sprinkle-reclaim") })
	s.step("job order-expiry", 1, all, func() { s.fire("order-expiry") })
	s.step("job pending-sweep (reminder)", 1, all, func() { s.fire("pending-sweep") })
	s.Clock.Advance(24 * time.Hour)
	s.step("job pending-sweep (expiry)", 1, all, func() { s.fire("pending-sweep") })
	// A week on, the capture's refund window closes: the reserve's release,
	// and then the store can withdraw it.
	s.Clock.Advance(7 * 24 * time.Hour)
	s.step("job order-expiry (reserve release)", 1, all, func() { s.fire("order-expiry") })
	s.step("POST /stores/{id}/withdrawals", 1, so, func() { s.must(s.Post(t, "/stores/"+plain+"/withdrawals", kim.Token, `{"amount":500}`), 201) })

	// Tokens the operator issues and revokes, and a user's revoke-all.
	op := func() roles { return roles{}.user(pa, "user") }
	s.step("POST /operator/users/{id}/tokens", 1, op, func() {
		s.must(s.Post(t, "/operator/users/"+pa.ID+"/tokens", stacktest.OperatorToken, ""), 201)
	})
	s.step("DELETE /operator/users/{id}/tokens", 1, op, func() {
		s.must(s.Do(t, req{Method: "DELETE", Path: "/operator/users/" + pa.ID + "/tokens", Token: stacktest.OperatorToken}), 200)
	})
	s.step("DELETE /me/tokens", 1, func() roles { return roles{}.user(pb, "user") }, func() {
		s.must(s.Do(t, req{Method: "DELETE", Path: "/me/tokens", Token: pb.Token}), 200)
	})
}

func (f *footprints) jobs() {
	t := f.t
	s := f.stack()
	// The fold: K payers credit one receiver; one run folds the K postings.
	const k = 4
	rc := s.Register(t, "receiver")
	s.must(s.Get(t, "/accounts", rc.Token), 200)
	fr := roles{}.user(rc, "payee")
	var payers []stacktest.User
	for i := 0; i < k; i++ {
		p := s.Register(t, fmt.Sprint("payer", i))
		s.Charge(t, p, 10_000)
		payers = append(payers, p)
		fr.user(p, "payer")
	}
	s.Clock.Advance(2 * time.Minute)
	s.fire("ledger-fold") // the charges' bank-side postings: not this footprint's
	for _, p := range payers {
		s.must(s.Post(t, "/transfers", p.Token, transfer(rc.ID, 1000)), 201)
	}
	s.Clock.Advance(2 * time.Minute)
	s.step("job ledger-fold", k, func() roles { return fr }, func() { s.fire("ledger-fold") })

	// And k postings to k receivers: a fold transaction each.
	spread := roles{}
	var pairs [][2]stacktest.User
	for i := 0; i < k; i++ {
		p, q := s.Register(t, fmt.Sprint("sender", i)), s.Register(t, fmt.Sprint("receiver", i))
		s.Charge(t, p, 10_000)
		s.must(s.Get(t, "/accounts", q.Token), 200)
		spread.user(p, "payer").user(q, "payee")
		pairs = append(pairs, [2]stacktest.User{p, q})
	}
	s.Clock.Advance(2 * time.Minute)
	s.fire("ledger-fold") // the charges' postings
	for _, pq := range pairs {
		s.must(s.Post(t, "/transfers", pq[0].Token, transfer(pq[1].ID, 1000)), 201)
	}
	s.Clock.Advance(2 * time.Minute)
	s.step("job ledger-fold (one posting per receiver)", k, func() roles { return spread }, func() { s.fire("ledger-fold") })
	for id, r := range spread {
		fr[id] = r
	}

	// The daily savings jobs over n fixed savings accounts.
	const n = 16
	sr := roles{}
	for i := 0; i < n; i++ {
		u := s.Register(t, fmt.Sprint("saver", i))
		s.Charge(t, u, 200_000)
		id := str(s.must(s.Post(t, "/accounts", u.Token, `{"product":"fixed","installment":10000}`), 201), "id")
		sr.user(u, "user")
		sr[id] = "account"
	}
	day := func(h int) { // move to the next day's hh:30 KST
		now := s.Clock.Now()
		next := time.Date(now.Year(), now.Month(), now.Day()+1, h, 30, 0, 0, now.Location())
		if now.Hour() < h {
			next = next.AddDate(0, 0, -1)
		}
		s.Clock.Set(next)
	}
	day(4)
	s.fire("savings-interest")
	day(8)
	s.step("job savings-installments", n, func() roles { return sr }, func() { s.fire("savings-installments") })
	day(4)
	s.step("job savings-interest", n, func() roles { return sr }, func() { s.fire("savings-interest") })

	// The checkpoint, when every account's is due: n savers' main and
	// savings accounts, the receiver's and the payers'.
	s.Clock.Advance(121 * 24 * time.Hour)
	for id, r := range fr {
		sr[id] = r
	}
	// A pass stops within its time budget (on a busy machine, before the
	// end): run passes until one writes nothing, as the next day's would.
	s.step("job ledger-checkpoint", -1, func() roles { return sr }, func() {
		for pass := 0; pass < 20; pass++ {
			n := len(s.rec.Charges())
			s.fire("ledger-checkpoint")
			wrote := false
			for _, c := range s.rec.Charges()[n:] {
				wrote = wrote || c.Kind == capacity.Write
			}
			if !wrote {
				return
			}
		}
		t.Fatal("the checkpoint job did not finish in 20 passes")
	})
}

// Under the cloud model (make run with MINIPAY_CLOUD_MODEL=1), scaled down
// so that a burst meets the limits: every payment into one receiver is a
// 201 or a 503 with Retry-After (never a 500), a retry with the same key
// completes it, and no movement is lost or doubled (the audit runs at the
// end).
func TestUnderTheCloudModelThrottlesAre503AndNothingIsLost(t *testing.T) {
	var e *capacity.Enforcer
	s := stacktest.New(t, config.Config{}, func(c ddb.Client) ddb.Client {
		e = capacity.Enforce(contention.Wrap(c.(contention.Client), contention.Config{NoCapacity: true, NoPadding: true}), ddbtest.Client(), capacity.Schema{})
		return e
	})
	must := func(r stacktest.Response, status int) stacktest.Response {
		t.Helper()
		if r.Status != status {
			t.Fatalf("want %d: %d %s", status, r.Status, r.Raw)
		}
		return r
	}
	schema, err := capacity.DescribeSchema(context.Background(), ddbtest.Client(), s.Name)
	if err != nil {
		t.Fatal(err)
	}
	e.SetSchema(schema)
	e.Scale = 1000 // the setup is not what is measured
	const payers = 40
	rc := s.Register(t, "receiver")
	ps := make([]stacktest.User, payers)
	for i := range ps {
		ps[i] = s.Register(t, fmt.Sprint("payer", i))
		s.Charge(t, ps[i], 10_000)
		must(s.Get(t, "/accounts", ps[i].Token), 200)
	}
	must(s.Get(t, "/accounts", rc.Token), 200)
	e.Scale = 0.01 // 10 WCU/s and 30 RCU/s a partition: the due index's DUE#checkpoint is hot at once
	keys := make([]string, payers)
	status := make([]int, payers)
	burst(payers, func(i int) {
		keys[i] = stacktest.NewKey()
		r := s.Do(t, stacktest.Request{Method: "POST", Path: "/transfers", Token: ps[i].Token, Body: transfer(rc.ID, 1000), Key: keys[i]})
		status[i] = r.Status
		if r.Status == 503 && r.Header.Get("Retry-After") == "" {
			t.Errorf("a 503 without Retry-After: %s", r.Raw)
		}
		if r.Status != 201 && r.Status != 503 {
			t.Errorf("payer %d: %d %s", i, r.Status, r.Raw)
		}
	})
	if e.Throttled.Load() == 0 {
		t.Fatal("the model throttled nothing")
	}
	n503 := 0
	for _, st := range status {
		if st == 503 {
			n503++
		}
	}
	t.Logf("%d throttled calls; %d of %d payments answered 503 at first", e.Throttled.Load(), n503, payers)
	e.Scale = 1000
	for i, st := range status {
		if st == 503 {
			must(s.Do(t, stacktest.Request{Method: "POST", Path: "/transfers", Token: ps[i].Token, Body: transfer(rc.ID, 1000), Key: keys[i]}), 201)
		}
		// a replay of a completed payment moves nothing
		must(s.Do(t, stacktest.Request{Method: "POST", Path: "/transfers", Token: ps[i].Token, Body: transfer(rc.ID, 1000), Key: keys[i]}), 201)
	}
	if got := s.Available(t, rc); got != payers*1000 {
		t.Fatalf("the receiver has %d, want %d", got, payers*1000)
	}
}
