package httpapi

// Due jobs. Every one-minute job over the due index (sprinkle reclaim,
// pending transfers, order expiry and reserve release, settlements,
// webhook events) has one shape, DueJob: the scheduled run reads the clock
// once and takes its due items oldest first within DueBudget, one at a
// time. That serial pass handles a few hundred items a minute; a busy
// service makes more (an order's every change is a webhook event). So a
// run the budget stopped hands its backlog on: one DueMessage per bucket
// it left (ddb.DueRun.Left) to the due-work queue, whose worker (DueWorker)
// drains that one bucket for DueWorkerBudget and sends itself again until
// the bucket is caught up: up to the queue's MaxConcurrency buckets at
// once, each for up to a minute.
//
// One chain per bucket: a worker takes the bucket's lease (ddb.TakeLease;
// a job's leases share the partition DUELEASE#<job>), so the next
// minute's backlog message, or a message delivered twice, finds it held
// and does nothing; and the scheduled run leaves leased buckets to their
// workers (one Query of the job's leases). The lease is an optimization:
// every item's work is a transaction conditioned on the state it changes,
// so two runs of one item never do it twice.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"minipay/shared/edge/routes"
	"minipay/shared/kernel/ddb"
)

// DueBudget bounds one run of a job's pass over its due items: the rest of
// the function's timeout (routes.FunctionTimeout, 10 s) is left for the
// item in hand and the summary. What the budget cuts stays due; the
// due-work queue's workers take it on (a bucket at a time), or, with no
// queue wired, the next run resumes it.
const DueBudget = 7 * time.Second

// DueQueue is the work queue that takes the due jobs' backlogs
// (routes.Queues).
const DueQueue = "due-work"

// DueWorkerBudget bounds a due worker's pass over one bucket (its timeout
// is routes.TimeoutOf("due-worker"), a minute); the worker sends the
// bucket's continuation when the budget ends first.
var DueWorkerBudget = 40 * time.Second

// DueLeaseFor is how long a take of a bucket's lease holds it: more than a
// worker's timeout plus the time its continuation waits in the queue.
const DueLeaseFor = 2 * time.Minute

// DueJob is the one shape of a scheduled job over the due index: read the
// clock once, run the job's passes over its due items within DueBudget,
// hand the buckets the budget left to the due-work queue, log one summary
// line and return the summary, failing the invocation when a read failed
// or any item did (the items stay due for the next run). S is the job's
// summary, what the function returns; it is also the run's own state
// (a cache of what one run reads), as every run and worker pass starts
// with a zero S.
type DueJob[S any] struct {
	Services Services // what its runs and workers use
	// Name is the log message and the prefix of the invocation's error
	// ("sprinkle reclaim").
	Name string
	// Passes run one after another within DueBudget: a pass runs only when
	// the one before it read all its items and left time. The run that
	// results counts every pass's items; it is done when the last is.
	Passes []DuePass[S]
	// Tally records more of the run in the summary than DueTally does
	// (which the run fills itself when S embeds it); may be nil.
	Tally func(sum *S, run ddb.DueRun)
	// Counts are the summary's log attributes (key, value, ...), logged
	// between "due" and "done".
	Counts func(sum *S) []any
}

// DueTally is the part of every due job's summary the skeleton fills:
// embed it, and a run's summary carries how many items were due and
// whether the run finished them.
type DueTally struct {
	Due  int  `json:"due"`
	Done bool `json:"done"` // false: the time budget ended the run; the next resumes
}

func (t *DueTally) tally(run ddb.DueRun) { t.Due, t.Done = run.Seen, run.Done }

// tallied is a summary that embeds DueTally.
type tallied interface{ tally(ddb.DueRun) }

// DuePass is one pass of a DueJob: every item of Kinds due at or before
// the run's now, handed to Each one at a time.
type DuePass[S any] struct {
	Kinds []string // the buckets (a ddb.DueKind's Kinds())
	Fetch bool     // hand Each the item itself (ddb.DueWork.Fetch)
	// Parallel is how many of one bucket's items a due worker takes at
	// once (0 or 1: one at a time; the scheduled run always takes one at
	// a time; config.Config.DueParallel caps it). Each call then gets a
	// summary of its own (one per slot),
	// so Each need not guard it; the items must be independent (no two
	// contend for one item or account).
	Parallel int
	// Each does one item's work, counting into sum; an error leaves the
	// item due and fails the run.
	Each func(ctx context.Context, item ddb.Item, now time.Time, sum *S) error
}

// DueMessage is one bucket of a due job's backlog, a message of the
// due-work queue.
type DueMessage struct {
	Job    string `json:"job"`             // the schedule (routes.Schedules' Name)
	Bucket string `json:"bucket"`          // one of its passes' Kinds ("order#07")
	After  string `json:"after,omitempty"` // the bucket's cursor: a continuation resumes after it
	// Lease and Gen: a continuation's chain and the generation of the
	// bucket's lease it holds ("" and 0: a new chain).
	Lease string `json:"lease,omitempty"`
	Gen   int64  `json:"gen,omitempty"`
}

// Handler is the job's scheduled handler.
func (j DueJob[S]) Handler() func(context.Context, routes.ScheduledEvent) (S, error) {
	d := j.Services
	return func(ctx context.Context, ev routes.ScheduledEvent) (S, error) {
		var sum S
		passes := j.Passes
		overflow := d.Queue != nil && ev.Job != ""
		if overflow {
			held, err := d.Table.HeldLeases(ctx, dueLeasePK(ev.Job))
			if err != nil {
				return sum, fmt.Errorf("%s: %w", j.Name, err)
			}
			passes = withoutBuckets(passes, held)
		}
		run, err := runPasses(ctx, d.Table, passes, d.Clock.Now(), &sum)
		if t, ok := any(&sum).(tallied); ok {
			t.tally(run)
		}
		if j.Tally != nil {
			j.Tally(&sum, run)
		}
		handed := 0
		var serr error
		if overflow && err == nil {
			handed, serr = handOn(ctx, d, ev.Job, run.Left)
		}
		attrs := []any{"job", ev.Job, "scheduledTime", ev.ScheduledTime, "due", run.Seen}
		attrs = append(attrs, j.Counts(&sum)...)
		d.Log.InfoContext(ctx, j.Name, append(attrs, "done", run.Done, "handedOn", handed, "errors", run.Failed)...)
		if err = errors.Join(err, serr, run.Err()); err != nil {
			return sum, fmt.Errorf("%s: %w", j.Name, err)
		}
		return sum, nil
	}
}

// withoutBuckets are passes without the held buckets (a pass left with
// none is dropped).
func withoutBuckets[S any](passes []DuePass[S], held map[string]bool) []DuePass[S] {
	if len(held) == 0 {
		return passes
	}
	var out []DuePass[S]
	for _, p := range passes {
		p.Kinds = slices.DeleteFunc(slices.Clone(p.Kinds), func(k string) bool { return held[k] })
		if len(p.Kinds) > 0 {
			out = append(out, p)
		}
	}
	return out
}

// handOn sends one new chain's message per bucket to the due-work queue.
func handOn(ctx context.Context, d Services, job string, buckets []string) (int, error) {
	var errs []error
	sent := 0
	for _, b := range buckets {
		body, _ := json.Marshal(DueMessage{Job: job, Bucket: b})
		if err := d.Queue.Send(ctx, DueQueue, string(body)); err != nil {
			errs = append(errs, fmt.Errorf("hand on %s: %w", b, err))
			continue
		}
		sent++
	}
	return sent, errors.Join(errs...)
}

// runPasses runs passes in order within DueBudget, each after the one
// before it finished without a read error, and adds up what they did. A
// run the budget stopped leaves (Left) the buckets of its stopped pass
// and of every pass after it.
func runPasses[S any](ctx context.Context, t *ddb.Table, passes []DuePass[S], now time.Time, sum *S) (ddb.DueRun, error) {
	started := time.Now()
	run := ddb.DueRun{Done: true}
	for i, p := range passes {
		budget := DueBudget - time.Since(started)
		if i > 0 && budget <= 0 {
			run.Done = false
			for _, rest := range passes[i:] {
				run.Left = append(run.Left, rest.Kinds...)
			}
			break
		}
		w := ddb.DueWork{Kinds: p.Kinds, Until: now, Budget: budget, Fetch: p.Fetch}
		each := p.Each
		r, err := t.ForEachDue(ctx, w, func(ctx context.Context, item ddb.Item) error {
			return each(ctx, item, now, sum)
		})
		run.Seen += r.Seen
		run.Done = r.Done
		run.Failed += r.Failed
		run.Errs = append(run.Errs, r.Errs...)
		run.Left = append(run.Left, r.Left...)
		if err != nil {
			return run, err
		}
		if !r.Done {
			for _, rest := range passes[i+1:] {
				run.Left = append(run.Left, rest.Kinds...)
			}
			return run, nil
		}
	}
	return run, nil
}

// BucketWork is a due job's work on one message of the due-work queue
// (DueJob.Bucket): the continuation to send, nil when the bucket is caught
// up or another chain holds it.
type BucketWork func(ctx context.Context, m DueMessage) (*DueMessage, error)

func dueLeasePK(job string) string { return "DUELEASE#" + job }

// Bucket is the job's work on one bucket of its backlog: take the bucket's
// lease, take its due items from the message's cursor for
// DueWorkerBudget, and return the continuation if items are left. A
// failed item stays due (the scheduled run takes it again); a failed read
// fails the message, which the queue delivers again.
func (j DueJob[S]) Bucket() BucketWork {
	d := j.Services
	return func(ctx context.Context, m DueMessage) (*DueMessage, error) {
		i := slices.IndexFunc(j.Passes, func(p DuePass[S]) bool { return slices.Contains(p.Kinds, m.Bucket) })
		if i < 0 {
			return nil, fmt.Errorf("%s: no bucket %q", j.Name, m.Bucket)
		}
		key := ddb.Key(dueLeasePK(m.Job), m.Bucket)
		holder := m.Lease
		if holder == "" {
			holder = ddb.RandomString(16)
		}
		gen, ok, err := d.Table.TakeLease(ctx, key, holder, m.Gen, DueLeaseFor)
		if err != nil || !ok {
			if err == nil {
				d.Log.InfoContext(ctx, j.Name+": bucket held", "job", m.Job, "bucket", m.Bucket)
			}
			return nil, err
		}
		p, now := j.Passes[i], d.Clock.Now()
		if c := d.Config.DueParallel; c > 0 {
			p.Parallel = min(p.Parallel, c)
		}
		sums := make([]S, max(p.Parallel, 1))
		free := make(chan *S, len(sums)) // a summary per item in flight
		for k := range sums {
			free <- &sums[k]
		}
		w := ddb.DueWork{Kind: m.Bucket, Until: now, Budget: DueWorkerBudget, Fetch: p.Fetch, After: m.After, Parallel: p.Parallel}
		run, err := d.Table.ForEachDue(ctx, w, func(ctx context.Context, item ddb.Item) error {
			sum := <-free
			defer func() { free <- sum }()
			return p.Each(ctx, item, now, sum)
		})
		var counts []any
		for k := range sums {
			counts = addCounts(counts, j.Counts(&sums[k]))
		}
		attrs := append([]any{"job", m.Job, "bucket", m.Bucket, "due", run.Seen}, counts...)
		d.Log.InfoContext(ctx, j.Name+": bucket", append(attrs, "done", run.Done, "errors", run.Failed)...)
		if run.Failed > 0 {
			d.Log.WarnContext(ctx, j.Name+": items left due", "bucket", m.Bucket, "error", run.Err().Error())
		}
		if err != nil || run.Done {
			return nil, errors.Join(err, d.Table.ReleaseLease(ctx, key, holder, gen))
		}
		if gen, ok, err = d.Table.TakeLease(ctx, key, holder, gen, DueLeaseFor); err != nil || !ok {
			return nil, err // !ok: it lapsed and another chain took it over
		}
		next := m
		next.After, next.Lease, next.Gen = run.Cursor, holder, gen
		return &next, nil
	}
}

// addCounts adds the int and int64 values of b (Counts' key, value, ...)
// to a's by position: one log line for a worker's summaries.
func addCounts(a, b []any) []any {
	if a == nil {
		return slices.Clone(b)
	}
	for k := 1; k < len(a) && k < len(b); k += 2 {
		switch v := a[k].(type) {
		case int:
			a[k] = v + b[k].(int)
		case int64:
			a[k] = v + b[k].(int64)
		}
	}
	return a
}

// DueWorkRun is what a due worker's invocation did.
type DueWorkRun struct {
	Messages  int `json:"messages"`
	Continued int `json:"continued"` // continuations sent
}

// DueWorker is the due-work queue's worker: each message goes to its job's
// BucketWork (jobs, by schedule name), and a continuation is sent back to
// the queue at once. An error makes the queue deliver the message again
// (its items stay due); after routes.Queues' MaxReceives it goes to the
// dead-letter queue.
func DueWorker(d Services, jobs map[string]BucketWork) func(context.Context, events.SQSEvent) (DueWorkRun, error) {
	return func(ctx context.Context, ev events.SQSEvent) (DueWorkRun, error) {
		var out DueWorkRun
		var errs []error
		for _, rec := range ev.Records {
			out.Messages++
			var m DueMessage
			if err := json.Unmarshal([]byte(rec.Body), &m); err != nil {
				errs = append(errs, fmt.Errorf("message %s: %w", rec.MessageId, err))
				continue
			}
			work, ok := jobs[m.Job]
			if !ok {
				errs = append(errs, fmt.Errorf("message %s: no due job %q", rec.MessageId, m.Job))
				continue
			}
			next, err := work(ctx, m)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", m.Job, m.Bucket, err))
				continue
			}
			if next == nil {
				continue
			}
			if d.Queue == nil {
				errs = append(errs, fmt.Errorf("%s %s: not done and no queue to continue on", m.Job, m.Bucket))
				continue
			}
			body, _ := json.Marshal(next)
			if err := d.Queue.Send(ctx, DueQueue, string(body)); err != nil {
				errs = append(errs, fmt.Errorf("%s %s: continue: %w", m.Job, m.Bucket, err))
				continue
			}
			out.Continued++
		}
		return out, errors.Join(errs...)
	}
}
