package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"minipay/shared/edge/routes"
)

// DefaultJobTimeout is how long a scheduled run may take (Lambda's maximum).
const DefaultJobTimeout = 15 * time.Minute

// ScheduledEvent is routes.ScheduledEvent, kept here for the emulator's callers.
type ScheduledEvent = routes.ScheduledEvent

// Run is one fired job.
type Run struct {
	Job      string
	Function string
	At       time.Time // the slot it ran for (its scheduledTime)
	Output   []byte
	Err      error
}

// Fire runs the named job once now, for the slot at, whatever the
// schedule says; it does not touch Tick's bookkeeping.
func (e *Emulator) Fire(ctx context.Context, name string, at time.Time) (Run, error) {
	for _, s := range e.schedules {
		if s.Name == name {
			r := e.fire(ctx, s, at)
			return r, r.Err
		}
	}
	return Run{}, fmt.Errorf("emulator: no schedule named %q", name)
}

// Tick fires every slot of every schedule that falls in (last tick, now],
// oldest first, catching up missed runs (at most Config.MaxCatchUp per
// schedule: the oldest beyond that are skipped with a warning). A slot is
// never fired twice: a now at or before the last tick fires nothing. The
// first tick counts from the clock's time when the Emulator was built.
// Runs are sequential; a failed run is logged and not retried.
func (e *Emulator) Tick(ctx context.Context, now time.Time) []Run {
	e.schedMu.Lock()
	defer e.schedMu.Unlock()
	if !now.After(e.lastTick) {
		return nil
	}
	from := e.lastTick
	e.lastTick = now

	type slot struct {
		index int
		at    time.Time
	}
	var due []slot
	for i, s := range e.schedules {
		var slots []time.Time
		skipped := 0
		t, err := s.Next(from)
		for err == nil && !t.After(now) {
			slots = append(slots, t)
			if len(slots) > 2*e.cfg.MaxCatchUp { // keep memory bounded over long gaps
				skipped += len(slots) - e.cfg.MaxCatchUp
				slots = append(slots[:0], slots[len(slots)-e.cfg.MaxCatchUp:]...)
			}
			t, err = s.Next(t)
		}
		if err != nil {
			e.log.ErrorContext(ctx, "emulator: schedule", "job", s.Name, "error", err.Error())
			continue
		}
		if n := len(slots) - e.cfg.MaxCatchUp; n > 0 {
			skipped += n
			slots = slots[n:]
		}
		if skipped > 0 {
			e.log.WarnContext(ctx, "emulator: too many missed runs; skipping the oldest", "job", s.Name,
				"skipped", skipped, "firing", len(slots), "since", from.UTC().Format(time.RFC3339))
		}
		for _, at := range slots {
			due = append(due, slot{i, at})
		}
	}
	sort.SliceStable(due, func(a, b int) bool {
		if !due[a].at.Equal(due[b].at) {
			return due[a].at.Before(due[b].at)
		}
		return due[a].index < due[b].index
	})
	runs := make([]Run, 0, len(due))
	for _, d := range due {
		runs = append(runs, e.fire(ctx, e.schedules[d.index], d.at))
	}
	return runs
}

func (e *Emulator) fire(ctx context.Context, s routes.Schedule, at time.Time) Run {
	run := Run{Job: s.Name, Function: s.Function, At: at}
	payload, err := json.Marshal(ScheduledEvent{Job: s.Name, ScheduledTime: at.UTC().Format(time.RFC3339)})
	if err != nil {
		run.Err = err
		return run
	}
	e.stats.scheduled.Add(1)
	start := time.Now()
	jctx, cancel := context.WithTimeout(ctx, DefaultJobTimeout)
	defer cancel()
	run.Output, run.Err = e.invoke(jctx, s.Function, e.functions[s.Function], payload)
	// The work the job fanned out finishes before the next job fires; each
	// delivery has its worker's own timeout, not the job's.
	e.DrainQueues(ctx)
	attrs := []any{"job", s.Name, "function", s.Function, "scheduledTime", at.UTC().Format(time.RFC3339),
		"ms", time.Since(start).Milliseconds()}
	if run.Err != nil {
		e.stats.scheduledFailed.Add(1)
		e.log.ErrorContext(ctx, "emulator: scheduled run failed", append(attrs, "error", run.Err.Error())...)
	} else {
		e.log.InfoContext(ctx, "emulator: scheduled run", append(attrs, "response", truncate(run.Output, 200))...)
	}
	return run
}

// RunSchedules calls Tick with the emulator clock's time on a real ticker
// (Config.TickEvery) until ctx ends.
func (e *Emulator) RunSchedules(ctx context.Context) {
	now := e.clock.Now()
	for _, s := range e.schedules {
		expr, _ := s.Expression()
		next, _ := s.Next(now)
		e.log.InfoContext(ctx, "emulator: schedule", "job", s.Name, "function", s.Function, "expression", expr,
			"timeZone", s.TimeZone, "next", next.Format(time.RFC3339))
	}
	t := time.NewTicker(e.cfg.TickEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.Tick(ctx, e.clock.Now())
		}
	}
}
