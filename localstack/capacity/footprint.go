package capacity

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Footprint is what one request of a route (or one run of a job) reads and
// writes, per partition class, as recorded from a real run.
type Footprint struct {
	// Name is the route ("POST /transfers") or job ("job savings-interest"),
	// with a variant in brackets where one route has several costs.
	Name string `json:"name"`
	// Per is how many subjects the charges cover (a job run over 3 accounts:
	// 3); a mix divides by it. 0 means 1.
	Per int `json:"per,omitempty"`
	// Roles names the actors whose ids the partition classes show as <role>.
	Roles   []string `json:"roles,omitempty"`
	Charges []Use    `json:"charges"`
}

// Use is the charges of a footprint on one partition class.
type Use struct {
	Function string  `json:"function"`
	Op       string  `json:"op"`
	Index    string  `json:"index,omitempty"`
	Class    string  `json:"partition"` // the partition key, ids replaced by <role>, <id>, <n>, <date>
	Kind     string  `json:"kind"`
	Calls    int     `json:"calls"`
	Units    float64 `json:"units"`
	Bytes    int     `json:"bytes"`
}

// Where is the class with its index: "table X" or "<index> X".
func (u Use) Where() string {
	if u.Index == "" {
		return "table " + u.Class
	}
	return u.Index + " " + u.Class
}

// Table is the generated footprint table (footprints.json).
type Table struct {
	Note string `json:"note"`
	// Shards is, per partition class with a <n>, how many distinct
	// partitions of it the recording saw (the readers fan out over all of
	// them): a mix spreads that class's load over this many partitions.
	Shards     map[string]int `json:"shards"`
	Footprints []Footprint    `json:"footprints"`
}

//go:embed footprints.json
var embedded []byte

// Recorded is the checked-in footprint table.
func Recorded() (*Table, error) { return ParseTable(embedded) }

// ParseTable decodes a footprint table.
func ParseTable(b []byte) (*Table, error) {
	var t Table
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("capacity: footprints: %w", err)
	}
	return &t, nil
}

// JSON is the table as it is checked in.
func (t *Table) JSON() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(t)
	return b.Bytes()
}

// Get finds a footprint by name.
func (t *Table) Get(name string) (Footprint, bool) {
	for _, f := range t.Footprints {
		if f.Name == name {
			return f, true
		}
	}
	return Footprint{}, false
}

// ---- classification ----

var (
	// an id: an optional short prefix and 16 Crockford characters, or a
	// hex digest; a client's idempotency key or other long digit runs.
	idRE     = regexp.MustCompile(`(?:[a-z]{1,4}_)?[0-9a-hjkmnp-tv-z]{16}(?:[0-9a-hjkmnp-tv-z]*)|[0-9a-f]{64}`)
	dateRE   = regexp.MustCompile(`\d{4}-\d{2}-\d{2}(?:T[0-9:.]+Z?)?`)
	shardRE  = regexp.MustCompile(`([#_])\d{1,4}(#|$)`)
	keyRE    = regexp.MustCompile(`[^#]*\d{6,}[^#]*`)
	roleIDRE = regexp.MustCompile(`[0-9a-hjkmnp-tv-z]{16}$`)
)

// Classifier turns partition key values into classes: the ids of known
// actors become <role>, other ids <id> (a partition of its own, per
// request), short numbers <n> (a shard), dates <date>.
type Classifier struct{ roles map[string]string }

// Role names an actor: id (a prefixed id like u_..., an account id, a
// token hash) is shown as <role>. For prefixed ids the 16 random
// characters are what is matched, so u_X, m_X and any key holding X agree.
func (c *Classifier) Role(id, role string) {
	if c.roles == nil {
		c.roles = map[string]string{}
	}
	if m := roleIDRE.FindString(id); m != "" && len(id) <= 24 {
		id = m
	}
	c.roles[id] = role
}

// Roles lists the role names given, sorted.
func (c *Classifier) Roles() []string {
	var out []string
	for _, r := range c.roles {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// Class is pk's class.
func (c *Classifier) Class(pk string) string {
	ids := make([]string, 0, len(c.roles))
	for id := range c.roles {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return len(ids[i]) > len(ids[j]) || len(ids[i]) == len(ids[j]) && ids[i] < ids[j] })
	segs := strings.Split(pk, "#")
	for i, seg := range segs { // short ids (a sprinkle's token) only as whole segments
		if r, ok := c.roles[seg]; ok && len(seg) < 16 {
			segs[i] = "\x00" + r + "\x01"
		}
	}
	pk = strings.Join(segs, "#")
	for _, id := range ids {
		if len(id) >= 16 {
			pk = strings.ReplaceAll(pk, id, "\x00"+c.roles[id]+"\x01")
		}
	}
	// the prefix of a replaced id (u_<kim>) goes with it
	pk = regexp.MustCompile(`[a-z]{1,4}_\x00`).ReplaceAllString(pk, "\x00")
	pk = dateRE.ReplaceAllString(pk, "<date>")
	pk = keyRE.ReplaceAllStringFunc(pk, func(s string) string { // a client's key: the whole segment
		if strings.ContainsAny(s, "\x00\x01<") {
			return s
		}
		return "<id>"
	})
	pk = idRE.ReplaceAllStringFunc(pk, func(s string) string { return "<id>" })
	for shardRE.MatchString(pk) {
		pk = shardRE.ReplaceAllString(pk, "$1<n>$2")
	}
	pk = strings.NewReplacer("\x00", "<", "\x01", ">").Replace(pk)
	return pk
}

// Families are the sharded item families a recording met. Shard 0 of a
// sharded partition is its bare key (ddb.ShardKey: X, X#1, X#2, ...), so
// which of X and X#<n> a request meets depends on its random ids: a step
// that met only X would look like one hot partition. A family is an
// item kind (its sort key's first segment) under a class whose numbered
// shards the recording met, whatever role holds it (every account's
// history shards the same way); a charge on the family's bare key is one
// of its shards. Only single items count (a Query names no item kind);
// a Query of a bare key is a shard's when the same request queried the
// family's numbered shards too (a listing over shards). So the model
// takes an actor's sharded families as sharded: the steady state of a
// busy actor, which the fold promotes.
type Families map[string]string // familyKey of the bare class -> the class with <n>

// Learn notes the families of charges classified by c.
func (f Families) Learn(c *Classifier, charges []Charge) {
	for _, ch := range charges {
		class := c.Class(ch.PK)
		if bare, ok := unsharded(class); ok && ch.SK != "" {
			f[familyKey(ch.Index, bare, ch.SK)] = class
		}
	}
}

// withShard puts <n> into class where the family's sharded class has it.
func withShard(class, sharded string) string {
	at := slices.Index(strings.Split(sharded, "#"), "<n>")
	segs := strings.Split(class, "#")
	return strings.Join(slices.Insert(segs, at, "<n>"), "#")
}

// unsharded is class with its one <n> segment taken out.
func unsharded(class string) (string, bool) {
	segs := strings.Split(class, "#")
	for i, s := range segs {
		if s == "<n>" && strings.Count(class, "<n>") == 1 {
			return strings.Join(append(segs[:i:i], segs[i+1:]...), "#"), true
		}
	}
	return "", false
}

func familyKey(index, class, sk string) string {
	kind, _, _ := strings.Cut(sk, "#")
	return index + " " + anyRole(class) + " " + kind
}

var roleRE = regexp.MustCompile(`<([a-z0-9-]+)>`)

// anyRole is class with its roles (not <n>, <id>, <date>) as <*>.
func anyRole(class string) string {
	return roleRE.ReplaceAllStringFunc(class, func(ph string) string {
		if ph == "<n>" || ph == "<id>" || ph == "<date>" {
			return ph
		}
		return "<*>"
	})
}

// Summarize aggregates a request's charges into uses by (function, op,
// index, class, kind), in a stable order, and notes each <n> class's
// distinct literal values in shards. A charge on the bare key of one of
// fams (may be nil) counts as on its shard 0.
func (c *Classifier) Summarize(charges []Charge, shards map[string]map[string]bool, fams Families) []Use {
	type k struct{ fn, op, index, class, kind string }
	m := map[k]*Use{}
	var order []k
	listings := Families{} // the sharded families this request queried
	for _, ch := range charges {
		if bare, ok := unsharded(c.Class(ch.PK)); ok && ch.SK == "" {
			listings[familyKey(ch.Index, bare, "")] = c.Class(ch.PK)
		}
	}
	for _, ch := range charges {
		class := c.Class(ch.PK)
		if !strings.Contains(class, "<n>") {
			of := fams
			if ch.SK == "" {
				of = listings
			}
			if sharded, ok := of[familyKey(ch.Index, class, ch.SK)]; ok {
				class = withShard(class, sharded)
			}
		}
		key := k{ch.Function, ch.Op, ch.Index, class, ch.Kind}
		u, ok := m[key]
		if !ok {
			u = &Use{Function: ch.Function, Op: ch.Op, Index: ch.Index, Class: class, Kind: ch.Kind}
			m[key] = u
			order = append(order, key)
		}
		u.Calls++
		u.Units += ch.Units
		u.Bytes += ch.Bytes
		if strings.Contains(class, "<n>") && shards != nil {
			w := Use{Index: ch.Index, Class: class}.Where()
			if shards[w] == nil {
				shards[w] = map[string]bool{}
			}
			shards[w][ch.PK] = true
		}
	}
	out := make([]Use, 0, len(order))
	for _, key := range order {
		out = append(out, *m[key])
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Function != b.Function {
			return a.Function < b.Function
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Where() != b.Where() {
			return a.Where() < b.Where()
		}
		return a.Op < b.Op
	})
	return out
}

var shardNumRE = regexp.MustCompile(`[#_](\d{1,4})(?:#|$)`)

// ShardCount is how many partitions a <n> class has, from the literal
// values seen: shards are numbered from 0, so at least the highest number
// seen + 1, and at least as many as were seen, rounded up to a power of
// two (every shard count in the design is one: 16, 32, 64), so that a run
// whose random ids missed the top shards still records the same count.
//
// Distinct shard numbers count, not distinct keys: a class with a role
// (HISTORY#<payee>#<n>) meets the same shards under several ids.
func ShardCount(seen map[string]bool) int {
	tuples := map[string]bool{}
	n := 0
	for lit := range seen {
		var tuple []string
		for _, m := range shardNumRE.FindAllStringSubmatch(lit, -1) {
			tuple = append(tuple, m[1])
			if v, err := strconv.Atoi(m[1]); err == nil {
				n = max(n, v+1)
			}
		}
		tuples[strings.Join(tuple, "#")] = true
	}
	n = max(n, len(tuples))
	p := 1
	for p < n {
		p *= 2
	}
	return p
}

// ShardCounts is ShardCount of every class in seen, raised to the most
// of its family's (the classes that differ only in their roles): one
// account's history shards as another's does, and a step that met few of
// one role's shards would otherwise count too few.
func ShardCounts(seen map[string]map[string]bool) map[string]int {
	out, most := map[string]int{}, map[string]int{}
	for w, lits := range seen {
		out[w] = ShardCount(lits)
		most[anyRole(w)] = max(most[anyRole(w)], out[w])
	}
	for w := range out {
		out[w] = most[anyRole(w)]
	}
	return out
}

// Diff lists how two tables differ: footprints missing on either side,
// and uses whose calls or units differ, or whose bytes differ by more than
// tolerance (a share, for timestamps and random lengths that vary by run).
func Diff(want, got *Table, tolerance float64) []string {
	var out []string
	for _, g := range got.Footprints {
		w, ok := want.Get(g.Name)
		if !ok {
			out = append(out, "new footprint "+g.Name)
			continue
		}
		out = append(out, diffUses(g.Name, w, g, tolerance)...)
	}
	for _, w := range want.Footprints {
		if _, ok := got.Get(w.Name); !ok {
			out = append(out, "footprint gone: "+w.Name)
		}
	}
	for k, n := range got.Shards { // estimates (hashes of random ids pick the shards seen): within 25 %
		// A sharded key's shard 0 has no suffix, so whether a run meets the
		// <n> class at all depends on the ids' hashes: a class one side
		// lacks is not a difference (its charges are compared above).
		// A run that saw fewer shards than recorded only missed some (a
		// few random ids pick them), and one power of two more may be the
		// same. A recording that met only the lower quarter of a class's
		// shards records a quarter of its count (POSTING#<user>#<n> was
		// once recorded 4 of 16), so only more than four times the
		// recorded count means the design grew.
		if w := want.Shards[k]; w > 0 && n > 4*w && n-w > 2 {
			out = append(out, fmt.Sprintf("shards of %s: %d, was %d", k, n, want.Shards[k]))
		}
	}
	return out
}

// diffUses compares two recordings of one footprint: exactly, or for a
// job over several subjects (Per > 1: hashes of random ids decide how many
// system accounts and shards it meets) per subject within tol or a
// quarter of a unit.
func diffUses(name string, wf, gf Footprint, tol float64) []string {
	// A sharded key's shard 0 has no suffix: which of X and X#<n> a run
	// meets depends on the ids' hashes, so both compare as one class.
	key := func(u Use) string {
		return u.Function + " " + u.Op + " " + strings.ReplaceAll(u.Where(), "#<n>", "") + " " + u.Kind
	}
	merge := func(us []Use) []Use {
		var out []Use
		at := map[string]int{}
		for _, u := range us {
			if i, ok := at[key(u)]; ok {
				out[i].Calls += u.Calls
				out[i].Units += u.Units
				out[i].Bytes += u.Bytes
				continue
			}
			at[key(u)] = len(out)
			out = append(out, u)
		}
		return out
	}
	want, got := merge(wf.Charges), merge(gf.Charges)
	wm := map[string]Use{}
	for _, u := range want {
		wm[key(u)] = u
	}
	wp, gp := float64(max(wf.Per, 1)), float64(max(gf.Per, 1))
	var sharded bool // the use in hand is on a sharded class
	differ := func(w, g float64) bool {
		if wp == 1 && gp == 1 {
			return w != g
		}
		t := tol
		if sharded { // how many shards a job meets (and how many budgeted passes it takes) varies by run
			t = math.Max(t, 2)
		}
		return math.Abs(w/wp-g/gp) > math.Max(0.25, t*w/wp)
	}
	var out []string
	seen := map[string]bool{}
	for _, g := range got {
		k := key(g)
		seen[k] = true
		sharded = strings.Contains(g.Class, "<n>")
		w, ok := wm[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: new %s: %d calls, %g units", name, k, g.Calls, g.Units))
		case differ(float64(w.Calls), float64(g.Calls)) || differ(w.Units, g.Units):
			out = append(out, fmt.Sprintf("%s: %s: %d calls %g units, was %d calls %g units", name, k, g.Calls, g.Units, w.Calls, w.Units))
		case sharded && float64(g.Bytes)/gp > 3*float64(w.Bytes)/wp+16, sharded && float64(w.Bytes)/wp > 3*float64(g.Bytes)/gp+16:
			// A budgeted job that needed more passes on a busy machine
			// read its shards' pages again: within 3x, as its units.
			out = append(out, fmt.Sprintf("%s: %s: %d bytes, was %d", name, k, g.Bytes, w.Bytes))
		case sharded:
		case wp == 1 && gp == 1 && math.Abs(float64(w.Bytes-g.Bytes)) > tol*float64(max(w.Bytes, 1))+16,
			(wp > 1 || gp > 1) && math.Abs(float64(w.Bytes)/wp-float64(g.Bytes)/gp) > 0.25*float64(w.Bytes)/wp+16:
			out = append(out, fmt.Sprintf("%s: %s: %d bytes, was %d", name, k, g.Bytes, w.Bytes))
		}
	}
	for _, w := range want {
		if !seen[key(w)] {
			out = append(out, fmt.Sprintf("%s: gone %s", name, key(w)))
		}
	}
	if (wp > 1 || gp > 1) && math.Abs(wp-gp) > math.Max(2, tol*wp) {
		out = append(out, fmt.Sprintf("%s: over %g subjects, was %g", name, gp, wp))
	}
	return out
}
