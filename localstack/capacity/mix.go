package capacity

import (
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Mix is a traffic mix: footprints in proportion, and how many distinct
// actors fill each role.
type Mix struct {
	Name  string // a, b, ...: the `capacity <name>:` line
	Title string
	Unit  string // what the rate counts: "movements/s"
	Steps []Step
	// Population is how many distinct actors play each role; a role not
	// listed has DefaultPopulation.
	Population map[string]float64
	// Target is the rate to reach; for a job (Subjects > 0), TargetTime is
	// the time to finish Subjects instead.
	Target     float64
	Subjects   float64
	TargetTime time.Duration
	Why        string // why this target, where the issue gave none
	// Pin gives a class of per-request partitions a role: a footprint's
	// "WHEP#<id>" (the recording names no role for it) is, in this mix,
	// "WHEP#<endpoint>", the one endpoint of the store. Keys are class
	// prefixes, values their replacement.
	Pin map[string]string
	// Aside: not one of the mixes with a target verdict; Report prints its
	// line as `<Name>: <figure> (<Title>)`, before the mixes' lines, and
	// leaves it out of the overall result.
	Aside bool
}

// Step is one footprint, Weight times per unit of the mix's rate (divided
// by the footprint's Per).
type Step struct {
	Footprint string
	Weight    float64
}

// DefaultPopulation is the population of a role a mix does not name: the
// 1,000,000 users.
const DefaultPopulation = 1_000_000

// PartitionLoad is the load of a mix on one partition class.
type PartitionLoad struct {
	Where      string  // "table ACCOUNT#<payee>", "due DUE#checkpoint"
	Kind       string  // Read or Write
	Partitions float64 // how many partitions share the class's load (+Inf: one per request)
	PerRate    float64 // units per second on each partition, per unit of the mix's rate
	From       []string
}

// Limit is the partition's limit for the load's kind.
func (p PartitionLoad) Limit() float64 {
	if p.Kind == Read {
		return PartitionRCU
	}
	return PartitionWCU
}

// MaxRate is the highest mix rate this partition sustains at Headroom.
func (p PartitionLoad) MaxRate() float64 {
	if p.PerRate <= 0 || math.IsInf(p.Partitions, 1) {
		return math.Inf(1)
	}
	return Headroom * p.Limit() / p.PerRate
}

// Result is a mix evaluated on a footprint table.
type Result struct {
	Mix     Mix
	Loads   []PartitionLoad // hottest first (lowest MaxRate)
	MaxRate float64         // the highest sustainable rate (+Inf if nothing binds)
	Missing []string        // footprints the table lacks
}

// OK reports whether the mix reaches its target.
func (r Result) OK() bool {
	if r.Mix.Subjects > 0 {
		return r.Time() <= r.Mix.TargetTime
	}
	return r.MaxRate >= r.Mix.Target
}

// Time is how long a job takes over Mix.Subjects at MaxRate.
func (r Result) Time() time.Duration {
	if r.MaxRate <= 0 {
		return time.Duration(math.MaxInt64)
	}
	if math.IsInf(r.MaxRate, 1) {
		return 0
	}
	return time.Duration(r.Mix.Subjects / r.MaxRate * float64(time.Second)).Round(time.Second)
}

var placeholderRE = regexp.MustCompile(`<([a-z0-9-]+)>`)

// Partitions is how many partitions share a class's load in mix m: the
// product of its placeholders' populations (<id>: one per request,
// +Inf; <n>: the shards the recording saw; <date>: 1; <role>: m's
// population), 1 for a class with none (one partition for the service).
func (t *Table) Partitions(u Use, m Mix) float64 { return t.partitions(u, m, u.Where()) }

// partitions is Partitions with the <n> shard count of class shardsOf.
func (t *Table) partitions(u Use, m Mix, shardsOf string) float64 {
	n := 1.0
	for _, ph := range placeholderRE.FindAllStringSubmatch(u.Class, -1) {
		switch ph[1] {
		case "id":
			return math.Inf(1)
		case "date":
		case "n":
			if s := t.Shards[shardsOf]; s > 0 {
				n *= float64(s)
			}
		default:
			p, ok := m.Population[ph[1]]
			if !ok {
				p = DefaultPopulation
			}
			n *= p
		}
	}
	return n
}

// Evaluate computes a mix's load per partition class.
func (t *Table) Evaluate(m Mix) Result {
	res := Result{Mix: m}
	loads := map[string]*PartitionLoad{}
	for _, st := range m.Steps {
		f, ok := t.Get(st.Footprint)
		if !ok {
			res.Missing = append(res.Missing, st.Footprint)
			continue
		}
		per := float64(max(f.Per, 1))
		for _, u := range f.Charges {
			shardsOf := u.Where()
			for from, to := range m.Pin {
				if strings.HasPrefix(u.Class, from) {
					u.Class = to + strings.TrimPrefix(u.Class, from)
				}
			}
			key := u.Where() + " " + u.Kind
			pl, ok := loads[key]
			if !ok {
				pl = &PartitionLoad{Where: u.Where(), Kind: u.Kind, Partitions: t.partitions(u, m, shardsOf)}
				loads[key] = pl
			}
			pl.PerRate += st.Weight / per * u.Units / pl.Partitions
			if !containsStr(pl.From, st.Footprint) {
				pl.From = append(pl.From, st.Footprint)
			}
		}
	}
	// Shard 0 of a sharded class is its bare key (ddb.ShardKey), which may
	// hold items of its own (the store item beside its order pointers'
	// shard 0): that partition carries both.
	for key, pl := range loads {
		if bare, ok := unsharded(pl.Where); ok {
			if b := loads[bare+" "+pl.Kind]; b != nil && b != pl && !math.IsInf(pl.Partitions, 1) {
				b.PerRate += pl.PerRate
				b.From = append(b.From, "shard 0 of "+strings.TrimSuffix(key, " "+pl.Kind))
			}
		}
	}
	res.MaxRate = math.Inf(1)
	for _, pl := range loads {
		res.Loads = append(res.Loads, *pl)
		res.MaxRate = math.Min(res.MaxRate, pl.MaxRate())
	}
	sort.Slice(res.Loads, func(i, j int) bool {
		a, b := res.Loads[i], res.Loads[j]
		if a.MaxRate() != b.MaxRate() {
			return a.MaxRate() < b.MaxRate()
		}
		return a.Where+a.Kind < b.Where+b.Kind
	})
	return res
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Figure is the result's headline: a rate, or a job's time.
func (r Result) Figure() string {
	if r.Mix.Subjects > 0 {
		return fmtDuration(r.Time())
	}
	return fmtRate(r.MaxRate) + " " + r.Mix.Unit
}

// TargetString is the target in the same terms.
func (r Result) TargetString() string {
	if r.Mix.Subjects > 0 {
		return fmtDuration(r.Mix.TargetTime) + " for " + fmtRate(r.Mix.Subjects) + " " + r.Mix.Unit
	}
	return fmtRate(r.Mix.Target) + " " + r.Mix.Unit
}

// Line is the result's last line: `capacity <mix>: <figure> (target <target>) ok|short`.
func (r Result) Line() string {
	verdict := "short"
	if r.OK() && len(r.Missing) == 0 {
		verdict = "ok"
	}
	return fmt.Sprintf("capacity %s: %s (target %s) %s", r.Mix.Name, r.Figure(), r.TargetString(), verdict)
}

func fmtRate(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "unbounded"
	case f >= 100:
		return commas(int64(math.Floor(f)))
	case f >= 10:
		return fmt.Sprintf("%.1f", f)
	default:
		return fmt.Sprintf("%.2f", f)
	}
}

func commas(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func fmtDuration(d time.Duration) string {
	if d == time.Duration(math.MaxInt64) {
		return "never"
	}
	if d >= time.Hour {
		return d.Round(time.Minute).String()
	}
	return d.Round(time.Second).String()
}

// Report writes a mix's table: its hottest partition classes with their
// load at the target rate and the rate each allows.
func (r Result) Report(w io.Writer, top int) {
	fmt.Fprintf(w, "\n(%s) %s: %s, target %s\n", r.Mix.Name, r.Mix.Title, r.Figure(), r.TargetString())
	if r.Mix.Why != "" {
		fmt.Fprintf(w, "    target: %s\n", r.Mix.Why)
	}
	if len(r.Missing) > 0 {
		fmt.Fprintf(w, "    MISSING footprints (record them): %s\n", strings.Join(r.Missing, ", "))
	}
	at := r.Mix.Target
	if r.Mix.Subjects > 0 {
		at = r.Mix.Subjects / r.Mix.TargetTime.Seconds()
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  partition\tkind\tpartitions\tunits/s each at target\t%% of limit\tmax rate\tfrom\t\n")
	n := 0
	for _, l := range r.Loads {
		if math.IsInf(l.Partitions, 1) {
			continue
		}
		if n == top {
			break
		}
		n++
		each := l.PerRate * at
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%.1f\t%.0f%%\t%s\t%s\t\n", l.Where, l.Kind, fmtRate(l.Partitions), each, 100*each/l.Limit(),
			fmtRate(l.MaxRate()), strings.Join(l.From, ", "))
	}
	tw.Flush()
}
