package money

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func seeded(a, b uint64) *rand.Rand { return rand.New(rand.NewPCG(a, b)) }

// checkExact: n shares, each at least minimum, summing to total.
func checkExact(t *testing.T, name string, total int64, n int, minimum int64, shares []int64) {
	t.Helper()
	if len(shares) != n {
		t.Fatalf("%s(%d, %d): %d shares", name, total, n, len(shares))
	}
	var sum int64
	for _, s := range shares {
		if s < minimum {
			t.Fatalf("%s(%d, %d, min %d): share %d below the minimum: %v", name, total, n, minimum, s, shares)
		}
		sum += s
	}
	if sum != total {
		t.Fatalf("%s(%d, %d): shares sum to %d", name, total, n, sum)
	}
}

// checkEqualShares: floor(T/n) each, and exactly T mod n of them one more.
func checkEqualShares(t *testing.T, total int64, n int, shares []int64) {
	t.Helper()
	checkExact(t, "EqualShares", total, n, 1, shares)
	q, r := total/int64(n), total%int64(n)
	extra := int64(0)
	for _, s := range shares {
		switch s {
		case q:
		case q + 1:
			extra++
		default:
			t.Fatalf("EqualShares(%d, %d): share %d is neither %d nor %d", total, n, s, q, q+1)
		}
	}
	if extra != r {
		t.Fatalf("EqualShares(%d, %d): %d shares got the extra won, want %d", total, n, extra, r)
	}
}

func TestEqualSharesExamples(t *testing.T) {
	for _, c := range []struct {
		total int64
		n     int
		want  []int64 // sorted
	}{
		{20_000, 3, []int64{6_666, 6_667, 6_667}},
		{10, 3, []int64{3, 3, 4}},
		{9, 3, []int64{3, 3, 3}},
		{1, 1, []int64{1}},
		{5, 5, []int64{1, 1, 1, 1, 1}},
		{100, 7, []int64{14, 14, 14, 14, 14, 15, 15}},
		{MaxAmount, 3, []int64{333_333_333_333, 333_333_333_333, 333_333_333_334}},
	} {
		t.Run(fmt.Sprint(c.total, "/", c.n), func(t *testing.T) {
			got, err := EqualShares(c.total, c.n, seeded(1, uint64(c.n)))
			if err != nil {
				t.Fatal(err)
			}
			checkEqualShares(t, c.total, c.n, got)
			sorted := slices.Clone(got)
			slices.Sort(sorted)
			if !slices.Equal(sorted, c.want) {
				t.Fatalf("EqualShares(%d, %d) = %v, want %v in some order", c.total, c.n, got, c.want)
			}
		})
	}
}

// 20,000 among 3: the participant who gets 6,666 is random, each of the
// three about a third of the time (not always the first or the last).
func TestEqualSharesExtraWonIsNotPositional(t *testing.T) {
	const draws = 30_000
	rng := seeded(7, 8)
	low := make([]int, 3)
	for i := 0; i < draws; i++ {
		s, _ := EqualShares(20_000, 3, rng)
		for j, v := range s {
			if v == 6_666 {
				low[j]++
			}
		}
	}
	for j, n := range low {
		// Expected 10,000 each; sigma ~ 82: 500 is six sigma.
		if n < 9_500 || n > 10_500 {
			t.Errorf("position %d got 6,666 in %d of %d draws (want about a third): %v", j, n, draws, low)
		}
	}
	// And with the crypto source, over fewer draws, every position is hit.
	hit := make([]bool, 3)
	for i := 0; i < 200; i++ {
		s, _ := EqualShares(20_000, 3, CryptoRNG)
		checkEqualShares(t, 20_000, 3, s)
		for j, v := range s {
			hit[j] = hit[j] || v == 6_666
		}
	}
	if slices.Contains(hit, false) {
		t.Errorf("CryptoRNG: some position never got 6,666: %v", hit)
	}
}

// Every r-subset of positions gets the extra won equally often: 10 among 4
// with remainder 2 has 6 subsets.
func TestEqualSharesSubsetsAreUniform(t *testing.T) {
	const draws = 60_000
	rng := seeded(9, 10)
	counts := map[string]int{}
	for i := 0; i < draws; i++ {
		s, _ := EqualShares(10, 4, rng)
		counts[fmt.Sprint(s)]++
	}
	if len(counts) != 6 {
		t.Fatalf("%d distinct splits, want 6: %v", len(counts), counts)
	}
	for k, n := range counts {
		// Expected 10,000; sigma ~ 91.
		if n < 9_450 || n > 10_550 {
			t.Errorf("split %s drawn %d times of %d: %v", k, n, draws, counts)
		}
	}
}

func TestSettlementSplitProperties(t *testing.T) {
	rng := seeded(11, 12)
	type tc struct {
		total   int64
		n       int
		minimum int64
	}
	cases := []tc{{1, 1, 1}, {2, 2, 1}, {3, 2, 1}, {20_000, 3, 1}, {100, 100, 1}, {101, 100, 1}, {10_000, 7, 1000},
		{MaxAmount, MaxShares, 1}, {MaxShares, MaxShares, 1}, {MaxAmount, 1, 1}, {MaxAmount, 2, MaxAmount / 2}, {700, 7, 100}}
	for i := 0; i < 2000; i++ {
		n := 1 + rng.IntN(MaxShares)
		minimum := 1 + rng.Int64N(100)
		cases = append(cases, tc{int64(n)*minimum + rng.Int64N(1_000_000), n, minimum})
	}
	for _, c := range cases {
		eq, err := EqualShares(c.total, c.n, rng)
		if err != nil {
			t.Fatalf("EqualShares(%d, %d): %v", c.total, c.n, err)
		}
		checkEqualShares(t, c.total, c.n, eq)
		r, err := RandomShares(c.total, c.n, c.minimum, rng)
		if err != nil {
			t.Fatalf("RandomShares(%d, %d, %d): %v", c.total, c.n, c.minimum, err)
		}
		checkExact(t, "RandomShares", c.total, c.n, c.minimum, r)
	}
	// At the minimum every share is the minimum.
	for _, c := range []tc{{5, 5, 1}, {700, 7, 100}, {MaxShares * 3, MaxShares, 3}} {
		r, _ := RandomShares(c.total, c.n, c.minimum, rng)
		for _, s := range r {
			if s != c.minimum {
				t.Fatalf("RandomShares(%d, %d, %d) = %v", c.total, c.n, c.minimum, r)
			}
		}
	}
}

// No position bias: over many draws each position's mean share is total/n
// (a "first takes a random part of the rest" split gives the first half on
// average with n = 2, and so fails here).
func TestRandomSharesMeanPerPosition(t *testing.T) {
	for _, c := range []struct {
		total   int64
		n       int
		minimum int64
	}{{1000, 2, 1}, {1000, 5, 1}, {100_000, 10, 1000}, {50, 10, 1}} {
		t.Run(fmt.Sprint(c.total, "/", c.n, "/", c.minimum), func(t *testing.T) {
			const draws = 20_000
			rng := seeded(uint64(c.total), uint64(c.n))
			sums := make([]int64, c.n)
			for i := 0; i < draws; i++ {
				s, err := RandomShares(c.total, c.n, c.minimum, rng)
				if err != nil {
					t.Fatal(err)
				}
				for j, v := range s {
					sums[j] += v
				}
			}
			want := float64(c.total) / float64(c.n)
			for j, s := range sums {
				mean := float64(s) / draws
				// The standard error is under 1% of the mean for these
				// cases; 4% is far outside chance.
				if mean < want*0.96 || mean > want*1.04 {
					t.Errorf("position %d: mean share %.1f, want %.1f (±4%%)", j, mean, want)
				}
			}
		})
	}
}

// Uniform over splits: 6 won among 3 (at least 1 each) has C(5,2) = 10
// splits; 9 among 3 with at least 2 each also 10. Each is drawn equally often.
func TestRandomSharesUniformOverSplits(t *testing.T) {
	for _, c := range []struct {
		total   int64
		minimum int64
	}{{6, 1}, {9, 2}} {
		const draws = 50_000
		rng := seeded(13, uint64(c.total))
		counts := map[string]int{}
		for i := 0; i < draws; i++ {
			s, _ := RandomShares(c.total, 3, c.minimum, rng)
			counts[fmt.Sprint(s)]++
		}
		if len(counts) != 10 {
			t.Fatalf("%d among 3 (min %d): %d distinct splits, want 10: %v", c.total, c.minimum, len(counts), counts)
		}
		for k, n := range counts {
			// Expected 5,000; sigma ~ 67.
			if n < 4_600 || n > 5_400 {
				t.Errorf("%d among 3: split %s drawn %d of %d times", c.total, k, n, draws)
			}
		}
	}
}

func TestSettlementSplitRefusals(t *testing.T) {
	rng := seeded(1, 1)
	for _, c := range []struct {
		total   int64
		n       int
		minimum int64
		eqErr   error
		rndErr  error
	}{
		{10, 0, 1, ErrShareCount, ErrShareCount},
		{10, -1, 1, ErrShareCount, ErrShareCount},
		{5000, MaxShares + 1, 1, ErrShareCount, ErrShareCount},
		{2, 3, 1, ErrTooSmall, ErrBelowMinimum},
		{0, 1, 1, ErrTooSmall, ErrBelowMinimum},
		{-5, 1, 1, ErrTooSmall, ErrBelowMinimum},
		{299, 3, 100, nil, ErrBelowMinimum},
		{300, 3, 0, nil, ErrMinimum},
		{300, 3, -1, nil, ErrMinimum},
	} {
		t.Run(fmt.Sprint(c.total, "/", c.n, "/", c.minimum), func(t *testing.T) {
			if _, err := EqualShares(c.total, c.n, rng); !errors.Is(err, c.eqErr) {
				t.Errorf("EqualShares: %v, want %v", err, c.eqErr)
			}
			if _, err := RandomShares(c.total, c.n, c.minimum, rng); !errors.Is(err, c.rndErr) {
				t.Errorf("RandomShares: %v, want %v", err, c.rndErr)
			}
		})
	}
}

func TestDistinctCutPoints(t *testing.T) {
	rng := seeded(3, 4)
	for _, c := range []struct {
		m int64
		k int
	}{{1, 1}, {5, 5}, {5, 0}, {10, 3}, {MaxAmount, 999}} {
		got := distinct(c.m, c.k, rng)
		if len(got) != c.k {
			t.Fatalf("distinct(%d, %d): %v", c.m, c.k, got)
		}
		seen := map[int64]bool{}
		for _, v := range got {
			if v < 1 || v > c.m || seen[v] {
				t.Fatalf("distinct(%d, %d): %v", c.m, c.k, got)
			}
			seen[v] = true
		}
	}
}

func TestCryptoRNG(t *testing.T) {
	if CryptoRNG.Int64N(1) != 0 {
		t.Fatal("Int64N(1) != 0")
	}
	seen := make([]bool, 7)
	for i := 0; i < 500; i++ {
		v := CryptoRNG.Int64N(7)
		if v < 0 || v >= 7 {
			t.Fatalf("Int64N(7) = %d", v)
		}
		seen[v] = true
	}
	if slices.Contains(seen, false) {
		t.Errorf("Int64N(7) never drew some values: %v", seen)
	}
}

// go test -fuzz FuzzSettlementSplits ./shared/kernel/money/
func FuzzSettlementSplits(f *testing.F) {
	f.Add(int64(20_000), 3, int64(1), uint64(1))
	f.Add(int64(100), 100, int64(1), uint64(2))
	f.Add(MaxAmount, MaxShares, int64(1), uint64(3))
	f.Add(int64(700), 7, int64(100), uint64(4))
	f.Add(int64(699), 7, int64(100), uint64(5))
	f.Add(int64(1), 1, int64(0), uint64(6))
	f.Fuzz(func(t *testing.T, total int64, n int, minimum int64, seed uint64) {
		rng := seeded(seed, seed^0x9e3779b97f4a7c15)
		eq, errEq := EqualShares(total, n, rng)
		okN := n >= 1 && n <= MaxShares
		if okN && total >= int64(n) {
			if errEq != nil {
				t.Fatalf("EqualShares(%d, %d): %v", total, n, errEq)
			}
			checkEqualShares(t, total, n, eq)
		} else if errEq == nil {
			t.Fatalf("EqualShares(%d, %d) accepted: %v", total, n, eq)
		}
		r, errR := RandomShares(total, n, minimum, rng)
		okMin := minimum >= 1 && minimum <= MaxAmount
		if okN && okMin && total >= int64(n)*minimum {
			if errR != nil {
				t.Fatalf("RandomShares(%d, %d, %d): %v", total, n, minimum, errR)
			}
			checkExact(t, "RandomShares", total, n, minimum, r)
		} else if errR == nil {
			t.Fatalf("RandomShares(%d, %d, %d) accepted: %v", total, n, minimum, r)
		}
	})
}
