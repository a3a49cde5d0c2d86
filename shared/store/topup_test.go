package store_test

import (
	"errors"
	"testing"

	"minipay/shared/problem"
	"minipay/shared/store"
	"minipay/shared/store/storetest"
)

// A top-up and a payment from the same account go in one transaction with
// one update of that account (two would be a ValidationException).
func TestMoveWithTopUp(t *testing.T) {
	e := storetest.New(t)
	now := e.Clock.Now()
	kim := register(t, e.Store, "Kim")
	lee := register(t, e.Store, "Lee")
	if err := e.Store.Commit(ctx, charge(kim.ID, 3_000, now)); err != nil {
		t.Fatal(err)
	}
	build := func(pay, topUp int64) *store.Tx {
		tx := &store.Tx{}
		tx.MoveWithTopUp(
			store.Movement{ID: store.NewMovementID(now), Type: "transfer", Amount: pay, At: now,
				From: store.MainAccount(kim.ID), FromKind: store.KindMain, To: store.MainAccount(lee.ID), ToKind: store.KindMain},
			store.Movement{ID: store.NewMovementID(now), Type: "charge", Amount: topUp, At: now,
				From: store.ExternalAccount(kim.ID), To: store.MainAccount(kim.ID), ToKind: store.KindMain})
		return tx
	}
	// 3,000 + 6,000 does not cover 10,000: refused with what was available.
	err := e.Store.Commit(ctx, build(10_000, 6_000))
	p, ok := problem.As(err)
	if !errors.Is(err, problem.InsufficientFunds) || !ok || p.Extra["available"] != int64(3_000) {
		t.Fatalf("got %v", err)
	}
	// 3,000 + 7,000 covers 10,000 exactly.
	if err := e.Store.Commit(ctx, build(10_000, 7_000)); err != nil {
		t.Fatal(err)
	}
	if got := balance(t, e.Store, store.MainAccount(kim.ID)); got != 0 {
		t.Fatalf("kim %d", got)
	}
	if got := balance(t, e.Store, store.MainAccount(lee.ID)); got != 10_000 {
		t.Fatalf("lee %d", got)
	}
	// A top-up must go into the paying account.
	tx := &store.Tx{}
	tx.MoveWithTopUp(store.Movement{ID: "a", From: store.MainAccount(kim.ID), To: store.MainAccount(lee.ID), Amount: 1},
		store.Movement{ID: "b", From: store.ExternalAccount(kim.ID), To: store.MainAccount(lee.ID), Amount: 1})
	if err := e.Store.Commit(ctx, tx); err == nil {
		t.Fatal("a top-up into another account was accepted")
	}
}

// More than the whole limit is refused even as the day's first charge,
// with what is left today.
func TestChargeLimitAboveTheLimitOnAFreshDay(t *testing.T) {
	e := storetest.New(t)
	kim := register(t, e.Store, "Kim")
	err := e.Store.Commit(ctx, charge(kim.ID, 3_000_001, e.Clock.Now()))
	p, ok := problem.As(err)
	if !errors.Is(err, problem.LimitExceeded) || !ok || p.Extra["remainingToday"] != int64(3_000_000) {
		t.Fatalf("got %v", err)
	}
}
