package ledger

import (
	"errors"
	"time"

	"minipay/shared/kernel/money"
)

// Charges from a user's bank: the money that enters minipay. A charge is a
// movement from the user's bank shard (an outside account) into their main
// account, counted against the day's limit (ChargeLimit) in the same
// transaction.
const (
	TypeCharge = "charge"
	LabelBank  = "bank"
)

// BankCharge is the movement of a charge of amount into the user's main account.
func BankCharge(userID, id string, amount int64, at time.Time, memo string) Movement {
	return Movement{ID: id, Type: TypeCharge, Amount: amount, At: at, Memo: memo,
		From: ExternalAccount(userID), FromLabel: LabelBank,
		To: MainAccount(userID), ToKind: KindMain, ToLabel: userID}
}

// AutoCharge is the automatic charge a payment from a user's main account
// carries when the balance is short: Amount won (0: none) from the user's
// bank, in whole steps of money.AutoChargeStep, as the movement ID.
// PaymentIDs makes one; NextAutoCharge reads the next from a refusal;
// tx.DebitWithAutoCharge and tx.HoldWithAutoCharge add it.
type AutoCharge struct {
	ID     string
	Amount int64
}

// PaymentIDs are the movement id of a payment at `at` and its automatic
// charge of charge won (0: none, and no id). The charge's id is the
// smaller, so history (newest first) shows the payment above the charge
// that paid for it.
func PaymentIDs(at time.Time, charge int64) (string, AutoCharge) {
	if charge <= 0 {
		return NewMovementID(at), AutoCharge{}
	}
	first, second := TwoMovementIDs(at)
	return second, AutoCharge{ID: first, Amount: charge}
}

// DebitWithAutoCharge adds m, a payment from a user's main account
// (m.From), with its automatic charge c: none (c.Amount 0) is tx.Move(m);
// otherwise the bank charge of c.Amount ("automatic charge for " +
// purpose) and m as ONE update of the main account, exact at commit
// (MoveWithTopUp), then the charge on the user's daily limit. The limit
// comes after the money, so a charge that went stale is refused as stale
// (and the next one is computed from the fresh balance) before a limit it
// may not need refuses it.
func (tx *Tx) DebitWithAutoCharge(m Movement, c AutoCharge, purpose string) {
	c.add(tx, m.From, m.At, purpose, func() { tx.Move(m) }, func(t TopUp) { tx.MoveWithTopUp(m, t) })
}

// HoldWithAutoCharge is DebitWithAutoCharge for a hold on a user's main
// account (h.Debit): tx.Hold(h), or HoldWithTopUp and the charge on the
// daily limit.
func (tx *Tx) HoldWithAutoCharge(h Hold, c AutoCharge, purpose string) {
	c.add(tx, h.Debit, h.CreatedAt, purpose, func() { tx.Hold(h) }, func(t TopUp) { tx.HoldWithTopUp(h, t) })
}

// add adds to tx what debits the main account a: plain without a charge,
// else withTopUp with c's top-up and then c on a's owner's daily limit.
func (c AutoCharge) add(tx *Tx, a AccountRef, at time.Time, purpose string, plain func(), withTopUp func(TopUp)) {
	if c.Amount == 0 {
		plain()
		return
	}
	withTopUp(c.topUp(a, at, purpose))
	tx.ChargeLimit(a.Owner, at, c.Amount, money.DailyChargeLimit)
}

// topUp is c as the top-up of the main account a.
func (c AutoCharge) topUp(a AccountRef, at time.Time, purpose string) TopUp {
	return TopUp{Movement: BankCharge(a.Owner, c.ID, c.Amount, at, "automatic charge for "+purpose), Step: money.AutoChargeStep}
}

// NextAutoCharge reads a refused payment of amount from a main account:
// the automatic charge that covers it from the balance the refusal saw (0:
// the balance covers it now; try without). ok is false for any other
// refusal, which stands.
func NextAutoCharge(err error, amount int64) (charge int64, ok bool) {
	var short *InsufficientFundsError
	var stale *TopUpStaleError
	switch {
	case errors.As(err, &short):
		return TopUpFor(amount, short.Available, money.AutoChargeStep), true
	case errors.As(err, &stale):
		return TopUpFor(amount, stale.Available, money.AutoChargeStep), true
	}
	return 0, false
}
