package stacktest_test

import (
	"fmt"
	"sync"
	"testing"

	"minipay/localstack/contention"
	"minipay/localstack/ddbtest"
	"minipay/localstack/stacktest"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
)

// A popular store is no hot item: under the contention model (the cloud's
// transaction conflicts and partition capacity), customers ordering from
// one store at the same moment, and the store taking every order through
// acceptance and capture, never write or check the store's own item; the
// store's order list (spread over shards) lists every order once, newest
// first, over pages; and closing the store still refuses the next order.
func TestPopularStoreTouchesNoStoreItem(t *testing.T) {
	model := contention.Wrap(ddbtest.Client(), contention.Config{})
	s := stacktest.New(t, config.Config{}, func(ddb.Client) ddb.Client { return model })
	owner := s.Register(t, "Popular Kitchen")
	r := s.Post(t, "/stores", owner.Token, `{"name":"Popular Kitchen"}`)
	if r.Status != 201 {
		t.Fatalf("create store: %s", r.Raw)
	}
	store := r.Body["id"].(string)
	const n = 12
	customers := make([]stacktest.User, n)
	for i := range customers {
		customers[i] = s.Register(t, fmt.Sprint("customer ", i))
		s.Fund(t, customers[i], 50_000)
	}
	storeItem := contention.ItemKey{Table: s.Name, Partition: "STORE#" + store, Sort: "STORE"}
	burst := func(what string, f func(i int) stacktest.Response, want int) []string {
		t.Helper()
		model.Reset()
		out := make([]stacktest.Response, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); <-start; out[i] = f(i) }()
		}
		close(start)
		wg.Wait()
		rep := model.Report(3)
		ids := make([]string, n)
		failed := 0
		for i, r := range out {
			if r.Status != want {
				failed++
				t.Errorf("%s %d: %s", what, i, r.Raw)
				continue
			}
			ids[i], _ = r.Body["id"].(string)
		}
		t.Logf("%s, %d at once: %d ok; %.2f conflicts per success; store item: %+v; hottest %v", what, n, n-failed,
			rep.ConflictsPerSuccess(), model.Key(storeItem), rep.Hottest)
		if got := model.Key(storeItem); got.Attempts != 0 {
			t.Errorf("%s wrote or checked the store's item: %+v", what, got)
		}
		return ids
	}
	orders := burst("place", func(i int) stacktest.Response {
		return s.Post(t, "/orders", customers[i].Token, fmt.Sprintf(`{"store":%q,"amount":1000}`, store))
	}, 201)
	burst("accept", func(i int) stacktest.Response { return s.Post(t, "/orders/"+orders[i]+"/accept", owner.Token, "") }, 200)
	burst("cook (capture)", func(i int) stacktest.Response { return s.Post(t, "/orders/"+orders[i]+"/cook", owner.Token, "") }, 200)

	// The list: every order once, newest first, over pages of 7.
	seen := map[string]bool{}
	last, cursor := "~", ""
	for page := 0; ; page++ {
		path := "/stores/" + store + "/orders?limit=7"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := s.Get(t, path, owner.Token)
		if r.Status != 200 {
			t.Fatalf("list page %d: %s", page, r.Raw)
		}
		for _, o := range r.Body["orders"].([]any) {
			id := o.(map[string]any)["id"].(string)
			if seen[id] || id >= last {
				t.Fatalf("page %d: %s twice or out of order (after %s)", page, id, last)
			}
			if st := o.(map[string]any)["status"]; st != "cooking" {
				t.Errorf("order %s listed as %v", id, st)
			}
			seen[id], last = true, id
		}
		next, _ := r.Body["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != n {
		t.Fatalf("listed %d orders, want %d", len(seen), n)
	}
	if r := s.Get(t, "/stores/"+store+"/orders?status=cooking&limit=100", owner.Token); r.Status != 200 || len(r.Body["orders"].([]any)) != n {
		t.Fatalf("status listing: %s", r.Raw)
	}
	if r := s.Get(t, "/stores/"+store+"/orders", customers[0].Token); r.Status != 403 {
		t.Fatalf("a customer listing the store's orders: %s", r.Raw)
	}
	// The store's reserve account holds every capture for its refund window
	// (its postings spread over shards), and its history lists them all.
	if b, _, _ := s.Account(t, owner, "mr_"+store[len("st_"):]); b != n*1000 {
		t.Fatalf("reserve balance %d, want %d", b, n*1000)
	}
	r = s.Get(t, "/accounts/mr_"+store[len("st_"):]+"/entries?limit=100", owner.Token)
	if r.Status != 200 || len(r.Body["entries"].([]any)) != n {
		t.Fatalf("merchant history: %s", r.Raw)
	}
	// Closing takes effect for the very next order; opening again too.
	if r := s.Do(t, stacktest.Request{Method: "PUT", Path: "/stores/" + store + "/status", Token: owner.Token, Body: `{"status":"closed"}`}); r.Status != 200 {
		t.Fatalf("close: %s", r.Raw)
	}
	for i := 0; i < 5; i++ { // orders land on different shards
		if r := s.Post(t, "/orders", customers[i].Token, fmt.Sprintf(`{"store":%q,"amount":1000}`, store)); r.Status != 409 || r.Code() != "store_closed" {
			t.Fatalf("an order at a closed store: %s", r.Raw)
		}
	}
	if r := s.Do(t, stacktest.Request{Method: "PUT", Path: "/stores/" + store + "/status", Token: customers[0].Token, Body: `{"status":"open"}`}); r.Status != 403 {
		t.Fatalf("a stranger opening the store: %s", r.Raw)
	}
	if r := s.Do(t, stacktest.Request{Method: "PUT", Path: "/stores/" + store + "/status", Token: owner.Token, Body: `{"status":"open"}`}); r.Status != 200 {
		t.Fatalf("open: %s", r.Raw)
	}
	if r := s.Post(t, "/orders", customers[0].Token, fmt.Sprintf(`{"store":%q,"amount":1000}`, store)); r.Status != 201 {
		t.Fatalf("an order at the reopened store: %s", r.Raw)
	}
}
