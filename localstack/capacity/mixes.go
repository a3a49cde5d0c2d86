package capacity

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// The targets of issue 24.
const (
	TargetMovements = 10_000 // (a) movements/s across 1,000,000 users
	TargetStore     = 1_000  // (b) order placements/s into one store, with their life cycle
	TargetReceiver  = 2_000  // (c) credits/s into one receiver
	TargetJobTime   = 15 * time.Minute
	SavingsAccounts = 1_000_000 // (d)
	Claimers        = 3_000     // (e) members claiming one sprinkle at once
	SprinkleShares  = 100       // (e) its shares (as make bench)
	// (f): the journey makes about 12.5 money movements (a charge, two
	// transfers, a sprinkle and two claims, half an acceptance, two
	// settlement payments, a deposit, an order's hold, capture and refund
	// or release): 800 journeys/s is target (a)'s 10,000 movements/s, and
	// puts ~270 orders/s into each of make load's 3 seed stores.
	TargetJourneys = 800
	LoadStores     = 3
)

// OrderSteps are one order's whole life cycle, as the merchant routes run
// it, at a store without a webhook endpoint (no events: the check of the
// store's no-endpoint marker instead).
var OrderSteps = []string{"POST /orders", "POST /orders/{id}/accept", "POST /orders/{id}/cook",
	"POST /orders/{id}/progress (cooked)", "POST /orders/{id}/progress (picked_up)",
	"POST /orders/{id}/progress (delivered)", "POST /orders/{id}/complete"}

// WithEndpoint names OrderSteps' footprints at a store with an endpoint
// (every change writes its event).
const WithEndpoint = " (store with an endpoint)"

// lifeCycle is one order's life cycle (suffix: "" or WithEndpoint) and the
// fold of the capture's posting to the owner, with the store's others.
func lifeCycle(suffix string) []Step {
	var s []Step
	for _, name := range OrderSteps {
		s = append(s, Step{name + suffix, 1})
	}
	return append(s, Step{"job ledger-fold", 1})
}

var order = lifeCycle("")

// Mixes are the traffic mixes `make capacity` evaluates. The job mix (d)
// is two: 04:00 and 08:00.
func Mixes() []Mix {
	return []Mix{
		{Name: "a", Title: "movements spread over 1,000,000 users (a transfer and the fold of its posting)", Unit: "movements/s",
			Steps:  []Step{{"POST /transfers", 1}, {"job ledger-fold (one posting per receiver)", 1}},
			Target: TargetMovements},
		{Name: "b", Title: "one popular store taking orders, each through its whole life cycle", Unit: "orders/s",
			Steps: order, Population: map[string]float64{"store": 1, "owner": 1}, Target: TargetStore},
		// A user's main account starts on one shard; the fold job promotes
		// a high-volume receiver to ledger.MaxShards (shared/kernel/ledger,
		// postings.go): this is its steady state.
		{Name: "c", Title: "one receiver credited by many payers (promoted to 16 shards by the fold; and the fold of the credits)", Unit: "credits/s",
			Steps:      []Step{{"POST /transfers (to a promoted receiver)", 1}, {"job ledger-fold (a promoted receiver)", 1}},
			Population: map[string]float64{"payee": 1}, Target: TargetReceiver},
		{Name: "d-04:00", Title: "the 04:00 interest job over 1,000,000 savings accounts", Unit: "accounts",
			Steps: []Step{{"job savings-interest", 1}}, Subjects: SavingsAccounts, TargetTime: TargetJobTime},
		{Name: "d-08:00", Title: "the 08:00 installment job over 1,000,000 savings accounts", Unit: "accounts",
			Steps: []Step{{"job savings-installments", 1}}, Subjects: SavingsAccounts, TargetTime: TargetJobTime},
		{Name: "e", Title: fmt.Sprintf("%d members claiming one sprinkle of %d shares at once", Claimers, SprinkleShares), Unit: "claims/s",
			Steps: []Step{{"POST /rooms/{id}/sprinkles/{token}/claims", SprinkleShares / float64(Claimers)},
				{"POST /rooms/{id}/sprinkles/{token}/claims (exhausted)", 1 - SprinkleShares/float64(Claimers)}},
			Population: map[string]float64{"room": 1, "sprinkle": 1, "sprinkler": 1, "claimer": Claimers},
			Target:     Claimers, Why: "all 3,000 claims within one second"},
		{Name: "f", Title: "the user journey of make load (1,000,000 users, its 3 seed stores)", Unit: "journeys/s",
			Steps: journey(), Population: map[string]float64{"store": LoadStores, "owner": LoadStores}, Target: TargetJourneys,
			Why: "about 12.5 money movements a journey: 800/s is (a)'s 10,000 movements/s; its orders go to make load's 3 stores"},
	}
}

// SweepFootprint is the recorded webhook sweep and its worker's deliveries.
const SweepFootprint = "job webhook-sweep (and the worker's deliveries)"

// OrderEvents is how many events an order of (b) emits: placed, accepted,
// captured, cooked, picked_up, delivered, completed.
const OrderEvents = 7

// WebhookMix is (b) with the store's one webhook endpoint: each order's
// events fanned out by the sweep and delivered by the worker, besides the
// order's own steps. The recorded sweep covers every event the recording's
// orders emitted (its event fan-outs, counted here), so its weight is
// OrderEvents of them. Its figure is the rate of orders whose deliveries
// keep up; the orders themselves are (b)'s.
func WebhookMix(t *Table) Mix {
	events := 0
	if f, ok := t.Get(SweepFootprint); ok {
		for _, u := range f.Charges {
			if u.Function == "webhook-sweep" && u.Kind == Write && u.Index == "" && strings.HasPrefix(u.Class, "WHEVT#") {
				events += u.Calls
			}
		}
	}
	w := float64(OrderEvents) / float64(max(events, 1))
	return Mix{Name: "webhooks b", Title: "one popular store taking orders, each order's 7 events fanned out and delivered to its one webhook endpoint", Unit: "orders/s",
		Steps:      append(lifeCycle(WithEndpoint), Step{SweepFootprint, w * float64(max(footprintPer(t, SweepFootprint), 1))}),
		Population: map[string]float64{"store": 1, "owner": 1, "endpoint": 1}, Target: TargetStore,
		Pin: map[string]string{"WHEP#<id>": "WHEP#<endpoint>"}, Aside: true}
}

func footprintPer(t *Table, name string) int {
	if f, ok := t.Get(name); ok {
		return f.Per
	}
	return 1
}

// journey is one journey of make load (localstack/load): every step, weighted
// by how often a journey takes it.
func journey() []Step {
	s := []Step{
		{"POST /users", 1}, {"authorizer (cache miss)", 1}, {"POST /accounts/{id}/charges", 1},
		{"POST /transfers", 1.5}, {"POST /transfers (pending)", 0.5}, {"POST /transfers/{id}/accept", 0.5},
		{"POST /rooms", 1}, {"POST /rooms/{id}/members", 2}, {"POST /rooms/{id}/sprinkles", 1},
		{"POST /rooms/{id}/sprinkles/{token}/claims", 2},
		{"POST /settlements", 1}, {"POST /settlements/{id}/shares/{userId}/pay", 2}, {"GET /settlements/{id}", 1},
		{"POST /accounts", 1}, {"POST /accounts/{id}/deposits", 1}, {"POST /accounts (fixed)", 0.5}, {"POST /accounts/{id}/close", 0.25},
		{"POST /orders", 1}, {"POST /orders/{id}/cancel", 0.125}, {"POST /orders/{id}/cancel (accepted)", 0.125},
		{"POST /orders/{id}/accept", 0.875}, {"POST /orders/{id}/cook", 0.75}, {"POST /orders/{id}/refunds", 0.25},
		{"POST /orders/{id}/progress (cooked)", 0.5}, {"POST /orders/{id}/progress (picked_up)", 0.5},
		{"POST /orders/{id}/progress (delivered)", 0.5}, {"POST /orders/{id}/complete", 0.5},
		{"GET /accounts/{id}/entries", 1},
		// postings folded: two transfers, two claims, two settlement payments, a capture
		{"job ledger-fold (one posting per receiver)", 1.5 + 0.5 + 2 + 2 + 0.75},
	}
	return s
}

// Report evaluates every mix on t and writes the tables, then one line per
// mix: `capacity <mix>: <rate> (target <target>) ok|short`. (d)'s line is
// its slower job's time. It reports whether every mix reached its target.
func Report(w io.Writer, t *Table, top int) bool {
	fmt.Fprintln(w, "Cloud capacity under the partition model: every partition of the table and of each index takes")
	fmt.Fprintf(w, "%g WCU/s and %g RCU/s; a mix's highest rate keeps every partition at most %.0f %% of its limit.\n",
		PartitionWCU, PartitionRCU, 100*Headroom)
	fmt.Fprintln(w, "Footprints: localstack/capacity/footprints.json (go test ./localstack/stacktest -run TestFootprints -update).")
	var results []Result
	for _, m := range append(Mixes(), WebhookMix(t)) {
		r := t.Evaluate(m)
		r.Report(w, top)
		results = append(results, r)
	}
	fmt.Fprintln(w)
	for _, r := range results { // before the mixes' lines, which end the report
		if r.Mix.Aside {
			fmt.Fprintf(w, "%s: %s (%s)\n", r.Mix.Name, r.Figure(), r.Mix.Title)
		}
	}
	all := true
	var d []Result
	for _, r := range results {
		if strings.HasPrefix(r.Mix.Name, "d-") {
			d = append(d, r)
			if len(d) < 2 {
				continue
			}
			slow := d[0]
			for _, x := range d[1:] {
				if x.Time() > slow.Time() {
					slow = x
				}
			}
			ok := true
			for _, x := range d {
				ok = ok && x.OK() && len(x.Missing) == 0
			}
			all = all && ok
			fmt.Fprintf(w, "capacity d: %s (target %s for %s accounts each job) %s\n", slow.Figure(), fmtDuration(TargetJobTime),
				fmtRate(SavingsAccounts), verdict(ok))
			continue
		}
		if r.Mix.Aside {
			continue
		}
		ok := r.OK() && len(r.Missing) == 0
		all = all && ok
		fmt.Fprintln(w, r.Line())
	}
	return all
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "short"
}
