package money

// Exact splits for bills (settlement requests). Sprinkles keep Equal and
// Random (split.go) as they are: a sprinkle's claimer takes a random share
// anyway, so where Equal puts the remainder and how Random's cut points
// fall (repetition allowed) change nothing a claimer can aim at. A bill is
// different: share i is participant i's, so position must not matter.
//
//	EqualShares   floor(T/n) each, plus 1 won for T mod n participants drawn
//	              uniformly at random (a uniform subset, not the first ones).
//	RandomShares  n shares of at least min won summing to T, uniform over all
//	              such splits: n-1 DISTINCT cut points are drawn and the shares
//	              are the differences, so every position has the same
//	              distribution (mean T/n) and no split is likelier than another.
//
// Integers only; randomness from an RNG (CryptoRNG in production, a seeded
// generator in tests).

import (
	crand "crypto/rand"
	"errors"
	"math/big"
	"slices"
)

// ErrBelowMinimum: the total cannot give every share the minimum.
var ErrBelowMinimum = errors.New("amount must be at least count × the minimum share")

// ErrMinimum: the minimum share is not a positive amount.
var ErrMinimum = errors.New("the minimum share must be at least 1 won")

// CryptoRNG is an RNG drawing from crypto/rand: shares nobody can predict.
var CryptoRNG RNG = cryptoRNG{}

type cryptoRNG struct{}

// Int64N is uniform in [0, n) (crypto/rand.Int rejects, so no modulo bias).
func (cryptoRNG) Int64N(n int64) int64 {
	if n <= 0 {
		panic("money: Int64N of a non-positive bound")
	}
	v, err := crand.Int(crand.Reader, big.NewInt(n))
	if err != nil {
		panic(err) // the OS random source failing is not recoverable
	}
	return v.Int64()
}

// EqualShares splits total into n shares of total/n won, and gives one
// more won to total%n of them, chosen uniformly at random (every subset of
// that size equally likely). The shares sum exactly to total and differ by
// at most 1 won. 20,000 among 3 is 6,667 + 6,667 + 6,666 in some order.
func EqualShares(total int64, n int, rng RNG) ([]int64, error) {
	if err := checkSplit(total, n); err != nil {
		return nil, err
	}
	q, r := total/int64(n), int(total%int64(n))
	shares := make([]int64, n)
	for i := range shares {
		shares[i] = q
	}
	// A partial Fisher-Yates shuffle: the first r of a uniform permutation
	// are a uniform r-subset.
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	for i := 0; i < r; i++ {
		j := i + int(rng.Int64N(int64(n-i)))
		idx[i], idx[j] = idx[j], idx[i]
		shares[idx[i]]++
	}
	return shares, nil
}

// RandomShares splits total into n shares of at least minimum won each
// that sum exactly to total, every such split equally likely. With R =
// total - n*minimum left over, the leftover's splits into n parts (zero
// allowed) are the ways to choose n-1 distinct cut points among R+n-1
// positions; the parts are the gaps between consecutive cuts. So no
// position is favoured: each share's mean is total/n.
func RandomShares(total int64, n int, minimum int64, rng RNG) ([]int64, error) {
	if n < 1 || n > MaxShares {
		return nil, ErrShareCount
	}
	if minimum < 1 || minimum > MaxAmount {
		return nil, ErrMinimum
	}
	if total < int64(n)*minimum { // n*minimum <= 1e3*1e12: no overflow
		return nil, ErrBelowMinimum
	}
	rest := total - int64(n)*minimum
	cuts := distinct(rest+int64(n)-1, n-1, rng) // in 1..rest+n-1
	slices.Sort(cuts)
	shares := make([]int64, n)
	prev := int64(0)
	for i := range shares {
		next := rest + int64(n) // the end sentinel
		if i < len(cuts) {
			next = cuts[i]
		}
		shares[i] = minimum + next - prev - 1
		prev = next
	}
	return shares, nil
}

// distinct draws k distinct integers uniformly from 1..m (Floyd's
// algorithm: k draws, whatever m is; every k-subset equally likely).
func distinct(m int64, k int, rng RNG) []int64 {
	seen := make(map[int64]bool, k)
	out := make([]int64, 0, k)
	for j := m - int64(k) + 1; j <= m; j++ {
		t := 1 + rng.Int64N(j) // 1..j
		if seen[t] {
			t = j
		}
		seen[t] = true
		out = append(out, t)
	}
	return out
}
