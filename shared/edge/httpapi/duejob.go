package httpapi

import (
	"context"
	"fmt"
	"time"

	"minipay/shared/edge/routes"
	"minipay/shared/kernel/ddb"
)

// DueBudget bounds one run of a job's pass over its due items: the rest of
// the function's timeout (routes.FunctionTimeout, 10 s) is left for the
// item in hand and the summary. What the budget cuts stays due; the next
// run resumes it.
const DueBudget = 7 * time.Second

// DueJob is the one shape of a scheduled job over the due index: read the
// clock once, run the job's budgeted pass (or passes) over its due items,
// log one summary line and return the summary, failing the invocation when
// the read failed or any item did (the items stay due for the next run).
// S is the job's summary, what the function returns.
//
// A job states its passes (the due kinds and the step for one item), or,
// when a run needs state of its own, writes the whole Pass.
type DueJob[S any] struct {
	// Name is the log message and the prefix of the invocation's error
	// ("sprinkle reclaim").
	Name string
	// Passes run one after another within DueBudget: a pass runs only when
	// the one before it read all its items and left time. The run that
	// results counts every pass's items; it is done when the last is.
	Passes []DuePass[S]
	// Pass, instead of Passes, does the work due at or before now
	// (d.Table.ForEachDue with the job's kinds and budget), counting into
	// sum; it returns what the pass(es) did.
	Pass func(ctx context.Context, now time.Time, sum *S) (ddb.DueRun, error)
	// Tally records the run in the summary (its due count, done).
	Tally func(sum *S, run ddb.DueRun)
	// Counts are the summary's log attributes (key, value, ...), logged
	// between "due" and "done".
	Counts func(sum *S) []any
}

// DuePass is one pass of a DueJob: every item of Kinds due at or before
// the run's now, handed to Each one at a time.
type DuePass[S any] struct {
	Kinds []string // the buckets (a ddb.DueKind's Kinds())
	Fetch bool     // hand Each the item itself (ddb.DueWork.Fetch)
	// Each does one item's work, counting into sum; an error leaves the
	// item due and fails the run.
	Each func(ctx context.Context, item ddb.Item, now time.Time, sum *S) error
}

// Handler is the job's scheduled handler.
func (j DueJob[S]) Handler(d Services) func(context.Context, routes.ScheduledEvent) (S, error) {
	pass := j.Pass
	if pass == nil {
		pass = func(ctx context.Context, now time.Time, sum *S) (ddb.DueRun, error) {
			return runPasses(ctx, d.Table, j.Passes, now, sum)
		}
	}
	return func(ctx context.Context, ev routes.ScheduledEvent) (S, error) {
		var sum S
		run, err := pass(ctx, d.Clock.Now(), &sum)
		if j.Tally != nil {
			j.Tally(&sum, run)
		}
		attrs := []any{"job", ev.Job, "scheduledTime", ev.ScheduledTime, "due", run.Seen}
		attrs = append(attrs, j.Counts(&sum)...)
		d.Log.InfoContext(ctx, j.Name, append(attrs, "done", run.Done, "errors", run.Failed)...)
		if err != nil {
			return sum, err
		}
		if err := run.Err(); err != nil {
			return sum, fmt.Errorf("%s: %w", j.Name, err)
		}
		return sum, nil
	}
}

// runPasses runs passes in order within DueBudget, each after the one
// before it finished without a read error, and adds up what they did.
func runPasses[S any](ctx context.Context, t *ddb.Table, passes []DuePass[S], now time.Time, sum *S) (ddb.DueRun, error) {
	started := time.Now()
	var run ddb.DueRun
	for i, p := range passes {
		budget := DueBudget
		if i > 0 {
			if budget -= time.Since(started); budget <= 0 {
				run.Done = false
				break
			}
		}
		w := ddb.DueWork{Kinds: p.Kinds, Until: now, Budget: budget, Fetch: p.Fetch}
		each := p.Each
		r, err := t.ForEachDue(ctx, w, func(ctx context.Context, item ddb.Item) error {
			return each(ctx, item, now, sum)
		})
		if i == 0 {
			run = r
		} else {
			run.Seen += r.Seen
			run.Done = r.Done
			run.Failed += r.Failed
			run.Errs = append(run.Errs, r.Errs...)
		}
		if err != nil || !r.Done {
			return run, err
		}
	}
	return run, nil
}
