package emulator

import (
	"context"
	"errors"
	"time"
)

// Sweeper deletes items whose TTL attribute (expiresAt, epoch seconds) has
// passed, returning how many it deleted. *store.Store is one: only the store
// talks to DynamoDB.
type Sweeper interface {
	SweepExpired(ctx context.Context) (int, error)
}

// DefaultSweepEvery is how often the local stack sweeps. The cloud deletes
// expired items "within a few days"; reads already filter them, so the
// interval only bounds how long dead items linger locally.
const DefaultSweepEvery = time.Minute

// Sweep deletes the expired items once.
func (e *Emulator) Sweep(ctx context.Context) (int, error) {
	if e.cfg.Sweeper == nil {
		return 0, errors.New("emulator: no Sweeper configured")
	}
	n, err := e.cfg.Sweeper.SweepExpired(ctx)
	e.stats.swept.Add(int64(n))
	return n, err
}

// RunSweeper sweeps every interval (a real ticker) until ctx ends, logging
// what it deleted.
func (e *Emulator) RunSweeper(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = DefaultSweepEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := e.Sweep(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				e.log.ErrorContext(ctx, "emulator: ttl sweep failed", "deleted", n, "error", err.Error())
			case n > 0:
				e.log.InfoContext(ctx, "emulator: ttl sweep", "deleted", n)
			}
		}
	}
}
