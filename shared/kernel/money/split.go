package money

import (
	"errors"
	"fmt"
	"slices"
)

// MaxShares caps how many shares one split may have: a sprinkle's shares are
// stored on one DynamoDB item (a list of numbers, far below the 400 KB item
// limit at 1,000), and no chat room hands out more envelopes than that.
const MaxShares = 1000

// Split errors.
var (
	ErrShareCount = fmt.Errorf("count must be between 1 and %d", MaxShares)
	ErrTooSmall   = errors.New("amount must be at least count: every share is at least 1 won")
)

// RNG is the randomness Random needs; *math/rand/v2.Rand satisfies it.
type RNG interface {
	Int64N(n int64) int64
}

func checkSplit(amount int64, count int) error {
	if count < 1 || count > MaxShares {
		return ErrShareCount
	}
	if amount < int64(count) {
		return ErrTooSmall
	}
	return nil
}

// Equal splits amount into count shares of amount/count, with the remainder
// (amount % count) added to the first share. The shares sum exactly to
// amount and differ by at most the remainder.
func Equal(amount int64, count int) ([]int64, error) {
	if err := checkSplit(amount, count); err != nil {
		return nil, err
	}
	q, r := amount/int64(count), amount%int64(count)
	shares := make([]int64, count)
	for i := range shares {
		shares[i] = q
	}
	shares[0] += r
	return shares, nil
}

// Random splits amount into count shares of at least 1 won each that sum
// exactly to amount: every share gets 1 won, and the rest (amount - count)
// is cut at count-1 uniformly random points (repetition allowed, so a share
// may get nothing beyond its 1 won). Integers only.
func Random(amount int64, count int, rng RNG) ([]int64, error) {
	if err := checkSplit(amount, count); err != nil {
		return nil, err
	}
	rest := amount - int64(count)
	cuts := make([]int64, count+1)
	for i := 1; i < count; i++ {
		cuts[i] = rng.Int64N(rest + 1) // 0..rest
	}
	cuts[count] = rest
	slices.Sort(cuts[1:count])
	shares := make([]int64, count)
	for i := range shares {
		shares[i] = 1 + cuts[i+1] - cuts[i]
	}
	return shares, nil
}
