package money

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func checkShares(t *testing.T, name string, amount int64, count int, shares []int64) {
	t.Helper()
	if len(shares) != count {
		t.Fatalf("%s(%d, %d): %d shares", name, amount, count, len(shares))
	}
	var sum int64
	for _, s := range shares {
		if s < 1 {
			t.Fatalf("%s(%d, %d): share %d below 1 won: %v", name, amount, count, s, shares)
		}
		sum += s
	}
	if sum != amount {
		t.Fatalf("%s(%d, %d): shares sum to %d", name, amount, count, sum)
	}
}

func checkEqual(t *testing.T, amount int64, count int, shares []int64) {
	t.Helper()
	checkShares(t, "Equal", amount, count, shares)
	lo, hi := shares[0], shares[0]
	for _, s := range shares {
		lo, hi = min(lo, s), max(hi, s)
	}
	if r := amount % int64(count); hi-lo > r {
		t.Fatalf("Equal(%d, %d): max-min %d > remainder %d", amount, count, hi-lo, r)
	}
	if lo != amount/int64(count) {
		t.Fatalf("Equal(%d, %d): smallest share %d, want %d", amount, count, lo, amount/int64(count))
	}
}

func TestSplitProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		amount int64
		count  int
	}{{1, 1}, {2, 2}, {3, 2}, {10, 3}, {100, 100}, {101, 100}, {10000, 7}, {MaxAmount, MaxShares}, {MaxShares, MaxShares}, {MaxAmount, 1}}
	for i := 0; i < 2000; i++ {
		count := 1 + rng.IntN(MaxShares)
		cases = append(cases, struct {
			amount int64
			count  int
		}{int64(count) + rng.Int64N(1_000_000), count})
	}
	for _, c := range cases {
		eq, err := Equal(c.amount, c.count)
		if err != nil {
			t.Fatal(err)
		}
		checkEqual(t, c.amount, c.count, eq)
		r, err := Random(c.amount, c.count, rng)
		if err != nil {
			t.Fatal(err)
		}
		checkShares(t, "Random", c.amount, c.count, r)
	}
}

func TestSplitExamples(t *testing.T) {
	eq, _ := Equal(10, 3)
	if eq[0] != 4 || eq[1] != 3 || eq[2] != 3 {
		t.Errorf("Equal(10, 3) = %v", eq)
	}
	r, _ := Random(5, 5, rand.New(rand.NewPCG(3, 4)))
	for _, s := range r {
		if s != 1 {
			t.Errorf("Random(5, 5) = %v", r)
		}
	}
}

func TestSplitRefusals(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range []struct {
		amount int64
		count  int
		want   error
	}{{10, 0, ErrShareCount}, {10, -1, ErrShareCount}, {5000, MaxShares + 1, ErrShareCount}, {2, 3, ErrTooSmall}, {0, 1, ErrTooSmall}} {
		if _, err := Equal(c.amount, c.count); !errors.Is(err, c.want) {
			t.Errorf("Equal(%d, %d): %v, want %v", c.amount, c.count, err, c.want)
		}
		if _, err := Random(c.amount, c.count, rng); !errors.Is(err, c.want) {
			t.Errorf("Random(%d, %d): %v, want %v", c.amount, c.count, err, c.want)
		}
	}
}

// The random split is not degenerate: over many draws every share position
// sometimes gets more than the minimum.
func TestRandomSplitVaries(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	seen := make([]bool, 10)
	for i := 0; i < 200; i++ {
		r, _ := Random(1000, 10, rng)
		for j, s := range r {
			if s > 1 {
				seen[j] = true
			}
		}
	}
	for j, ok := range seen {
		if !ok {
			t.Errorf("share %d never above 1 won", j)
		}
	}
}

func FuzzSplit(f *testing.F) {
	f.Add(int64(10), 3, uint64(1))
	f.Add(int64(100), 100, uint64(2))
	f.Add(MaxAmount, MaxShares, uint64(3))
	f.Add(int64(1), 1, uint64(4))
	f.Fuzz(func(t *testing.T, amount int64, count int, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		eq, errEq := Equal(amount, count)
		r, errR := Random(amount, count, rng)
		valid := count >= 1 && count <= MaxShares && amount >= int64(count)
		if !valid {
			if errEq == nil || errR == nil {
				t.Fatalf("(%d, %d) accepted", amount, count)
			}
			return
		}
		if errEq != nil || errR != nil {
			t.Fatalf("(%d, %d): %v %v", amount, count, errEq, errR)
		}
		checkEqual(t, amount, count, eq)
		checkShares(t, "Random", amount, count, r)
	})
}
