package ledger

import (
	"context"

	"minipay/shared/kernel/domainerr"
)

// MaxRebuilds bounds how many transactions one Rebuild tries.
const MaxRebuilds = 16

// Rebuild is the refuse-then-rebuild rite: it commits tx and, while Commit
// refuses, asks next (with the refusal) for the transaction to try
// instead: the payment with the automatic charge the refusal's balance
// needs (NextAutoCharge), the other variant after an internal signal.
// next sees refusals (domain errors) and internal signals (transient
// errors); a fault is returned at once. nil from next lets the refusal
// stand (it is returned); an error replaces it. A refused transaction
// wrote nothing, so each try starts clean. After MaxRebuilds transactions
// the last refusal stands.
func (l *Ledger) Rebuild(ctx context.Context, tx *Tx, next func(ctx context.Context, refusal error) (*Tx, error)) error {
	for attempt := 1; ; attempt++ {
		err := l.Commit(ctx, tx)
		if err == nil || attempt >= MaxRebuilds {
			return err
		}
		if _, refused := domainerr.CodeOf(err); !refused && !domainerr.IsTransient(err) {
			return err // a fault, not a refusal
		}
		again, nerr := next(ctx, err)
		switch {
		case nerr != nil:
			return nerr
		case again == nil:
			return err
		}
		tx = again
	}
}

// CommitWithAutoCharge commits build(c) for a payment of amount from a
// main account: first without an automatic charge, then (Rebuild) with
// the one each insufficient-funds or stale-charge refusal says is due.
// Any other refusal stands.
func (l *Ledger) CommitWithAutoCharge(ctx context.Context, amount int64, build func(charge int64) *Tx) error {
	return l.Rebuild(ctx, build(0), func(_ context.Context, err error) (*Tx, error) {
		if charge, ok := NextAutoCharge(err, amount); ok {
			return build(charge), nil
		}
		return nil, nil
	})
}
