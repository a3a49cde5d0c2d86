package capacity

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestPartitionKeysAreClassifiedGenerically(t *testing.T) {
	var c Classifier
	c.Role("u_0123456789abcdef", "payer")
	c.Role("st_fedcba9876543210", "store")
	c.Role("X7K", "sprinkle") // a short id: only as a whole segment
	for pk, want := range map[string]string{
		"USER#u_0123456789abcdef":                          "USER#<payer>",
		"HISTORY#m_0123456789abcdef#in":                    "HISTORY#<payer>#in",
		"STORE#st_fedcba9876543210":                        "STORE#<store>",
		"ORDER#o_zzzzyyyyxxxxwwww":                         "ORDER#<id>",
		"DUE#fold#07":                                      "DUE#fold#<n>",
		"DUE#checkpoint":                                   "DUE#checkpoint",
		"SYSTEM#sys_external_31":                           "SYSTEM#sys_external_<n>",
		"LIMIT#u_0123456789abcdef#2026-11-22":              "LIMIT#<payer>#<date>",
		"IDEM#u_0123456789abcdef#k-1765012345678901234-12": "IDEM#<payer>#<id>",
		"TOKEN#" + strings.Repeat("ab12", 16):              "TOKEN#<id>",
		"SPRINKLE#X7K":                                     "SPRINKLE#<sprinkle>",
		"DUE#X7KQ":                                         "DUE#X7KQ",
		"POSTING#u_0123456789abcdef#03":                    "POSTING#<payer>#<n>",
	} {
		if got := c.Class(pk); got != want {
			t.Errorf("%s: %s, want %s", pk, got, want)
		}
	}
}

func TestShardCountIsTheHighestNumberSeenPlusOne(t *testing.T) {
	if n := ShardCount(map[string]bool{"DUE#fold#03": true, "DUE#fold#15": true}); n != 16 {
		t.Fatalf("%d", n)
	}
}

// A mix scales each class by its population: a constant key is one
// partition for the service; a key per actor shares the load among them.
func TestAMixScalesClassesByTheirPopulation(t *testing.T) {
	tab := &Table{Shards: map[string]int{"due DUE#fold#<n>": 16}, Footprints: []Footprint{
		{Name: "pay", Charges: []Use{
			{Index: "due", Class: "DUE#checkpoint", Kind: Write, Units: 2},
			{Index: "due", Class: "DUE#fold#<n>", Kind: Write, Units: 1},
			{Class: "USER#<payee>", Kind: Write, Units: 4},
			{Class: "ENTRY#<id>", Kind: Write, Units: 40},
			{Class: "USER#<payee>", Kind: Read, Units: 1},
		}},
		{Name: "job", Per: 4, Charges: []Use{{Class: "USER#<payee>", Kind: Write, Units: 8}}},
	}}
	spread := tab.Evaluate(Mix{Name: "x", Steps: []Step{{"pay", 1}}, Target: 500})
	if spread.MaxRate != 400 || spread.Loads[0].Where != "due DUE#checkpoint" { // 0.8 x 1,000 / 2
		t.Fatalf("spread: %v %+v", spread.MaxRate, spread.Loads[0])
	}
	if spread.OK() || !strings.HasSuffix(spread.Line(), "short") {
		t.Fatal(spread.Line())
	}
	hot := tab.Evaluate(Mix{Name: "y", Steps: []Step{{"pay", 1}, {"job", 1}}, Population: map[string]float64{"payee": 1}, Target: 100})
	// one payee: 4 + 8/4 = 6 write units a request on USER#<payee>
	if math.Abs(hot.MaxRate-800.0/6) > 1e-9 || hot.Loads[0].Where != "table USER#<payee>" || hot.Loads[0].Kind != Write {
		t.Fatalf("hot: %v %+v", hot.MaxRate, hot.Loads[0])
	}
	if !hot.OK() || hot.Line() != "capacity y: 133 units/s (target 100) ok" && !strings.HasPrefix(hot.Line(), "capacity y: 133") {
		t.Fatal(hot.Line())
	}
	missing := tab.Evaluate(Mix{Name: "z", Steps: []Step{{"nothing", 1}}})
	if len(missing.Missing) != 1 || !strings.HasSuffix(missing.Line(), "short") {
		t.Fatal(missing.Line())
	}
	job := tab.Evaluate(Mix{Name: "d", Steps: []Step{{"pay", 1}}, Subjects: 1_000_000, TargetTime: 30 * time.Minute})
	if job.Time() != 2500*time.Second || job.OK() {
		t.Fatalf("%v", job.Time())
	}
}

var lineRE = regexp.MustCompile(`^capacity (a|b|c|d|e|f): (\S+.*) \(target [^)]+\) (ok|short)$`)

// The smoke test of make capacity: every mix's footprints are recorded,
// and the report ends with one parseable line per mix.
func TestTheReportEndsWithOneLinePerMix(t *testing.T) {
	tab, err := Recorded()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range Mixes() {
		if r := tab.Evaluate(m); len(r.Missing) > 0 {
			t.Errorf("mix %s: footprints not recorded: %v", m.Name, r.Missing)
		}
	}
	var b bytes.Buffer
	Report(&b, tab, 3)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	last := lines[len(lines)-6:]
	for i, name := range []string{"a", "b", "c", "d", "e", "f"} {
		m := lineRE.FindStringSubmatch(last[i])
		if m == nil || m[1] != name {
			t.Errorf("line %d: %q", i, last[i])
		}
	}
}

func TestDiffTellsWhatChanged(t *testing.T) {
	a := &Table{Footprints: []Footprint{{Name: "x", Charges: []Use{{Function: "f", Op: "Put", Class: "K", Kind: Write, Calls: 1, Units: 2, Bytes: 300}}}}}
	b := &Table{Footprints: []Footprint{{Name: "x", Charges: []Use{{Function: "f", Op: "Put", Class: "K", Kind: Write, Calls: 1, Units: 2, Bytes: 305}}}}}
	if d := Diff(a, b, 0.05); len(d) != 0 {
		t.Fatalf("bytes within tolerance: %v", d)
	}
	b.Footprints[0].Charges[0].Units = 4
	b.Footprints = append(b.Footprints, Footprint{Name: "y"})
	if d := Diff(a, b, 0.05); len(d) != 2 {
		t.Fatalf("%v", d)
	}
}

// Shard counts are estimates from the shards a recording met: fewer than
// recorded, or up to four times as many (the recording met only the lower
// quarter), are the same design; more than four times is a change.
func TestDiffShardCountsAreEstimates(t *testing.T) {
	for _, c := range []struct {
		recorded, seen int
		differ         bool
	}{
		{16, 4, false}, {16, 16, false}, {4, 16, false}, {8, 16, false},
		{4, 32, true}, {16, 128, true}, {1, 2, false}, {1, 4, false},
	} {
		t.Run(fmt.Sprintf("%d_then_%d", c.recorded, c.seen), func(t *testing.T) {
			want := &Table{Shards: map[string]int{"table K#<n>": c.recorded}}
			got := &Table{Shards: map[string]int{"table K#<n>": c.seen}}
			if d := Diff(want, got, 0.05); (len(d) > 0) != c.differ {
				t.Errorf("Diff says %v, want a difference: %v", d, c.differ)
			}
		})
	}
}

// The webhook figure: the recorded sweep pinned to the store's one
// endpoint (its deliveries' partitions are a class of the mix, not one
// partition per request), reported before the six mixes' lines.
func TestWebhookMixPinsTheEndpoint(t *testing.T) {
	tab, err := Recorded()
	if err != nil {
		t.Fatal(err)
	}
	r := tab.Evaluate(WebhookMix(tab))
	if len(r.Missing) > 0 {
		t.Fatalf("footprints not recorded: %v", r.Missing)
	}
	pinned := false
	for _, l := range r.Loads {
		if strings.Contains(l.Where, "WHEP#<endpoint>") {
			pinned = true
			if l.Partitions < 2 {
				t.Errorf("%s %s on %v partitions: the deliveries are not sharded", l.Where, l.Kind, l.Partitions)
			}
		}
	}
	if !pinned || r.MaxRate < 100 {
		t.Fatalf("pinned %v, %v orders/s", pinned, r.MaxRate)
	}
	var b bytes.Buffer
	Report(&b, tab, 3)
	if !regexp.MustCompile(`(?m)^webhooks b: \S+ orders/s \(`).Match(b.Bytes()) {
		t.Errorf("no webhooks line in the report")
	}
}

// Shard 0 of a sharded partition is its bare key (ddb.ShardKey), so a
// step whose random ids met only shard 0 of a family the recording met
// sharded elsewhere counts that charge on the family's shards, not on a
// partition of its own; an item kind never met on a numbered shard (the
// store item beside its order pointers) stays on the bare key.
func TestABareKeyOfAShardedFamilyIsItsShardZero(t *testing.T) {
	var c Classifier
	c.Role("st_fedcba9876543210", "store")
	fams := Families{}
	fams.Learn(&c, []Charge{
		{PK: "HISTORY#m_fedcba9876543210#3#in", SK: "ENTRY#x", Kind: Write},
		{PK: "STORE#st_fedcba9876543210#5", SK: "ORD#o_1", Kind: Write},
	})
	got := c.Summarize([]Charge{
		{PK: "HISTORY#m_fedcba9876543210#in", SK: "ENTRY#y", Kind: Write, Units: 2},
		{PK: "STORE#st_fedcba9876543210", SK: "ORD#o_2", Kind: Write, Units: 1},
		{PK: "STORE#st_fedcba9876543210", SK: "STORE", Kind: Read, Units: 1},
	}, nil, fams)
	var classes []string
	for _, u := range got {
		classes = append(classes, u.Class)
	}
	want := []string{"STORE#<store>", "HISTORY#<store>#<n>#in", "STORE#<store>#<n>"} // reads first
	if fmt.Sprint(classes) != fmt.Sprint(want) {
		t.Fatalf("classes %v, want %v", classes, want)
	}
}

// The bare key is shard 0 of its family: its partition carries its own
// items and one shard's share of the family.
func TestTheBarePartitionCarriesShardZero(t *testing.T) {
	tab := &Table{Shards: map[string]int{"table STORE#<n>": 4}, Footprints: []Footprint{
		{Name: "status", Charges: []Use{
			{Class: "STORE", Kind: Write, Units: 2},     // the store item
			{Class: "STORE#<n>", Kind: Write, Units: 4}, // a copy on each of 4 shards
		}},
	}}
	res := tab.Evaluate(Mix{Name: "x", Steps: []Step{{"status", 1}}, Target: 1})
	if want := 0.8 * 1000 / 3; math.Abs(res.MaxRate-want) > 1e-9 || res.Loads[0].Where != "table STORE" {
		t.Fatalf("max rate %v at %s, want %v at table STORE (2 units of its own, 1 of shard 0)", res.MaxRate, res.Loads[0].Where, want)
	}
}
