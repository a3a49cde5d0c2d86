package ledger

import (
	"context"
	"time"
)

// FoldForTest is the fold worker's loop without the lease: what two
// workers of one account would do if the lease did not keep them apart.
func (l *Ledger) FoldForTest(ctx context.Context, a AccountRef, budget time.Duration) (FoldHotRun, bool, error) {
	var run FoldHotRun
	more, err := l.foldFor(ctx, a, budget, &run)
	return run, more, err
}
