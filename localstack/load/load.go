// Package load is minipay's user-journey load test: real users' journeys
// arrive on an open model (a ramping arrival rate, independent of how
// fast the stack answers), each runs its steps in order, and every
// response is checked. It prints a table per journey step (count, errors,
// p50, p95, p99) and a summary, judges the run by thresholds on each
// step's error rate, p95 and p99, and ends with the money audit when it
// can reach the table. `make load` runs it (localstack load).
//
// The journey (journeys.go), one user's life:
//
//	register -> charge 100,000 -> transfer to friend a -> a second transfer to friend b
//	  (pending on every second journey) -> a room with friends a and c, a sprinkle of 3,000
//	  in 3 random shares, a and c claim at the same moment -> b accepts the pending transfer
//	  -> a settlement request for a 30,000 dinner split equally among the user, a and c;
//	  a and c pay at the same moment (exactly one payment completes it), the user views it
//	  -> open a free savings account, deposit 20,000; every second journey also opens a
//	  fixed product (10,000 a day), every fourth closes the free account again
//	  -> order 15,000 from a store: 1 in 4 cancelled by the customer (every second one after
//	  the store accepted), 1 in 4 accepted, cooked (captured) and refunded 4,000,
//	  2 in 4 accepted, cooked, cooked/picked_up/delivered, completed -> read the history
//
// Friends are the seed users (registered and charged before the run) and
// every newcomer once registered; the stores are the seed store owners'.
// The mix is exact by journey number, so a short run covers every step.
//
// Targets: a stack at a URL (Options.API: a deployed stack, or `make run`'s),
// or one this package starts in process (DynamoDB Local in memory + the
// emulator + app.Handlers, as `make run` serves them). Loopback only here:
// the URL mode is for a deployed stack of your own.
//
// The knee (knee.go) ramps the arrival rate in steps until the error
// threshold is crossed and reports the highest rate held with p99 under
// 1 s, beside a bare TransactWriteItems ceiling measured in the same run.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/shared/edge/routes"
	"minipay/shared/kernel/clock"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
	"minipay/shared/wiring/openapi"
)

// Options configure a run.
type Options struct {
	// API is the stack to load ("http://127.0.0.1:8080", a deployed
	// stack's ApiUrl); "" starts one in process.
	API string
	// Endpoint is the in-process stack's DynamoDB Local ("" starts one in
	// memory).
	Endpoint string
	// AuditEndpoint and AuditTable: where the audit (and the bare
	// ceiling) can reach the API's table; "" for a deployed stack (no
	// audit). The in-process stack sets them itself.
	AuditEndpoint, AuditTable string

	OperatorToken string
	// Registration is how journeys register: "open", "operator" (the
	// operator token with a personId) or "" (ask the stack: open unless it
	// answers 403). StackRegistration is the in-process stack's policy.
	Registration, StackRegistration string

	// Stages ramp the arrival rate from StartRate (journeys per second).
	Stages    []Stage
	StartRate float64
	// Knee, if set, replaces Stages with the knee's stair.
	Knee *Knee

	Thresholds Thresholds
	// MaxInFlight caps the journeys running at once (k6's maxVUs); an
	// arrival beyond it is dropped and counted.
	MaxInFlight int
	// Friends and Stores are the population set up before the run.
	Friends, Stores int
	Think           time.Duration // pause between a journey's steps
	// WarmUp runs journeys at WarmUpRate (default 1/s) for this long
	// before the measured run, unrecorded: a fresh DynamoDB Local's JVM
	// answers several times slower until it is warm (0: none).
	WarmUp     time.Duration
	WarmUpRate float64
	// Drain bounds the wait for journeys still running after the last
	// arrival; then they are cancelled.
	Drain           time.Duration
	RequestTimeout  time.Duration // the client's, per request
	FunctionTimeout time.Duration // the in-process emulator's (0: the stack's 10 s)
	// CeilingTransfers is how many bare transfers measure the ceiling
	// in a knee run (0: 400, as make bench).
	CeilingTransfers int
	// OpenAPI validates every exchange against the OpenAPI document too
	// (a mismatch is a failed check).
	OpenAPI bool
	Seed    uint64
}

// Defaults is what make load runs.
var Defaults = Options{Stages: Ramp(2), Thresholds: DefaultThresholds, MaxInFlight: 1000, Friends: 8, Stores: 3,
	Drain: 2 * time.Minute, RequestTimeout: time.Minute}

// ErrThresholds is returned (wrapped) when a run crossed a threshold; the
// report is printed first. `localstack load` exits 99 on it, as k6 does.
var ErrThresholds = errors.New("load: thresholds crossed")

// ErrAudit is returned when the money audit failed.
var ErrAudit = errors.New("load: audit failed")

// Result is what a run measured.
type Result struct {
	Steps    []StepStats
	Total    StepStats
	Arrivals int // scheduled journeys
	Started  int
	Dropped  int
	Failed   int // journeys stopped by a failed step
	Crossed  []string
	// Knee is the knee run's outcome (nil for a plain run).
	Knee *KneeResult
	// Audited says the money audit ran (and passed: a failure is ErrAudit).
	Audited bool
}

// Run runs the load test and writes the report to out.
func Run(ctx context.Context, out io.Writer, o Options) (*Result, error) {
	o.defaults()
	var stack *inProcess
	if o.API == "" {
		var err error
		if stack, err = startInProcess(ctx, o); err != nil {
			return nil, err
		}
		defer stack.close()
		o.API = stack.url
	}
	o.API = strings.TrimRight(o.API, "/")

	runID := fmt.Sprintf("%x", time.Now().UnixNano())
	window := time.Duration(0)
	if o.Knee != nil {
		o.Knee.defaults()
		window = o.Knee.Hold
	}
	rec := newRecorder(time.Now(), window)
	transport := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second}
	defer transport.CloseIdleConnections()
	w, err := newWorld(o, runID, rec, transport)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "minipay load  %s  target %s", time.Now().UTC().Format(time.RFC3339), o.API)
	if stack != nil {
		fmt.Fprintf(out, " (in process: the emulator + app.Handlers on DynamoDB Local, table %s)", stack.table)
	}
	fmt.Fprintln(out)
	if err := setUp(ctx, out, o, w); err != nil {
		return nil, err
	}
	at, err := reachTable(ctx, o, stack)
	if err != nil {
		return nil, err
	}

	res := &Result{}
	if o.Knee != nil {
		if err := runKneeRamp(ctx, out, o, w, rec, stack, at, res); err != nil {
			return nil, err
		}
	} else {
		runOpenModel(ctx, out, o, w, rec, stack, res)
	}
	if stack != nil {
		stack.quiesce()
	}
	if err := ceilingAgain(ctx, out, o, at, w, stack != nil, res.Knee); err != nil {
		return res, err
	}
	return res, verdict(ctx, out, at, res)
}

// defaults fills in what the options leave zero.
func (o *Options) defaults() {
	if o.Thresholds == (Thresholds{}) {
		o.Thresholds = DefaultThresholds
	}
	if o.Friends < 3 {
		o.Friends = 3
	}
	if o.Stores < 1 {
		o.Stores = 1
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = time.Minute
	}
	if o.Drain <= 0 {
		o.Drain = 2 * time.Minute
	}
	if o.CeilingTransfers <= 0 {
		o.CeilingTransfers = 400
	}
}

// newWorld is the journeys' world: the HTTP client that records every
// exchange (and checks it against the OpenAPI document if asked) and the
// seeded random source.
func newWorld(o Options, runID string, rec *recorder, transport *http.Transport) (*world, error) {
	cl := &client{base: o.API, http: &http.Client{Transport: transport, Timeout: o.RequestTimeout}, run: runID, rec: rec}
	if o.OpenAPI {
		var err error
		if cl.check, err = openapi.NewChecker(o.API); err != nil {
			return nil, err
		}
	}
	seed := o.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	return &world{cl: cl, run: runID, think: o.Think, rnd: rand.New(rand.NewPCG(seed, 16))}, nil
}

// setUp prepares the run, unmeasured: it learns the registration policy,
// seeds the friends and the stores, and warms the stack up if asked.
func setUp(ctx context.Context, out io.Writer, o Options, w *world) error {
	setupStart := time.Now()
	policy, err := w.registration(ctx, o.Registration, o.OperatorToken)
	if err != nil {
		return err
	}
	if err := w.setup(ctx, o.Friends, o.Stores); err != nil {
		return err
	}
	fmt.Fprintf(out, "setup: registration %s; %d friends charged %d each, %d stores (%s)\n",
		policy, len(w.friends), seedCharge, len(w.stores), time.Since(setupStart).Round(time.Millisecond))
	if o.WarmUp > 0 {
		return warmUp(ctx, out, o, w)
	}
	return nil
}

// auditTable is the API's table as the audit and the bare ceiling reach
// it; db is nil when it is out of reach (a deployed stack).
type auditTable struct {
	db     *dynamodb.Client
	ledger *ledger.Ledger
	name   string
}

// reachTable finds the table: the in-process stack's, or the one at
// Options.AuditEndpoint.
func reachTable(ctx context.Context, o Options, stack *inProcess) (auditTable, error) {
	at := auditTable{name: o.AuditTable}
	switch {
	case stack != nil:
		at = auditTable{db: stack.db, ledger: stack.ledger, name: stack.table}
	case o.AuditEndpoint != "":
		db, err := ddb.NewClient(ctx, config.Config{DynamoDBEndpoint: o.AuditEndpoint})
		if err != nil {
			return at, err
		}
		if at.name == "" {
			at.name = config.DefaultTable
		}
		at.db, at.ledger = db, ledger.New(ddb.NewTable(db, at.name), clock.Real{})
	}
	return at, nil
}

// runKneeRamp measures the bare ceiling (when the table is in reach),
// then climbs the knee's stair and records the knee's outcome in res.
func runKneeRamp(ctx context.Context, out io.Writer, o Options, w *world, rec *recorder, stack *inProcess, at auditTable, res *Result) error {
	var ceiling *Ceiling
	if at.db != nil {
		var err error
		if ceiling, err = measureCeiling(ctx, at.db, at.ledger, w.seeds, w.run, o.CeilingTransfers); err != nil {
			return err
		}
	}
	var inst instrumented
	if stack != nil {
		inst = stack.inst
	}
	k, err := runKnee(ctx, out, o, w, rec, ceiling, inst)
	res.Knee = k
	if err != nil {
		return err
	}
	res.Arrivals, res.Started, res.Dropped, res.Failed = k.arrivals, k.started, k.dropped, k.failed
	res.Steps, res.Total = k.AtKnee, k.AtKneeTotal
	return nil
}

// runOpenModel drives the journeys on the ramp of Options.Stages, waits
// for them (at most Options.Drain after the last arrival), judges every
// step by the thresholds and prints the report.
func runOpenModel(ctx context.Context, out io.Writer, o Options, w *world, rec *recorder, stack *inProcess, res *Result) {
	arrivals := Arrivals(o.StartRate, o.Stages, 1_000_000)
	fmt.Fprintf(out, "open model: %d journeys on the ramp %s (start %.3g/s), at most %d in flight; thresholds per step: errors <= %.2f%%, p95 <= %s, p99 <= %s\n",
		len(arrivals), stagesString(o.Stages), o.StartRate, o.MaxInFlight, 100*o.Thresholds.ErrorRate, ms(o.Thresholds.P95), ms(o.Thresholds.P99))
	jctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	if stack != nil {
		stack.inst.Reset() // count from the first arrival on
	}
	launchedAt := time.Now()
	rec.start = launchedAt // nothing is recorded before the first arrival
	d := drive(jctx, launchedAt, arrivals, o.MaxInFlight, &wg, func(ctx context.Context, i int) {
		if w.journey(ctx, i) != nil {
			mu.Lock()
			failed++
			mu.Unlock()
		}
	}, nil)
	ran := time.Since(launchedAt)
	if !waitTimeout(&wg, o.Drain) {
		fmt.Fprintf(out, "drain: journeys still running %s after the last arrival were cancelled\n", o.Drain)
	}
	cancel()
	wg.Wait()
	elapsed := time.Since(launchedAt)
	res.Arrivals, res.Started, res.Dropped, res.Failed = len(arrivals), d.started, len(d.dropped), failed
	res.Steps, res.Total = summarize(rec.all())
	res.Crossed = o.Thresholds.crossed(res.Steps, res.Arrivals, res.Dropped)
	printOpenModel(out, o, rec, stack, res, d, ran, elapsed)
}

// printOpenModel prints an open-model run's report: the step table, the
// failure reasons, the journeys and requests, the stack's DynamoDB
// requests and the thresholds' verdict.
func printOpenModel(out io.Writer, o Options, rec *recorder, stack *inProcess, res *Result, d driven, ran, elapsed time.Duration) {
	fmt.Fprintln(out)
	printSteps(out, res.Steps, res.Total, o.Thresholds)
	printReasons(out, rec, "of the run")
	fmt.Fprintf(out, "\njourneys: %d arrived, %d started, %d dropped, %d completed, %d stopped at a failed step; arrivals over %s, all done in %s\n",
		res.Arrivals, res.Started, res.Dropped, res.Started-res.Failed, res.Failed, ran.Round(time.Millisecond), elapsed.Round(time.Millisecond))
	fmt.Fprintf(out, "requests: %d, %.1f/s over the run, %d failed (%.2f%%); the generator's worst start delay %s\n",
		res.Total.Count, float64(res.Total.Count)/elapsed.Seconds(), res.Total.Errors, 100*res.Total.ErrorRate(), ms(d.maxLag))
	if stack != nil {
		u := stack.inst.Reset()
		fmt.Fprintf(out, "DynamoDB requests by the stack during the run (jobs included): %d, %.2f per API request (%s)\n",
			u.Total(), float64(u.Total())/float64(max(res.Total.Count, 1)), perKind(u.Requests))
	}
	if len(res.Crossed) == 0 {
		fmt.Fprintln(out, "thresholds: all held")
	} else {
		fmt.Fprintf(out, "thresholds: CROSSED\n  %s\n", strings.Join(res.Crossed, "\n  "))
	}
}

// ceilingAgain measures the bare ceiling once more after a knee run, now
// that nothing else writes: the machine's noise shows as the difference
// between the two.
func ceilingAgain(ctx context.Context, out io.Writer, o Options, at auditTable, w *world, inProcess bool, k *KneeResult) error {
	if k == nil || k.Ceiling == nil || at.db == nil {
		return nil
	}
	after, err := bareTransfers(ctx, at.db, at.ledger, w.seeds, w.run+"-after", o.CeilingTransfers)
	if err != nil {
		return err
	}
	k.CeilingAfter = after
	fmt.Fprintf(out, "\nbare ceiling again after the ramp: %.1f TransactWriteItems/s (p50 %s, p99 %s; before it: %.1f/s)\n",
		after.PerSecond, ms(after.P50), ms(after.P99), k.Ceiling.PerSecond)
	if best := k.Best(); k.Stage != nil && inProcess && best.PerSecond > 0 {
		fmt.Fprintf(out, "knee vs ceiling: at the knee (%g journeys/s) the stack committed %.1f TransactWriteItems/s, %.0f%% of the bare ceiling (%.1f/s, the higher of the two)\n",
			k.Stage.Rate, k.Stage.Transacts, 100*k.Stage.Transacts/best.PerSecond, best.PerSecond)
	}
	return nil
}

// verdict runs the money audit when the table is in reach and judges the
// run: ErrAudit, then ErrThresholds (crossed, or no knee stage held).
func verdict(ctx context.Context, out io.Writer, at auditTable, res *Result) error {
	if at.db != nil {
		ok, err := audit(ctx, out, at.db, at.name)
		if err != nil {
			return err
		}
		res.Audited = true
		if !ok {
			return ErrAudit
		}
	} else {
		fmt.Fprintln(out, "audit: skipped (the table is not reachable from here; for a local stack set -audit-endpoint)")
	}
	if len(res.Crossed) > 0 {
		return fmt.Errorf("%w: %s", ErrThresholds, strings.Join(res.Crossed, "; "))
	}
	if res.Knee != nil && res.Knee.Rate == 0 {
		return fmt.Errorf("%w: no stage of the knee ramp held", ErrThresholds)
	}
	return nil
}

// warmUp runs journeys that are not recorded (their checks still run).
func warmUp(ctx context.Context, out io.Writer, o Options, w *world) error {
	rate := o.WarmUpRate
	if rate <= 0 {
		rate = 1
	}
	measured := w.cl.rec
	w.cl.rec = newRecorder(time.Now(), 0)
	defer func() { w.cl.rec = measured }()
	arrivals := Arrivals(rate, []Stage{{o.WarmUp, rate}}, 1_000_000)
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int64
	d := drive(ctx, start, arrivals, o.MaxInFlight, &wg, func(ctx context.Context, i int) {
		if w.journey(ctx, i) != nil {
			failed.Add(1)
		}
	}, nil)
	if !waitTimeout(&wg, o.Drain) {
		return fmt.Errorf("load: warm-up journeys still running %s after the last arrival", o.Drain)
	}
	fmt.Fprintf(out, "warm-up: %d journeys at %g/s, not measured, %d stopped at a failed step (%s)\n", d.started, rate, failed.Load(), time.Since(start).Round(time.Millisecond))
	return nil
}

// registration decides how journeys register: as asked, or by asking the
// stack (an open registration answers 201, an operator one 403).
func (w *world) registration(ctx context.Context, policy, operator string) (string, error) {
	switch policy {
	case config.RegistrationOpen:
		return policy, nil
	case config.RegistrationOperator:
		if operator == "" {
			return "", errors.New("load: operator registration needs the operator token (MINIPAY_OPERATOR_TOKEN)")
		}
		w.operator = operator
		return policy, nil
	case "":
	default:
		return "", fmt.Errorf("load: registration %q is neither open nor operator", policy)
	}
	_, err := w.register(ctx, -1, "load probe")
	if err == nil {
		return config.RegistrationOpen + " (the stack answered 201 without a token)", nil
	}
	if !strings.Contains(err.Error(), "status 403") {
		return "", fmt.Errorf("setup: %w", err)
	}
	if operator == "" {
		return "", errors.New("load: the stack registers with the operator token only: set MINIPAY_OPERATOR_TOKEN")
	}
	w.operator = operator
	return config.RegistrationOperator + " (the stack answered 403 without the operator token)", nil
}

func audit(ctx context.Context, out io.Writer, db *dynamodb.Client, table string) (bool, error) {
	r, err := ledger.Audit(ctx, db, table)
	if err != nil {
		return false, err
	}
	if !r.OK() {
		// The audit is a Scan, not a snapshot: a transaction DynamoDB Local
		// applies while it reads (an abandoned request's, a job's) can show
		// as an imbalance. A real one stays: read once more.
		time.Sleep(5 * time.Second)
		if r, err = ledger.Audit(ctx, db, table); err != nil {
			return false, err
		}
	}
	fmt.Fprintf(out, "\n%s\n", r)
	return r.OK(), nil
}

func printReasons(out io.Writer, rec *recorder, scope string) {
	first := true
	for i, name := range Steps {
		rs := rec.topReasons(i, 3)
		if len(rs) == 0 {
			continue
		}
		if first {
			fmt.Fprintf(out, "failures %s, by step (most frequent first):\n", scope)
			first = false
		}
		fmt.Fprintf(out, "  %s: %s\n", name, strings.Join(rs, "; "))
	}
}

func stagesString(stages []Stage) string {
	var parts []string
	for _, s := range stages {
		parts = append(parts, fmt.Sprintf("%s:%g", s.Duration, s.Target))
	}
	return strings.Join(parts, ",")
}

func perKind(m map[string]int) string {
	var parts []string
	for _, k := range []string{"TransactWriteItems", "GetItem", "Query", "PutItem", "UpdateItem", "Scan"} {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// waitTimeout waits for wg at most d; false if it timed out.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

func init() {
	for i, name := range Steps {
		fn, ok := stepFunction[i]
		if !ok || name == "" {
			panic(fmt.Sprintf("load: step %d (%q) has no function", i, name))
		}
		r, ok := routes.ByFunction(fn)
		if !ok {
			panic(fmt.Sprintf("load: step %q: no route for %s", name, fn))
		}
		stepRoute[name] = r.Method + " " + r.Path
	}
}
