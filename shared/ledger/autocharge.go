package ledger

import (
	"errors"
	"time"

	"minipay/shared/money"
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

// AutoCharge is the automatic top-up of a payment from a main account:
// a bank charge of amount in steps of money.AutoChargeStep. Add it with
// MoveWithTopUp or HoldWithTopUp, and its ChargeLimit.
func AutoCharge(userID, id string, amount int64, at time.Time, memo string) TopUp {
	return TopUp{Movement: BankCharge(userID, id, amount, at, memo), Step: money.AutoChargeStep}
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
