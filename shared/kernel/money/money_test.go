package money

import (
	"encoding/json"
	"testing"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  error
	}{
		{"1", 1, nil},
		{"10000", 10000, nil},
		{"1000000000000", MaxAmount, nil},
		{"1000000000001", 0, ErrTooLarge},
		{"99999999999999999999999", 0, ErrTooLarge},
		{"0", 0, ErrNotPositive},
		{"-1", 0, ErrNotPositive},
		{"-0", 0, ErrNotPositive},
		{"1.0", 0, ErrNotInteger},
		{"1e3", 0, ErrNotInteger},
		{"1E3", 0, ErrNotInteger},
		{"", 0, ErrNotInteger},
	}
	for _, tc := range tests {
		got, err := ParseAmount(json.Number(tc.in))
		if got != tc.want || err != tc.err {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestCeilTo(t *testing.T) {
	tests := []struct{ amount, want int64 }{
		{-5, 0}, {0, 0}, {1, 10_000}, {9_999, 10_000}, {10_000, 10_000}, {10_001, 20_000}, {25_000, 30_000},
	}
	for _, tc := range tests {
		if got := CeilTo(tc.amount, AutoChargeStep); got != tc.want {
			t.Errorf("CeilTo(%d) = %d, want %d", tc.amount, got, tc.want)
		}
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"1", "0", "-1", "1.5", "1e9", "9223372036854775807", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseAmount(json.Number(s))
		if err == nil && (v < 1 || v > MaxAmount) {
			t.Fatalf("ParseAmount(%q) accepted %d", s, v)
		}
		if err != nil && v != 0 {
			t.Fatalf("ParseAmount(%q) returned %d with an error", s, v)
		}
	})
}
