package savings

import (
	"math/big"
	"math/rand/v2"
	"testing"
)

func TestAccrueDay(t *testing.T) {
	// 10,000 won at 3 % is 0.8219... won a day: paid 0, 1, 1, 1, 1, 0, 1, 1
	// (the cumulative floor of 0.82 n), never losing a fraction.
	var carry int64
	var got []int64
	for i := 0; i < 8; i++ {
		pay, rest, err := AccrueDay(10_000, 300, carry)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, pay)
		carry = rest
	}
	want := []int64{0, 1, 1, 1, 1, 0, 1, 1}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("daily pay %v, want %v", got, want)
		}
	}
	for _, c := range []struct {
		name                   string
		principal, rate, carry int64
		pay, rest              int64
		err                    bool
	}{
		{"zero principal", 0, 500, 1234, 0, 1234, false},
		{"exactly one won", CarryUnit / 500, 500, 0, 1, 0, false},
		{"a million at 5 %", 1_000_000, 500, 0, 136, 3_600_000, false},
		{"the carry tips over", 1, 1, CarryUnit - 1, 1, 0, false},
		{"the largest principal", MaxPrincipal, 10_000, CarryUnit - 1, 0, 0, false},
		{"negative carry", 1, 1, -1, 0, 0, true},
		{"carry out of range", 1, 1, CarryUnit, 0, 0, true},
		{"overflow", 1 << 62, 10_000, 0, 0, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			pay, rest, err := AccrueDay(c.principal, c.rate, c.carry)
			if (err != nil) != c.err {
				t.Fatalf("err %v", err)
			}
			if err != nil {
				return
			}
			// The identity that matters: what was owed equals paid + carry.
			if pay*CarryUnit+rest != c.carry+c.principal*c.rate || rest < 0 || rest >= CarryUnit {
				t.Fatalf("pay %d rest %d do not add up", pay, rest)
			}
			if c.name != "the largest principal" && (pay != c.pay || rest != c.rest) {
				t.Fatalf("pay %d rest %d, want %d %d", pay, rest, c.pay, c.rest)
			}
		})
	}
}

// TestInterestMatchesRationalReference: random histories of deposits
// (before and after each day's 04:00 run), runs that are missed, run
// twice, or catch up in transaction-sized pieces, against a big.Rat
// reference: after every run, the total paid is exactly
// floor(sum over the accrued days of closing principal x rate / 3,650,000).
func TestInterestMatchesRationalReference(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		r := rand.New(rand.NewPCG(seed, seed*7919))
		rate := []int64{300, 500, 1, 9999, r.Int64N(10_000) + 1}[r.IntN(5)]
		days := 1 + r.IntN(400)
		open := "2026-11-22"
		log := principalLog{closes: map[string]int64{}}
		through, carry, paid, principal := addDays(open, -1), int64(0), int64(0), int64(0)
		closing := map[string]int64{} // the reference's own record: day -> closing principal
		exact := new(big.Rat)
		deposit := func(day string) {
			if r.IntN(3) != 0 {
				return
			}
			amount := []int64{1, 999, 10_000, 1_000_000, r.Int64N(50_000_000) + 1}[r.IntN(5)]
			if r.IntN(200) == 0 {
				amount = 900_000_000_000 // near the cap
			}
			if principal+amount > MaxPrincipal {
				return
			}
			principal += amount
			log.closes[day] = principal
		}
		run := func(date string) {
			last := addDays(date, -1)
			for through < last {
				a, err := accrue(log, rate, carry, through, last, 1+r.IntN(20))
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range a.days {
					if d.Principal != closing[d.Date] {
						t.Fatalf("seed %d: day %s accrued on %d, closed at %d", seed, d.Date, d.Principal, closing[d.Date])
					}
					exact.Add(exact, new(big.Rat).SetFrac(big.NewInt(d.Principal*rate), big.NewInt(CarryUnit)))
				}
				paid += a.paid
				carry, through, log.base = a.carry, a.through, a.base
				for _, c := range a.consume {
					delete(log.closes, c)
				}
			}
			floor := new(big.Int).Quo(exact.Num(), exact.Denom())
			if floor.Int64() != paid {
				t.Fatalf("seed %d (rate %d): through %s paid %d, exact floor %s (%s)", seed, rate, through, paid, floor, exact.FloatString(6))
			}
		}
		for k := 0; k <= days; k++ {
			day := addDays(open, k)
			deposit(day) // 00:00-04:00: dated today, after yesterday closed
			switch r.IntN(10) {
			case 0: // the run is missed
			case 1:
				run(day)
				run(day) // run twice: pays nothing more
			default:
				run(day)
			}
			deposit(day)
			deposit(day)
			closing[day] = principal
		}
		run(addDays(open, days+1))
		if len(log.closes) > 1 {
			t.Fatalf("seed %d: %d principal changes left unfolded", seed, len(log.closes))
		}
	}
}
