package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"minipay/localstack/ddbtest"
	"minipay/shared/kernel/ledger"
	"minipay/shared/kernel/money"
)

// An automatic charge computed from a balance that has since gone up is
// refused as stale, not by a daily limit it no longer needs: the rebuild
// then pays without a charge. (The capabilities used to put the limit
// first, so the payment was refused 422 although the balance covered it.)
func TestAStaleAutoChargeIsNotRefusedByTheLimit(t *testing.T) {
	e := ddbtest.New(t)
	now := e.Clock.Now()
	kim := register(t, e, "Kim")
	lee := register(t, e, "Lee")
	in := &ledger.Tx{} // 12,000 in place (a posting would look like 0 to the debit's condition)
	m := ledger.BankCharge(kim.ID, ledger.NewMovementID(now), 12_000, now, "")
	m.CreditInPlace = true
	in.Move(m)
	in.ChargeLimit(kim.ID, now, 12_000, money.DailyChargeLimit)
	if err := e.Ledger.Commit(ctx, in); err != nil {
		t.Fatal(err)
	}
	spend := &ledger.Tx{} // the rest of today's limit, but 5,000, is spent
	spend.ChargeLimit(kim.ID, now, money.DailyChargeLimit-12_000-5_000, money.DailyChargeLimit)
	if err := e.Ledger.Commit(ctx, spend); err != nil {
		t.Fatal(err)
	}
	builds := 0
	build := func(c int64) *ledger.Tx {
		builds++
		id, ac := ledger.PaymentIDs(now, c)
		tx := &ledger.Tx{}
		tx.DebitWithAutoCharge(ledger.Movement{ID: id, Type: "transfer", Amount: 10_000, At: now,
			From: ledger.MainAccount(kim.ID), FromKind: ledger.KindMain, To: ledger.MainAccount(lee.ID), ToKind: ledger.KindMain}, ac, "transfer "+id)
		return tx
	}
	// Built when Kim had 3,000: a charge of 10,000, over what is left today.
	err := e.Ledger.Commit(ctx, build(10_000))
	var stale *ledger.TopUpStaleError
	if !errors.As(err, &stale) || stale.Available != 12_000 {
		t.Fatalf("got %v, want a stale charge seeing 12,000", err)
	}
	if c, ok := ledger.NextAutoCharge(err, 10_000); !ok || c != 0 {
		t.Fatalf("next charge %d %v, want none", c, ok)
	}
	builds = 0
	err = e.Ledger.Rebuild(ctx, build(10_000), func(_ context.Context, err error) (*ledger.Tx, error) {
		c, _ := ledger.NextAutoCharge(err, 10_000)
		return build(c), nil
	})
	if err != nil || builds != 2 {
		t.Fatalf("rebuild: %v after %d builds", err, builds)
	}
	if got := balance(t, e, ledger.MainAccount(kim.ID)); got != 2_000 {
		t.Fatalf("kim %d, want 2,000", got)
	}
}

// CommitWithAutoCharge pays a short balance with the charge the refusal
// says is due, counted on the day's limit; a charge the limit does not
// allow stands as the limit's refusal.
func TestCommitWithAutoCharge(t *testing.T) {
	e := ddbtest.New(t)
	now := e.Clock.Now()
	kim := register(t, e, "Kim")
	lee := register(t, e, "Lee")
	if err := e.Ledger.Commit(ctx, charge(kim.ID, 3_000, now)); err != nil {
		t.Fatal(err)
	}
	pay := func(amount int64) (charges []int64, err error) {
		err = e.Ledger.CommitWithAutoCharge(ctx, amount, func(c int64) *ledger.Tx {
			charges = append(charges, c)
			id, ac := ledger.PaymentIDs(now, c)
			tx := &ledger.Tx{}
			tx.HoldWithAutoCharge(ledger.Hold{ID: id, Debit: ledger.MainAccount(kim.ID), DebitKind: ledger.KindMain,
				Credit: ledger.MainAccount(lee.ID), CreditKind: ledger.KindMain, Amount: amount,
				CreatedAt: now, Timeout: now.Add(time.Hour)}, ac, "order "+id)
			return tx
		})
		return charges, err
	}
	charges, err := pay(14_000)
	if err != nil || len(charges) != 2 || charges[0] != 0 || charges[1] != 20_000 {
		t.Fatalf("charges %v: %v", charges, err)
	}
	if got := chargedToday(t, e, kim.ID); got != 23_000 {
		t.Fatalf("charged today %d, want 3,000 + 20,000", got)
	}
	if got := balance(t, e, ledger.MainAccount(kim.ID)); got != 9_000 {
		t.Fatalf("kim available %d, want 3,000 + 20,000 - 14,000", got)
	}
	_, err = pay(money.DailyChargeLimit)
	var limit *ledger.LimitExceededError
	if !errors.As(err, &limit) || limit.Remaining != money.DailyChargeLimit-23_000 {
		t.Fatalf("got %v, want the limit's refusal", err)
	}
}
