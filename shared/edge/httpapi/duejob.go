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
type DueJob[S any] struct {
	// Name is the log message and the prefix of the invocation's error
	// ("sprinkle reclaim").
	Name string
	// Pass does the work due at or before now (d.Table.ForEachDue with the
	// job's kinds and budget), counting into sum; it returns what the
	// pass(es) did.
	Pass func(ctx context.Context, now time.Time, sum *S) (ddb.DueRun, error)
	// Counts are the summary's log attributes (key, value, ...), logged
	// between "due" and "done".
	Counts func(sum *S) []any
}

// Handler is the job's scheduled handler.
func (j DueJob[S]) Handler(d Deps) func(context.Context, routes.ScheduledEvent) (S, error) {
	return func(ctx context.Context, ev routes.ScheduledEvent) (S, error) {
		var sum S
		run, err := j.Pass(ctx, d.Clock.Now(), &sum)
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
