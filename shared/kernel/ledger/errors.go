package ledger

import (
	"fmt"

	"minipay/shared/kernel/domainerr"
)

// Refusals.
var (
	ErrAccountNotFound = domainerr.New("account_not_found")
	ErrSameAccount     = domainerr.New("same_account")
	ErrHoldNotFound    = domainerr.New("hold_not_found")
	ErrHoldPosted      = domainerr.New("hold_already_posted")
	ErrHoldVoided      = domainerr.New("hold_already_voided")
	ErrHoldExpired     = domainerr.New("hold_expired")
	ErrIdemKeyReused   = domainerr.New("idempotency_key_reused")
	ErrIdemInFlight    = domainerr.New("idempotency_key_in_use")
	// Sentinels of the typed errors below, for errors.Is.
	ErrInsufficientFunds = domainerr.New("insufficient_funds")
	ErrLimitExceeded     = domainerr.New("daily_limit_exceeded")
	ErrWrongKind         = domainerr.New("wrong_account_kind")
	ErrBusy              = domainerr.New("contention")
)

// InsufficientFundsError: the account's available balance did not cover
// the amount when the transaction ran.
type InsufficientFundsError struct {
	Account   string
	Available int64
	Needed    int64
}

func (e *InsufficientFundsError) Error() string {
	return fmt.Sprintf("insufficient_funds: account %s has %d won available; %d needed", e.Account, e.Available, e.Needed)
}
func (e *InsufficientFundsError) ErrorCode() string { return ErrInsufficientFunds.Code }
func (e *InsufficientFundsError) Is(t error) bool   { return ErrInsufficientFunds.Is(t) }
func (e *InsufficientFundsError) Members() map[string]any {
	return map[string]any{"available": e.Available}
}
func (e *InsufficientFundsError) DetailText() string {
	return fmt.Sprintf("account %s has %d won available; %d needed", e.Account, e.Available, e.Needed)
}

// LimitExceededError: the day's charge counter would pass the limit.
type LimitExceededError struct {
	Remaining, Limit, Asked int64
}

func (e *LimitExceededError) Error() string { return "daily_limit_exceeded: " + e.DetailText() }
func (e *LimitExceededError) DetailText() string {
	return fmt.Sprintf("%d won can still be charged today (Asia/Seoul); %d asked", e.Remaining, e.Asked)
}
func (e *LimitExceededError) ErrorCode() string { return ErrLimitExceeded.Code }
func (e *LimitExceededError) Is(t error) bool   { return ErrLimitExceeded.Is(t) }
func (e *LimitExceededError) Members() map[string]any {
	return map[string]any{"remainingToday": e.Remaining, "limit": e.Limit}
}

// WrongKindError: the account exists but is not of the kind the operation needs.
type WrongKindError struct {
	Account   string
	Kind      Kind
	Want      Kind
	Operation string // what needed it, e.g. "a charge"; optional
}

func (e *WrongKindError) Error() string { return "wrong_account_kind: " + e.DetailText() }
func (e *WrongKindError) DetailText() string {
	return fmt.Sprintf("account %s is a %s account; this needs a %s account", e.Account, e.Kind, e.Want)
}
func (e *WrongKindError) ErrorCode() string { return ErrWrongKind.Code }
func (e *WrongKindError) Is(t error) bool   { return ErrWrongKind.Is(t) }

// TopUpStaleError is an internal signal, never a refusal: the automatic
// charge was computed from an available balance that changed before the
// commit. Available is the balance the transaction saw; compute the top-up
// again from it (see TopUpFor).
type TopUpStaleError struct {
	Account   string
	Available int64
}

func (e *TopUpStaleError) Error() string {
	return fmt.Sprintf("ledger: account %s now has %d won available; the top-up is stale", e.Account, e.Available)
}

// Transient: if a caller cannot resolve it within its attempts, the client
// is told to retry (503), and nothing is stored.
func (e *TopUpStaleError) Transient() bool { return true }

// busyError is ErrBusy with the hint the edge renders as Retry-After.
type busyError struct{ retryAfter int }

func (e *busyError) Error() string     { return "contention: the account is busy; retry shortly" }
func (e *busyError) ErrorCode() string { return ErrBusy.Code }
func (e *busyError) Is(t error) bool   { return ErrBusy.Is(t) }
func (e *busyError) Transient() bool   { return true }
func (e *busyError) Members() map[string]any {
	return map[string]any{"retryAfterSeconds": e.retryAfter}
}

// Busy is the error of a transaction that kept conflicting.
func Busy() error { return &busyError{retryAfter: 1} }
