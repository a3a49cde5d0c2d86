package ledger_test

import (
	"errors"
	"testing"

	"minipay/localstack/ddbtest"
	"minipay/shared/kernel/ledger"
)

// A top-up and a payment from the same account go in one transaction with
// one update of that account (two would be a ValidationException), and the
// top-up must be exactly the one the balance needs at commit.
func TestMoveWithTopUp(t *testing.T) {
	e := ddbtest.New(t)
	now := e.Clock.Now()
	kim := register(t, e, "Kim")
	lee := register(t, e, "Lee")
	if err := e.Ledger.Commit(ctx, charge(kim.ID, 3_000, now)); err != nil {
		t.Fatal(err)
	}
	build := func(pay, topUp int64) *ledger.Tx {
		tx := &ledger.Tx{}
		first, second := ledger.TwoMovementIDs(now)
		tx.MoveWithTopUp(
			ledger.Movement{ID: second, Type: "transfer", Amount: pay, At: now,
				From: ledger.MainAccount(kim.ID), FromKind: ledger.KindMain, To: ledger.MainAccount(lee.ID), ToKind: ledger.KindMain},
			ledger.TopUp{Movement: ledger.BankCharge(kim.ID, first, topUp, now, "auto"), Step: 10_000})
		return tx
	}
	tests := []struct {
		name          string
		pay, topUp    int64
		wantAvailable int64 // in the stale signal; -1: commits
	}{
		{"a top-up larger than the shortfall needs is stale", 10_000, 20_000, 3_000},
		{"a top-up smaller than the shortfall needs is stale", 14_000, 10_000, 3_000},
		{"the exact top-up commits", 10_000, 10_000, -1},
		{"one won more needs another step", 13_001, 10_000, 3_000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := e.Ledger.Commit(ctx, build(tc.pay, tc.topUp))
			var stale *ledger.TopUpStaleError
			switch {
			case tc.wantAvailable < 0 && err != nil:
				t.Fatal(err)
			case tc.wantAvailable >= 0 && (!errors.As(err, &stale) || stale.Available != tc.wantAvailable):
				t.Fatalf("got %v, want a stale top-up seeing %d", err, tc.wantAvailable)
			}
			if charge, ok := ledger.NextAutoCharge(err, tc.pay); tc.wantAvailable >= 0 && (!ok || charge != ledger.TopUpFor(tc.pay, tc.wantAvailable, 10_000)) {
				t.Fatalf("next charge %d %v", charge, ok)
			}
		})
	}
	if got := balance(t, e, ledger.MainAccount(kim.ID)); got != 3_000 {
		t.Fatalf("kim %d, want 3,000 (3,000 + 10,000 - 10,000)", got)
	}
	if got := balance(t, e, ledger.MainAccount(lee.ID)); got != 10_000 {
		t.Fatalf("lee %d", got)
	}
	for name, tx := range map[string]*ledger.Tx{
		"into another account": func() *ledger.Tx {
			tx := &ledger.Tx{}
			tx.MoveWithTopUp(ledger.Movement{ID: "a", Type: "t", At: now, From: ledger.MainAccount(kim.ID), To: ledger.MainAccount(lee.ID), Amount: 1},
				ledger.TopUp{Movement: ledger.BankCharge(lee.ID, "b", 10_000, now, ""), Step: 10_000})
			return tx
		}(),
		"not whole steps": func() *ledger.Tx {
			tx := &ledger.Tx{}
			tx.MoveWithTopUp(ledger.Movement{ID: "a", Type: "t", At: now, From: ledger.MainAccount(kim.ID), To: ledger.MainAccount(lee.ID), Amount: 1},
				ledger.TopUp{Movement: ledger.BankCharge(kim.ID, "b", 6_000, now, ""), Step: 10_000})
			return tx
		}(),
	} {
		if err := e.Ledger.Commit(ctx, tx); err == nil {
			t.Fatalf("a top-up %s was accepted", name)
		}
	}
}

func TestTopUpFor(t *testing.T) {
	for _, tc := range []struct{ amount, available, want int64 }{
		{10_000, 3_000, 10_000}, {10_000, 0, 10_000}, {10_001, 0, 20_000}, {1_495_000, 0, 1_500_000},
		{1_495_000, 5_000, 1_490_000}, {5_000, 5_000, 0}, {5_000, 9_000, 0}, {1, 0, 10_000},
	} {
		if got := ledger.TopUpFor(tc.amount, tc.available, 10_000); got != tc.want {
			t.Errorf("TopUpFor(%d, %d) = %d, want %d", tc.amount, tc.available, got, tc.want)
		}
	}
}

// More than the whole limit is refused even as the day's first charge,
// with what is left today.
func TestChargeLimitAboveTheLimitOnAFreshDay(t *testing.T) {
	e := ddbtest.New(t)
	kim := register(t, e, "Kim")
	err := e.Ledger.Commit(ctx, charge(kim.ID, 3_000_001, e.Clock.Now()))
	var limit *ledger.LimitExceededError
	if !errors.As(err, &limit) || limit.Remaining != 3_000_000 {
		t.Fatalf("got %v", err)
	}
}
