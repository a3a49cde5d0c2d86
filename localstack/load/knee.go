package load

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/localstack/bench"
	"minipay/localstack/ddbtest"
	"minipay/shared/kernel/ledger"
)

// Knee is the stair the knee run climbs: Start journeys per second, then
// Step more every Hold, up to Max. Each stage is judged on the requests
// sent in it: the error threshold crossed (more than Thresholds.ErrorRate
// of its requests failed, or of its arrivals dropped) ends the ramp; a
// stage is held when it did not cross it and the p99 of all its requests
// is under P99.
type Knee struct {
	Start, Step, Max float64
	Hold             time.Duration
	P99              time.Duration
}

// DefaultKnee: 0.5, 1, 1.5, ... journeys per second, 20 s each, held under p99 1 s.
var DefaultKnee = Knee{Start: 0.5, Step: 0.5, Max: 40, Hold: 20 * time.Second, P99: time.Second}

func (k *Knee) defaults() {
	d := DefaultKnee
	if k.Start <= 0 {
		k.Start = d.Start
	}
	if k.Step <= 0 {
		k.Step = d.Step
	}
	if k.Max < k.Start {
		k.Max = max(d.Max, k.Start)
	}
	if k.Hold <= 0 {
		k.Hold = d.Hold
	}
	if k.P99 <= 0 {
		k.P99 = d.P99
	}
}

// rates are the stair's rates.
func (k Knee) rates() []float64 {
	var out []float64
	for i := 0; ; i++ {
		r := k.Start + float64(i)*k.Step
		if r > k.Max+1e-9 {
			return out
		}
		out = append(out, r)
	}
}

// stages is the stair as ramping stages: a jump to each rate, held.
func (k Knee) stages() []Stage {
	var out []Stage
	for _, r := range k.rates() {
		out = append(out, Stage{0, r}, Stage{k.Hold, r})
	}
	return out
}

// KneeStage is one stage of the stair as measured.
type KneeStage struct {
	Rate                float64 // journeys per second scheduled
	Arrivals, Dropped   int
	Requests, Errors    int
	PerSecond           float64 // requests sent per second
	DynamoDB, Transacts float64 // the stack's DynamoDB requests and TransactWriteItems per second (in process only)
	P50, P95, P99       time.Duration
	Held, Crossed       bool
}

// KneeResult is the knee run's outcome.
type KneeResult struct {
	Stages []KneeStage
	// Rate is the highest rate held (0: none held); Stage is its stage.
	Rate  float64
	Stage *KneeStage
	// AtKnee are the per-step figures of the knee's stage.
	AtKnee      []StepStats
	AtKneeTotal StepStats
	// Ceiling is measured before the ramp, CeilingAfter once it is over
	// and the stack is quiet.
	Ceiling, CeilingAfter *Ceiling

	arrivals, started, dropped, failed int
}

// Best is the higher of the two ceilings measured (nil if none).
func (k *KneeResult) Best() *Ceiling {
	if k.CeilingAfter != nil && (k.Ceiling == nil || k.CeilingAfter.PerSecond > k.Ceiling.PerSecond) {
		return k.CeilingAfter
	}
	return k.Ceiling
}

// Ceiling is the bare DynamoDB Local ceiling: the 6-item transfer of
// localstack/bench as one bare TransactWriteItems from 16 clients.
type Ceiling struct {
	N, Clients int
	PerSecond  float64
	P50, P99   time.Duration
}

type instrumented interface{ Reset() ddbtest.Usage }

// measureCeiling runs n bare transfers between random pairs of the
// charged seed friends, on 16 clients, as make bench measures the floor,
// after n/2 unmeasured ones (a fresh DynamoDB Local's JVM is slow until
// warm).
func measureCeiling(ctx context.Context, db *dynamodb.Client, l *ledger.Ledger, seeds []person, run string, n int) (*Ceiling, error) {
	if _, err := bareTransfers(ctx, db, l, seeds, run+"-warm", n/2); err != nil {
		return nil, err
	}
	return bareTransfers(ctx, db, l, seeds, run, n)
}

func bareTransfers(ctx context.Context, db *dynamodb.Client, l *ledger.Ledger, friends []person, run string, n int) (*Ceiling, error) {
	const clients = 16
	// What they received is in postings until folded; the bare debit
	// reads the balance alone.
	for _, f := range friends {
		if _, err := l.FoldAccount(ctx, ledger.MainAccount(f.id)); err != nil {
			return nil, fmt.Errorf("load: bare ceiling: fold: %w", err)
		}
	}
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				a := rand.IntN(len(friends))
				b := (a + 1 + rand.IntN(len(friends)-1)) % len(friends)
				t := time.Now()
				if err := bench.BareTransfer(ctx, db, l, friends[a].id, friends[b].id, fmt.Sprintf("load-%s-bare-%d", run, i), int64(1+rand.IntN(1000))); err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
				lat[i] = time.Since(t)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, fmt.Errorf("load: bare ceiling: %w", err)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return &Ceiling{N: n, Clients: clients, PerSecond: float64(n) / took.Seconds(), P50: percentile(lat, 0.5), P99: percentile(lat, 0.99)}, nil
}

// runKnee climbs the stair; a monitor judges each stage once every request
// sent in it has been answered, and stops the climb at the first stage
// that crossed the error threshold.
func runKnee(ctx context.Context, out io.Writer, o Options, w *world, rec *recorder, ceiling *Ceiling, inst instrumented) (*KneeResult, error) {
	c := &kneeClimb{k: *o.Knee, o: o, rec: rec, inst: inst, dropped: map[int]int{}}
	rates := c.k.rates()
	c.arrivals = Arrivals(0, c.k.stages(), 1_000_000)
	res := &KneeResult{Ceiling: ceiling}
	printKneeHeader(out, o, c.k, ceiling)

	c.start = time.Now()
	rec.start = c.start
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.launch(jctx, w)
	c.watchUsage(jctx, len(rates))
	for i, rate := range rates {
		st, samples, err := c.stage(ctx, i, rate)
		if err != nil {
			return nil, err
		}
		printKneeStage(out, st, c.k, inst != nil)
		res.Stages = append(res.Stages, st)
		if st.Held {
			res.Rate = rate
			res.AtKnee, res.AtKneeTotal = summarize(samples)
		}
		if st.Crossed {
			break
		}
	}
	w.cl.cut.Store(true) // what fails from now on, failed because of the cut
	cancel()             // the climb is over: the journeys still running are cut short
	d := <-c.drove
	c.wg.Wait()
	res.arrivals, res.started, res.dropped, res.failed = len(c.arrivals), d.started, len(d.dropped), int(c.failed.Load())
	for i := range res.Stages {
		if res.Stages[i].Rate == res.Rate && res.Stages[i].Held {
			res.Stage = &res.Stages[i]
		}
	}
	printKneeResult(out, o, c.k, res, len(rates), rec, inst != nil)
	return res, nil
}

// kneeClimb is one climb of the stair: the journeys it launches, what
// they dropped and failed, and the stack's DynamoDB usage per stage.
type kneeClimb struct {
	k        Knee
	o        Options
	rec      *recorder
	inst     instrumented // nil: the stack is not in process
	arrivals []time.Duration
	start    time.Time

	wg      sync.WaitGroup
	failed  atomic.Int64
	dropMu  sync.Mutex
	dropped map[int]int // stage -> arrivals dropped
	drove   chan driven
	usage   chan ddbtest.Usage
}

// launch drives the journeys on the stair's arrivals until jctx ends;
// the driver's result arrives on c.drove.
func (c *kneeClimb) launch(jctx context.Context, w *world) {
	c.drove = make(chan driven, 1)
	go func() {
		c.drove <- drive(jctx, c.start, c.arrivals, c.o.MaxInFlight, &c.wg, func(ctx context.Context, i int) {
			if w.journey(ctx, i) != nil {
				c.failed.Add(1)
			}
		}, func(at time.Duration) {
			c.dropMu.Lock()
			c.dropped[c.rec.stageOf(at)]++
			c.dropMu.Unlock()
		})
	}()
}

// watchUsage reads the stack's DynamoDB usage per stage window at each
// window's end (in order; stage takes them as it judges the stages).
func (c *kneeClimb) watchUsage(jctx context.Context, stages int) {
	c.usage = make(chan ddbtest.Usage, stages)
	if c.inst == nil {
		return
	}
	c.inst.Reset()
	go func() {
		for i := range stages {
			select {
			case <-jctx.Done():
				return
			case <-time.After(time.Until(c.start.Add(time.Duration(i+1) * c.k.Hold))):
			}
			c.usage <- c.inst.Reset()
		}
	}()
}

// stage waits for stage i's end and for every request sent in it to be
// answered (or given up on), then measures and judges it. It returns the
// stage's samples too.
func (c *kneeClimb) stage(ctx context.Context, i int, rate float64) (KneeStage, []sample, error) {
	k := c.k
	from, to := time.Duration(i)*k.Hold, time.Duration(i+1)*k.Hold
	select {
	case <-ctx.Done():
		return KneeStage{}, nil, ctx.Err()
	case <-time.After(time.Until(c.start.Add(to))):
	}
	deadline := time.Now().Add(c.o.Drain)
	for c.rec.outstanding(i) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	samples := c.rec.between(from, to)
	_, total := summarize(samples)
	st := KneeStage{Rate: rate, Requests: total.Count, Errors: total.Errors, PerSecond: float64(total.Count) / k.Hold.Seconds(),
		P50: total.P50, P95: total.P95, P99: total.P99}
	for _, at := range c.arrivals {
		if at >= from && at < to {
			st.Arrivals++
		}
	}
	c.dropMu.Lock()
	st.Dropped = c.dropped[i]
	c.dropMu.Unlock()
	var u ddbtest.Usage
	if c.inst != nil {
		select {
		case <-ctx.Done():
			return KneeStage{}, nil, ctx.Err()
		case u = <-c.usage:
		}
	}
	st.DynamoDB, st.Transacts = float64(u.Total())/k.Hold.Seconds(), float64(u.Requests["TransactWriteItems"])/k.Hold.Seconds()
	st.Crossed = total.ErrorRate() > c.o.Thresholds.ErrorRate || st.Arrivals > 0 && float64(st.Dropped)/float64(st.Arrivals) > c.o.Thresholds.ErrorRate
	st.Held = !st.Crossed && st.Requests > 0 && st.P99 < k.P99
	return st, samples, nil
}

// printKneeHeader prints the ceiling, the stair and the stage table's head.
func printKneeHeader(out io.Writer, o Options, k Knee, ceiling *Ceiling) {
	if ceiling != nil {
		fmt.Fprintf(out, "bare DynamoDB Local ceiling: %.1f TransactWriteItems/s (%d x the 6-item transfer of make bench, %d clients; p50 %s, p99 %s)\n",
			ceiling.PerSecond, ceiling.N, ceiling.Clients, ms(ceiling.P50), ms(ceiling.P99))
	}
	fmt.Fprintf(out, "knee: %g, %g, ... up to %g journeys/s, %s each; a stage is held with errors <= %.2f%% and p99 < %s; the ramp ends where the error threshold is crossed\n\n",
		k.Start, k.Step+k.Start, k.Max, k.Hold, 100*o.Thresholds.ErrorRate, ms(k.P99))
	fmt.Fprintf(out, "| %10s | %8s | %7s | %8s | %7s | %20s | %7s | %10s | %10s | %10s | %-23s |\n",
		"journeys/s", "arrivals", "dropped", "requests", "req/s", "DynamoDB req/s (TWI)", "errors", "p50", "p95", "p99", "verdict")
	fmt.Fprintf(out, "|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", dash(12), dash(10), dash(9), dash(10), dash(9), dash(22), dash(9), dash(12), dash(12), dash(12), dash(25))
}

// printKneeStage prints a stage's row of the table with its verdict.
func printKneeStage(out io.Writer, st KneeStage, k Knee, inProcess bool) {
	verdict := "held"
	switch {
	case st.Crossed:
		verdict = "ERROR THRESHOLD CROSSED"
	case !st.Held:
		verdict = "p99 over " + ms(k.P99)
	}
	dyn := "-"
	if inProcess {
		dyn = fmt.Sprintf("%.1f (%.1f)", st.DynamoDB, st.Transacts)
	}
	fmt.Fprintf(out, "| %10g | %8d | %7d | %8d | %7.1f | %20s | %7s | %10s | %10s | %10s | %-23s |\n",
		st.Rate, st.Arrivals, st.Dropped, st.Requests, st.PerSecond, dyn, fmt.Sprintf("%.2f%%", 100*StepStats{Count: st.Requests, Errors: st.Errors}.ErrorRate()), ms(st.P50), ms(st.P95), ms(st.P99), verdict)
}

// printKneeResult prints the knee (or that no stage held) and the
// per-step table at the knee.
func printKneeResult(out io.Writer, o Options, k Knee, res *KneeResult, stages int, rec *recorder, inProcess bool) {
	fmt.Fprintln(out)
	if len(res.Stages) == stages && !res.Stages[stages-1].Crossed {
		fmt.Fprintf(out, "the ramp reached its top (%g journeys/s) without crossing the error threshold: raise -knee-max\n", k.Max)
	}
	if res.Stage == nil {
		fmt.Fprintln(out, "knee: no stage was held")
		printReasons(out, rec, "over the whole ramp")
		return
	}
	s := res.Stage
	fmt.Fprintf(out, "knee: %g journeys/s held (p99 %s < %s, errors %d of %d): %.1f requests/s through the API",
		s.Rate, ms(s.P99), ms(k.P99), s.Errors, s.Requests, s.PerSecond)
	if inProcess {
		fmt.Fprintf(out, ", %.1f DynamoDB requests/s of which %.1f TransactWriteItems/s", s.DynamoDB, s.Transacts)
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "\nper step at the knee (%g journeys/s, the requests sent in that stage):\n", s.Rate)
	printSteps(out, res.AtKnee, res.AtKneeTotal, o.Thresholds)
	printReasons(out, rec, "over the whole ramp")
}
