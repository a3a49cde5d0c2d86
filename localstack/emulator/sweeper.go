package emulator

import (
	"context"
	"errors"
	"math"
	"time"
)

// Sweeper deletes items whose TTL attribute (expiresAt, epoch seconds) has
// passed, returning how many it deleted: one whole pass over the table.
type Sweeper interface {
	SweepExpired(ctx context.Context) (int, error)
}

// StepSweeper is a Sweeper that can also sweep a bounded slice of the
// table, resuming where its last step stopped (ddb.Sweep is one): the local
// stack's sweeper paces it, so the sweep's cost is a small, fixed share of
// DynamoDB Local's time however large the table grows.
type StepSweeper interface {
	Sweeper
	// SweepStep examines at most budget items and deletes the expired ones
	// among them; passDone when it reached the table's end.
	SweepStep(ctx context.Context, budget int) (scanned, deleted int, passDone bool, err error)
}

// DefaultSweepEvery is how often the local stack's sweeper runs a step.
// The cloud deletes expired items "within a few days"; reads already
// filter them, so the pace only bounds how long dead items linger locally.
const DefaultSweepEvery = 5 * time.Second

// SweepRate is the paced sweeper's budget: items examined per second,
// spread over its steps (at DefaultSweepEvery, 500 items a step in pages of
// ddb.SweepPage). A whole-table sweep of 130,000 items took DynamoDB Local
// about 30 s (issue 22), some 4,000 items a second, so the paced sweep
// takes a few per cent of its time whatever the table's size; a pass over
// 130,000 items takes about 22 minutes.
const SweepRate = 100

// fullSweepEvery is the least interval between whole-table sweeps, for a
// Sweeper that cannot step.
const fullSweepEvery = time.Minute

// SweepBudget is the items one step may examine when steps come every
// interval: SweepRate x interval, at least one.
func SweepBudget(every time.Duration) int {
	return max(1, int(math.Ceil(SweepRate*every.Seconds())))
}

// Sweep deletes the expired items once (a whole pass).
func (e *Emulator) Sweep(ctx context.Context) (int, error) {
	if e.cfg.Sweeper == nil {
		return 0, errors.New("emulator: no Sweeper configured")
	}
	n, err := e.cfg.Sweeper.SweepExpired(ctx)
	e.stats.swept.Add(int64(n))
	return n, err
}

// SweepStep runs one paced step of budget items (a whole pass if the
// Sweeper cannot step).
func (e *Emulator) SweepStep(ctx context.Context, budget int) (int, error) {
	ss, ok := e.cfg.Sweeper.(StepSweeper)
	if !ok {
		return e.Sweep(ctx)
	}
	_, n, _, err := ss.SweepStep(ctx, budget)
	e.stats.swept.Add(int64(n))
	return n, err
}

// RunSweeper runs a paced step every interval (a real ticker), each within
// SweepBudget(every), until ctx ends, logging what it deleted. A Sweeper
// that cannot step sweeps the whole table, at most once a minute.
func (e *Emulator) RunSweeper(ctx context.Context, every time.Duration) {
	if e.cfg.Sweeper == nil {
		return
	}
	if every <= 0 {
		every = DefaultSweepEvery
	}
	if _, ok := e.cfg.Sweeper.(StepSweeper); !ok {
		every = max(every, fullSweepEvery)
	}
	budget := SweepBudget(every)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := e.SweepStep(ctx, budget)
			switch {
			case err != nil && ctx.Err() == nil:
				e.log.ErrorContext(ctx, "emulator: ttl sweep failed", "deleted", n, "error", err.Error())
			case n > 0:
				e.log.InfoContext(ctx, "emulator: ttl sweep", "deleted", n)
			}
		}
	}
}
