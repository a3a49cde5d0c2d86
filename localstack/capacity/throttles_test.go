package capacity

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"testing"

	"minipay/shared/edge/routes"
)

var updateLimits = flag.Bool("update", false, "rewrite shared/edge/routes/limits.json from the footprints")

const limitsFile = "../../shared/edge/routes/limits.json"

// The route table's throttles and reservations are derived from the
// recorded footprints: a footprint change that moves a route's ceiling
// fails here until `go test ./localstack/capacity -run TestRouteLimits
// -update` regenerates shared/edge/routes/limits.json.
func TestRouteLimitsAreDerivedFromTheFootprints(t *testing.T) {
	tab, err := Recorded()
	if err != nil {
		t.Fatal(err)
	}
	l, err := DeriveLimits(tab)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil {
		t.Fatal(err)
	}
	if *updateLimits {
		if err := os.WriteFile(limitsFile, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", limitsFile)
		return
	}
	have, err := os.ReadFile(limitsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, b.Bytes()) {
		var old routes.Limits
		_ = json.Unmarshal(have, &old)
		for k, w := range l.Routes {
			if o, ok := old.Routes[k]; !ok || o.Rate != w.Rate || o.Burst != w.Burst || o.Reserved != w.Reserved || o.Ceiling != w.Ceiling {
				t.Errorf("%s: derived %+v, committed %+v", k, w, o)
			}
		}
		t.Fatalf("%s is not what the footprints give: go test ./localstack/capacity -run TestRouteLimits -update", limitsFile)
	}
}

// Every route but the document is derived, and the derivation keeps its
// promises: the rate never above the ceiling (nor the account's gateway
// rate), a reserving row OverloadSafe, the reservations within the
// account's reservable concurrency.
func TestRouteLimitsKeepTheirPromises(t *testing.T) {
	tab, err := Recorded()
	if err != nil {
		t.Fatal(err)
	}
	l, err := DeriveLimits(tab)
	if err != nil {
		t.Fatal(err)
	}
	for k := range Concentrated {
		if _, ok := l.Routes[k]; !ok {
			t.Errorf("Concentrated names %s, which is no derived route", k)
		}
	}
	total := 0
	for _, r := range routes.Served() {
		key := r.Method + " " + r.Path
		d, ok := l.Routes[key]
		if !ok {
			if r.Path != routes.Document.Path {
				t.Errorf("%s: no derived limit (no footprint?)", key)
			}
			total += r.ReservedConcurrency
			continue
		}
		ceiling := d.Ceiling
		if ceiling == 0 {
			ceiling = math.Inf(1)
		}
		if d.Rate > math.Floor(ceiling*10)/10 || d.Rate > routes.GatewayAccountRate || d.Rate < 1 {
			t.Errorf("%s: rate %g, ceiling %g", key, d.Rate, d.Ceiling)
		}
		if err := d.Apply(r).OverloadSafe(); err != nil {
			t.Error(err)
		}
		if d.Reserved == 0 && d.CappedBy == "" {
			t.Errorf("%s: reserves nothing, and says no cap", key)
		}
		total += d.Reserved
	}
	if max := routes.LambdaAccountConcurrency - routes.LambdaUnreservedMinimum; total > max {
		t.Errorf("reservations add up to %d, past %d", total, max)
	}
	// a ceiling is the worst concentration: one store's orders bind on a
	// partition of that store (or its owner), never on a shard spread
	// over the service
	if b := l.Routes["POST /orders"].Binding; b == "" {
		t.Error("POST /orders: no binding partition")
	}
	t.Logf("reserved %d of %d", total, routes.LambdaAccountConcurrency-routes.LambdaUnreservedMinimum)
}

// RouteCeiling concentrates the roles Concentrated names and spreads the
// rest: a route writing 4 WCU on its payee's partition and 2 on the
// payer's sustains 0.8 x 1,000 / 4 = 200/s into one payee.
func TestRouteCeilingConcentratesTheNamedRoles(t *testing.T) {
	tab := &Table{Footprints: []Footprint{
		{Name: "POST /transfers", Charges: []Use{
			{Class: "USER#<payee>", Kind: Write, Units: 4},
			{Class: "USER#<payer>", Kind: Write, Units: 2},
			{Class: "TRANSFER#<id>", Kind: Write, Units: 40},
		}},
		{Name: "POST /transfers (slow)", Charges: []Use{{Class: "USER#<payee>", Kind: Write, Units: 5}}},
		{Name: "GET /accounts", Charges: []Use{{Class: "USER#<user>", Kind: Read, Units: 1}}},
	}}
	c, where, ok := tab.RouteCeiling("POST /transfers")
	if !ok || c != 160 || where != "table USER#<payee> write (slow)" {
		t.Fatalf("%v %q %v", c, where, ok)
	}
	if c, _, _ := tab.RouteCeiling("GET /accounts"); c != 0.8*3000*DefaultPopulation {
		t.Fatalf("spread: %v", c)
	}
	if _, _, ok := tab.RouteCeiling("POST /nothing"); ok {
		t.Fatal("a route without footprints has a ceiling")
	}
}
