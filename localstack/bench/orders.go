package bench

import (
	"fmt"
	"sort"
	"strings"
)

// orders is the merchant scenario: n orders, each placed, accepted, cooked
// (the capture) and refunded in part, one client, with the DynamoDB
// requests each transition costs (through the emulator; an authorizer
// cache miss would show as a GetItem, and the tokens are warm).
func (s *stack) orders(n int) {
	fmt.Fprintf(s.out, "\n## Orders: place -> accept -> cook (capture) -> refund, %d orders, 1 client\n", n)
	owner := s.register("store owner", 0)
	customer := s.register("customer", 1_000_000_000)
	var store struct{ ID string }
	s.do("POST", "/stores", owner.token, `{"name":"bench store"}`, 201, &store)
	s.get("/stores/"+store.ID, owner.token, nil) // warm the owner's authorizer cache entry
	s.get("/orders", customer.token, nil)
	// One order first, unmeasured: the function instance caches the store's facts.
	var warm struct{ ID string }
	s.do("POST", "/orders", customer.token, fmt.Sprintf(`{"store":%q,"amount":1000}`, store.ID), 201, &warm)

	ids := make([]string, n)
	type phase struct {
		name string
		r    result
		use  string
		per  float64
		wcu  float64
	}
	var phases []phase
	run := func(name string, op func(i int)) {
		s.inst.Reset()
		r := measure(n, 1, op)
		use := s.inst.Reset()
		phases = append(phases, phase{name, r, requests(use.Requests, n), float64(use.Total()) / float64(n), use.WCU / float64(n)})
	}
	run("POST /orders (authorize: hold)", func(i int) {
		var o struct{ ID string }
		s.do("POST", "/orders", customer.token, fmt.Sprintf(`{"store":%q,"amount":10000,"memo":"bench"}`, store.ID), 201, &o)
		ids[i] = o.ID
	})
	run("POST /orders/{id}/accept", func(i int) { s.do("POST", "/orders/"+ids[i]+"/accept", owner.token, "", 200, nil) })
	run("POST /orders/{id}/cook (capture: post the hold)", func(i int) { s.do("POST", "/orders/"+ids[i]+"/cook", owner.token, "", 200, nil) })
	run("POST /orders/{id}/refunds (partial)", func(i int) {
		s.post("/orders/"+ids[i]+"/refunds", owner.token, `{"amount":2500}`, 201)
	})
	run("GET /orders/{id} (order + timeline page)", func(i int) { s.get("/orders/"+ids[i], customer.token, nil) })
	rows := make([]row, len(phases))
	for i, p := range phases {
		rows[i] = row{p.name, p.r}
	}
	table(s.out, rows)
	fmt.Fprintln(s.out, "DynamoDB requests per transition (per request, by kind) and transactional WCU (as DynamoDB Local reports it):")
	for _, p := range phases {
		fmt.Fprintf(s.out, "  %-48s %.2f  (%s)  WCU %.1f\n", p.name, p.per, p.use, p.wcu)
	}
}

// requests renders counts per request, by kind: "TransactWriteItems 1.00, GetItem 1.00".
func requests(m map[string]int, n int) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, float64(v)/float64(n)))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
