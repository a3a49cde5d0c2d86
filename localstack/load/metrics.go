package load

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
)

// sample is one request of a journey step.
type sample struct {
	step   int
	at     time.Duration // sent, after the run's start
	took   time.Duration // until the whole response was read
	failed bool
}

// recorder collects every request's sample and the reasons of failures.
type recorder struct {
	start time.Time

	mu      sync.Mutex
	samples []sample
	reasons []map[string]int // by step: failure reason -> count
	// inFlight counts requests sent and not yet answered, by knee stage
	// (window = the knee's hold; 0: not counted).
	window   time.Duration
	inFlight map[int]int
}

func newRecorder(start time.Time, window time.Duration) *recorder {
	return &recorder{start: start, window: window, reasons: make([]map[string]int, len(Steps)), inFlight: map[int]int{}}
}

func (r *recorder) stageOf(at time.Duration) int {
	if r.window <= 0 {
		return 0
	}
	return int(at / r.window)
}

// begin notes a request sent now; end records it.
func (r *recorder) begin() time.Duration {
	at := time.Since(r.start)
	r.mu.Lock()
	r.inFlight[r.stageOf(at)]++
	r.mu.Unlock()
	return at
}

func (r *recorder) end(step int, at, took time.Duration, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inFlight[r.stageOf(at)]--
	r.samples = append(r.samples, sample{step: step, at: at, took: took, failed: reason != ""})
	if reason != "" {
		if r.reasons[step] == nil {
			r.reasons[step] = map[string]int{}
		}
		r.reasons[step][reason]++
	}
}

// abandon forgets a request sent at at (the run cut it short).
func (r *recorder) abandon(at time.Duration) {
	r.mu.Lock()
	r.inFlight[r.stageOf(at)]--
	r.mu.Unlock()
}

// outstanding is the number of requests sent in a stage and not yet answered.
func (r *recorder) outstanding(stage int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inFlight[stage]
}

// window returns the samples sent in [from, to).
func (r *recorder) between(from, to time.Duration) []sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sample
	for _, s := range r.samples {
		if s.at >= from && s.at < to {
			out = append(out, s)
		}
	}
	return out
}

func (r *recorder) all() []sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sample(nil), r.samples...)
}

// Reasons are a step's failure reasons, most frequent first.
func (r *recorder) topReasons(step, n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	type kv struct {
		k string
		v int
	}
	var list []kv
	for k, v := range r.reasons[step] {
		list = append(list, kv{k, v})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].v > list[j].v || list[i].v == list[j].v && list[i].k < list[j].k })
	var out []string
	for i, e := range list {
		if i == n {
			break
		}
		out = append(out, fmt.Sprintf("%d x %s", e.v, e.k))
	}
	return out
}

// StepStats are one journey step's figures.
type StepStats struct {
	Step          string
	Count, Errors int
	P50, P95, P99 time.Duration
	Max           time.Duration
}

// ErrorRate is Errors / Count (0 for no requests).
func (s StepStats) ErrorRate() float64 {
	if s.Count == 0 {
		return 0
	}
	return float64(s.Errors) / float64(s.Count)
}

// summarize groups samples by step (in Steps order; steps with no sample
// are included with Count 0) and adds the total as the last row.
func summarize(samples []sample) (steps []StepStats, total StepStats) {
	by := make([][]time.Duration, len(Steps))
	errs := make([]int, len(Steps))
	var all []time.Duration
	allErrs := 0
	for _, s := range samples {
		by[s.step] = append(by[s.step], s.took)
		all = append(all, s.took)
		if s.failed {
			errs[s.step]++
			allErrs++
		}
	}
	for i, name := range Steps {
		steps = append(steps, stats(name, by[i], errs[i]))
	}
	return steps, stats("all requests", all, allErrs)
}

func stats(name string, lat []time.Duration, errs int) StepStats {
	s := StepStats{Step: name, Count: len(lat), Errors: errs}
	if len(lat) == 0 {
		return s
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	s.P50, s.P95, s.P99, s.Max = percentile(lat, 0.50), percentile(lat, 0.95), percentile(lat, 0.99), lat[len(lat)-1]
	return s
}

// percentile is the nearest-rank percentile of sorted latencies.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Thresholds are the run's pass/fail criteria, per journey step (k6's
// thresholds on http_req_failed and http_req_duration per tag).
type Thresholds struct {
	ErrorRate float64       // at most this fraction of a step's requests may fail (checks included)
	P95, P99  time.Duration // a step's 95th / 99th percentile must stay at or under these (0: none)
}

// DefaultThresholds: at most 1% errors, p95 500 ms, p99 1 s per step.
var DefaultThresholds = Thresholds{ErrorRate: 0.01, P95: 500 * time.Millisecond, P99: time.Second}

// crossed lists every threshold a step crossed, and dropped arrivals
// beyond the error rate (the rate was not held).
func (t Thresholds) crossed(steps []StepStats, arrivals, dropped int) []string {
	var out []string
	for _, s := range steps {
		if s.Count == 0 {
			continue
		}
		if s.ErrorRate() > t.ErrorRate {
			out = append(out, fmt.Sprintf("%s: errors %.2f%% > %.2f%%", s.Step, 100*s.ErrorRate(), 100*t.ErrorRate))
		}
		if t.P95 > 0 && s.P95 > t.P95 {
			out = append(out, fmt.Sprintf("%s: p95 %s > %s", s.Step, ms(s.P95), ms(t.P95)))
		}
		if t.P99 > 0 && s.P99 > t.P99 {
			out = append(out, fmt.Sprintf("%s: p99 %s > %s", s.Step, ms(s.P99), ms(t.P99)))
		}
	}
	if arrivals > 0 && float64(dropped)/float64(arrivals) > t.ErrorRate {
		out = append(out, fmt.Sprintf("journeys: %d of %d arrivals dropped (too many in flight) > %.2f%%", dropped, arrivals, 100*t.ErrorRate))
	}
	return out
}

// printSteps writes the per-step table.
func printSteps(out io.Writer, steps []StepStats, total StepStats, t Thresholds) {
	fmt.Fprintf(out, "| %-18s | %-44s | %6s | %6s | %10s | %10s | %10s | %10s |\n", "step", "route", "count", "errors", "p50", "p95", "p99", "max")
	fmt.Fprintf(out, "|%s|%s|%s|%s|%s|%s|%s|%s|\n", dash(20), dash(46), dash(8), dash(8), dash(12), dash(12), dash(12), dash(12))
	for i, s := range append(steps, total) {
		route := ""
		if i < len(steps) {
			route = stepRoute[s.Step]
		}
		if s.Count == 0 {
			fmt.Fprintf(out, "| %-18s | %-44s | %6d | %6s | %10s | %10s | %10s | %10s |\n", s.Step, route, 0, "-", "-", "-", "-", "-")
			continue
		}
		mark := func(d, limit time.Duration) string {
			if limit > 0 && d > limit {
				return ms(d) + "!"
			}
			return ms(d)
		}
		errs := fmt.Sprint(s.Errors)
		if s.ErrorRate() > t.ErrorRate {
			errs += "!"
		}
		fmt.Fprintf(out, "| %-18s | %-44s | %6d | %6s | %10s | %10s | %10s | %10s |\n", s.Step, route, s.Count, errs,
			ms(s.P50), mark(s.P95, t.P95), mark(s.P99, t.P99), ms(s.Max))
	}
}

func dash(n int) string { return strings.Repeat("-", n) }

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	}
}
