// Package money holds the arithmetic of won: whole int64 amounts, the rules
// for what an API amount may be, and rounding. No floating point, no AWS.
package money

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// MaxAmount is the largest amount one request may move: 1,000,000,000,000
// won. Anything larger is a typo or an attack, and the cap keeps every sum
// of a few amounts far from int64 overflow.
const MaxAmount int64 = 1_000_000_000_000

// DailyChargeLimit is how much one user may charge from their bank per
// Asia/Seoul calendar day.
const DailyChargeLimit int64 = 3_000_000

// AutoChargeStep is the unit in which a shortfall is charged automatically.
const AutoChargeStep int64 = 10_000

var (
	ErrNotInteger  = errors.New("must be a whole number of won")
	ErrNotPositive = errors.New("must be greater than zero")
	ErrTooLarge    = fmt.Errorf("must be at most %d won", MaxAmount)
)

// ParseAmount validates an amount as it arrived in JSON. It accepts only a
// JSON integer literal (no fraction, no exponent, no string) in 1..MaxAmount.
func ParseAmount(n json.Number) (int64, error) {
	s := string(n)
	if s == "" || strings.ContainsAny(s, ".eE") {
		return 0, ErrNotInteger
	}
	if strings.HasPrefix(s, "-") {
		return 0, ErrNotPositive
	}
	if len(s) > 19 { // longer than any int64: certainly too large
		return 0, ErrTooLarge
	}
	v, err := n.Int64()
	if err != nil {
		return 0, ErrNotInteger
	}
	switch {
	case v <= 0:
		return 0, ErrNotPositive
	case v > MaxAmount:
		return 0, ErrTooLarge
	}
	return v, nil
}

// CeilTo rounds a positive amount up to the next multiple of step.
func CeilTo(amount, step int64) int64 {
	if amount <= 0 {
		return 0
	}
	return (amount + step - 1) / step * step
}
