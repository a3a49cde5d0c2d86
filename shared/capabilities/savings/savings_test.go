package savings_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"minipay/localstack/ddbtest"
	"minipay/localstack/emulator"
	"minipay/localstack/stacktest"
	"minipay/shared/capabilities/savings"
	"minipay/shared/kernel/clock"
	"minipay/shared/kernel/config"
)

func TestMain(m *testing.M) { os.Exit(ddbtest.Main(m)) }

type stack = stacktest.Stack

func newStack(t *testing.T) *stack { return stacktest.New(t, config.Config{}) }

// open opens a savings account and returns its id.
func open(t *testing.T, s *stack, u stacktest.User, body string) string {
	t.Helper()
	r := s.Post(t, "/accounts", u.Token, body)
	if r.Status != 201 {
		t.Fatalf("open %s: %s", body, r.Raw)
	}
	return r.Body["id"].(string)
}

func deposit(t *testing.T, s *stack, u stacktest.User, id string, amount int64) stacktest.Response {
	t.Helper()
	return s.Post(t, "/accounts/"+id+"/deposits", u.Token, fmt.Sprintf(`{"amount":%d}`, amount))
}

// product is the savings part of GET /accounts/{id}, and the balance.
type product struct {
	Balance            int64
	Principal          int64  `json:"principal"`
	InterestPaid       int64  `json:"interestPaid"`
	Status             string `json:"status"`
	InstallmentsPaid   int64  `json:"installmentsPaid"`
	InstallmentsMissed int64  `json:"installmentsMissed"`
	NextDebitAt        string `json:"nextDebitAt"`
	MaturityDate       string `json:"maturityDate"`
	Through            string `json:"interestPaidThrough"`
	RateBP             int64  `json:"rateBp"`
	Payout             int64  `json:"payout"`
}

func get(t *testing.T, s *stack, u stacktest.User, id string) product {
	t.Helper()
	r := s.Get(t, "/accounts/"+id, u.Token)
	if r.Status != 200 {
		t.Fatalf("get %s: %s", id, r.Raw)
	}
	var body struct {
		Balance int64   `json:"balance"`
		Savings product `json:"savings"`
	}
	if err := json.Unmarshal([]byte(r.Raw), &body); err != nil {
		t.Fatal(err)
	}
	body.Savings.Balance = body.Balance
	return body.Savings
}

// at sets the clock to hh:mm Asia/Seoul, day days after the test start's date.
func at(s *stack, day, hh, mm int) time.Time {
	st := ddbtest.Start.In(clock.KST)
	t := time.Date(st.Year(), st.Month(), st.Day()+day, hh, mm, 0, 0, clock.KST)
	s.Clock.Set(t)
	return t
}

func fire(t *testing.T, s *stack, job string) {
	t.Helper()
	if _, err := s.Emulator.Fire(context.Background(), job, s.Clock.Now()); err != nil {
		t.Fatalf("%s: %v", job, err)
	}
	if st := s.Emulator.QueueStats(); st.DeadLettered > 0 {
		t.Fatalf("dead letters: %+v", st)
	}
}

func date(day int) string {
	st := ddbtest.Start.In(clock.KST)
	return time.Date(st.Year(), st.Month(), st.Day()+day, 0, 0, 0, 0, clock.KST).Format("2006-01-02")
}

// reference is the interest owed by the exact rule, in big rationals:
// floor(sum over days of closing principal x bp / 3,650,000).
func reference(closing []int64, rate int64) int64 {
	sum := new(big.Rat)
	for _, p := range closing {
		sum.Add(sum, new(big.Rat).SetFrac(big.NewInt(p*rate), big.NewInt(savings.CarryUnit)))
	}
	return new(big.Int).Quo(sum.Num(), sum.Denom()).Int64()
}

// TestBadInput: each refusal is a clear 4xx problem and moves nothing.
func TestBadInput(t *testing.T) {
	s := newStack(t)
	kim, lee := s.Register(t, "Kim"), s.Register(t, "Lee")
	s.Fund(t, kim, 1_000_000)
	free := open(t, s, kim, `{"name":"trip"}`)
	fixed := open(t, s, kim, `{"product":"fixed","installment":10000}`)
	if r := deposit(t, s, kim, free, 50_000); r.Status != 201 {
		t.Fatal(r.Raw)
	}
	closed := open(t, s, kim, `{}`)
	if r := s.Post(t, "/accounts/"+closed+"/close", kim.Token, ""); r.Status != 201 {
		t.Fatal(r.Raw)
	}
	for _, c := range []struct {
		name, path, token, body string
		status                  int
		code                    string
	}{
		{"unknown product", "/accounts", kim.Token, `{"product":"gold"}`, 400, "invalid_field"},
		{"fixed without installment", "/accounts", kim.Token, `{"product":"fixed"}`, 400, "invalid_field"},
		{"zero installment", "/accounts", kim.Token, `{"product":"fixed","installment":0}`, 400, "invalid_field"},
		{"negative installment", "/accounts", kim.Token, `{"product":"fixed","installment":-10000}`, 400, "invalid_field"},
		{"fractional installment", "/accounts", kim.Token, `{"product":"fixed","installment":100.5}`, 400, "invalid_field"},
		{"too large installment", "/accounts", kim.Token, `{"product":"fixed","installment":1000001}`, 400, "invalid_field"},
		{"string installment", "/accounts", kim.Token, `{"product":"fixed","installment":"10000"}`, 400, "bad_request"},
		{"subscribing on the free product", "/accounts", kim.Token, `{"product":"free","installment":10000}`, 400, "invalid_field"},
		{"term zero", "/accounts", kim.Token, `{"termMonths":0}`, 400, "invalid_field"},
		{"term too long", "/accounts", kim.Token, `{"termMonths":61}`, 400, "invalid_field"},
		{"a second main account", "/accounts", kim.Token, `{"kind":"main"}`, 400, "invalid_field"},
		{"unknown field", "/accounts", kim.Token, `{"rate":9999}`, 400, "bad_request"},
		{"deposit into a fixed product", "/accounts/" + fixed + "/deposits", kim.Token, `{"amount":10000}`, 422, "savings_deposit_not_allowed"},
		{"deposit into a closed account", "/accounts/" + closed + "/deposits", kim.Token, `{"amount":10000}`, 409, "savings_account_closed"},
		{"deposit into someone else's", "/accounts/" + free + "/deposits", lee.Token, `{"amount":10000}`, 404, "account_not_found"},
		{"deposit into a main account", "/accounts/" + kim.Main + "/deposits", kim.Token, `{"amount":10000}`, 422, "wrong_account_kind"},
		{"deposit of zero", "/accounts/" + free + "/deposits", kim.Token, `{"amount":0}`, 400, "invalid_field"},
		{"deposit beyond main", "/accounts/" + free + "/deposits", kim.Token, `{"amount":5000000}`, 422, "insufficient_funds"},
		{"close someone else's", "/accounts/" + free + "/close", lee.Token, ``, 404, "account_not_found"},
		{"close twice", "/accounts/" + closed + "/close", kim.Token, ``, 409, "savings_account_closed"},
		{"close a main account", "/accounts/" + kim.Main + "/close", kim.Token, ``, 422, "wrong_account_kind"},
		{"close a malformed id", "/accounts/s_nope/close", kim.Token, ``, 404, "account_not_found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := s.Available(t, kim)
			r := s.Post(t, c.path, c.token, c.body)
			if r.Status != c.status || r.Code() != c.code {
				t.Fatalf("%s: %d %s, want %d %s", c.name, r.Status, r.Raw, c.status, c.code)
			}
			if r.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("content type %q", r.Header.Get("Content-Type"))
			}
			if after := s.Available(t, kim); after != before {
				t.Fatalf("money moved: %d -> %d", before, after)
			}
		})
	}
	if p := get(t, s, kim, free); p.Principal != 50_000 || p.Balance != 50_000 || p.RateBP != 300 {
		t.Fatalf("free account after refusals: %+v", p)
	}
	if p := get(t, s, kim, fixed); p.Principal != 0 || p.RateBP != 500 || p.NextDebitAt == "" {
		t.Fatalf("fixed account: %+v", p)
	}
	if r := s.Get(t, "/accounts/"+free, lee.Token); r.Status != 404 {
		t.Fatalf("someone else's account: %s", r.Raw)
	}
}

// TestAMonthOfDays: thirty days with deposits, installments (one paid by
// an automatic charge, one missed for the charge limit), a missed interest
// run, a missed installment run, a double run of each, a maturity and an
// early closing. Every account ends with exactly the interest the rule
// owes on its own closing principals, and the audit holds.
func TestAMonthOfDays(t *testing.T) {
	s := newStack(t)
	kim, lee, park := s.Register(t, "Kim"), s.Register(t, "Lee"), s.Register(t, "Park")
	at(s, 0, 10, 0) // 2026-11-22 10:00 KST
	s.Fund(t, kim, 5_000_000)
	s.Fund(t, lee, 95_000)
	free := open(t, s, kim, `{"name":"free"}`)
	short := open(t, s, kim, `{"name":"one month","termMonths":1}`)
	early := open(t, s, kim, `{"name":"closed early"}`)
	fixed := open(t, s, lee, `{"product":"fixed","installment":10000}`)
	limited := open(t, s, park, `{"product":"fixed","installment":25000}`)
	for _, id := range []string{short, early} {
		if r := deposit(t, s, kim, id, 1_000_000); r.Status != 201 {
			t.Fatal(r.Raw)
		}
	}
	// Closing principals by day (index = days after the start), as the
	// test lays them down.
	const days = 31
	freeClose, fixedClose, limitedClose := make([]int64, days), make([]int64, days), make([]int64, days)
	var freeP, fixedP, limitedP int64
	freeDeposits := map[int]int64{0: 10_000, 1: 333, 3: 1_000_000, 7: 7, 8: 250_000, 15: 12_345, 16: 1}
	missedInterest, missedInstallments, doubled := 5, 9, 12
	wantMissed := 0
	for day := 0; day < days; day++ {
		if day > 0 {
			at(s, day, 4, 0)
			if day != missedInterest {
				fire(t, s, "savings-interest")
			}
			if day == doubled {
				fire(t, s, "savings-interest")
			}
			if day == 20 {
				// Park used the whole day's charge limit and spent it:
				// today's installment cannot be charged.
				at(s, day, 7, 0)
				s.Charge(t, park, 3_000_000)
				if r := s.Post(t, "/accounts/"+park.Main+"/withdrawals", park.Token, `{"amount":3000000}`); r.Status != 201 {
					t.Fatal(r.Raw)
				}
			}
			at(s, day, 8, 0)
			if day != missedInstallments {
				fire(t, s, "savings-installments")
				n := int64(1)
				if day == missedInstallments+1 {
					n = 2 // the missed run's day is debited once, today
				}
				fixedP += n * 10_000
				if day == 20 {
					wantMissed++
				} else {
					limitedP += n * 25_000
				}
			}
			if day == doubled {
				fire(t, s, "savings-installments")
			}
		}
		at(s, day, 12, 0)
		if a, ok := freeDeposits[day]; ok {
			if r := deposit(t, s, kim, free, a); r.Status != 201 {
				t.Fatal(r.Raw)
			}
			freeP += a
		}
		if day == 10 {
			before := s.Available(t, kim)
			r := s.Post(t, "/accounts/"+early+"/close", kim.Token, "")
			if r.Status != 201 {
				t.Fatal(r.Raw)
			}
			// Interest paid for days 0-9 (1,000,000 at 3 %), and the principal.
			want := 1_000_000 + reference(repeat(1_000_000, 10), 300)
			if got := s.Available(t, kim) - before; got != want {
				t.Fatalf("early close paid %d to main, want %d", got, want)
			}
		}
		freeClose[day], fixedClose[day], limitedClose[day] = freeP, fixedP, limitedP
	}
	// Day 31 04:00 pays day 30.
	at(s, days, 4, 0)
	fire(t, s, "savings-interest")

	check := func(name string, u stacktest.User, id string, closing []int64, rate, principal int64) {
		t.Helper()
		p := get(t, s, u, id)
		want := reference(closing, rate)
		if p.Principal != principal || p.InterestPaid != want || p.Balance != principal+want || p.Through != date(days-1) {
			t.Errorf("%s: %+v; want principal %d, interest %d through %s", name, p, principal, want, date(days-1))
		}
	}
	check("free", kim, free, freeClose, 300, freeP)
	check("fixed", lee, fixed, fixedClose, 500, fixedP)
	check("fixed with a missed day", park, limited, limitedClose, 500, limitedP)
	if p := get(t, s, park, limited); p.InstallmentsMissed != int64(wantMissed) || p.InstallmentsPaid != limitedP/25_000 {
		t.Errorf("limited: %+v, want %d missed", p, wantMissed)
	}
	// Lee's 95,000 covered the first nine installments; from the tenth
	// each was short 5,000 and charged automatically in one 10,000 won
	// step, so main stays at 5,000.
	if got := s.Available(t, lee); got != 5_000 {
		t.Errorf("lee's main: %d, want 5,000", got)
	}
	// The one-month account matured on 2026-12-22 (day 30) at 04:00: thirty
	// days of interest on 1,000,000 at 3 %, then everything to main.
	p := get(t, s, kim, short)
	wantShort := reference(repeat(1_000_000, 30), 300)
	if p.Status != savings.StatusMatured || p.InterestPaid != wantShort || p.Payout != 1_000_000+wantShort || p.Balance != 0 {
		t.Errorf("matured: %+v, want interest %d", p, wantShort)
	}
	// Notifications: the maturity, the early closing, the missed installment.
	types := map[string]int{}
	for _, u := range []stacktest.User{kim, park} {
		r := s.Get(t, "/me/notifications?limit=100", u.Token)
		for _, n := range r.Body["notifications"].([]any) {
			types[n.(map[string]any)["type"].(string)]++
		}
	}
	if types[savings.NotifMatured] != 1 || types[savings.NotifClosed] != 1 || types[savings.NotifInstallmentMissed] != 1 {
		t.Errorf("notifications %v", types)
	}
	// History: one interest entry per paying day, each naming its day.
	r := s.Get(t, "/accounts/"+short+"/entries?limit=100", kim.Token)
	kinds := map[string]int{}
	for _, e := range r.Body["entries"].([]any) {
		kinds[e.(map[string]any)["type"].(string)]++
	}
	if kinds[savings.TypeInterest] != 30 || kinds[savings.TypeMaturity] != 1 || kinds[savings.TypeDeposit] != 1 {
		t.Errorf("history of the matured account: %v", kinds)
	}
}

func repeat(v int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// TestInterestJobTwiceAtOnce: the job fired four times at once pays each
// account-day once.
func TestInterestJobTwiceAtOnce(t *testing.T) {
	s := newStack(t)
	kim := s.Register(t, "Kim")
	s.Fund(t, kim, 20_000_000)
	var ids []string
	for i := 0; i < 12; i++ {
		id := open(t, s, kim, "")
		if r := deposit(t, s, kim, id, int64(100_000*(i+1))); r.Status != 201 {
			t.Fatal(r.Raw)
		}
		ids = append(ids, id)
	}
	at(s, 3, 4, 0) // days 0, 1 and 2 are due
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Go(func() {
			if _, err := s.Emulator.Fire(context.Background(), "savings-interest", s.Clock.Now()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	fire(t, s, "savings-interest") // and once more after
	for i, id := range ids {
		p := get(t, s, kim, id)
		want := reference(repeat(int64(100_000*(i+1)), 3), 300)
		if p.InterestPaid != want || p.Balance != p.Principal+want {
			t.Errorf("account %d: %+v, want interest %d", i, p, want)
		}
	}
}

// TestDepositRacesTheInterestJob: deposits fired while the 04:00 job runs
// land on today and never change yesterday's interest; the next day pays
// on them. The result equals the serial order (job, then deposits).
func TestDepositRacesTheInterestJob(t *testing.T) {
	s := newStack(t)
	kim := s.Register(t, "Kim")
	s.Fund(t, kim, 50_000_000)
	var ids []string
	for i := 0; i < 8; i++ {
		id := open(t, s, kim, "")
		if r := deposit(t, s, kim, id, 1_000_000); r.Status != 201 {
			t.Fatal(r.Raw)
		}
		ids = append(ids, id)
	}
	at(s, 1, 4, 0)
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := s.Emulator.Fire(context.Background(), "savings-interest", s.Clock.Now()); err != nil {
			t.Error(err)
		}
	})
	for _, id := range ids {
		for k := 0; k < 3; k++ {
			wg.Go(func() {
				if r := deposit(t, s, kim, id, 500_000); r.Status != 201 {
					t.Errorf("deposit: %s", r.Raw)
				}
			})
		}
	}
	wg.Wait()
	fire(t, s, "savings-interest") // whatever the race left
	for _, id := range ids {
		p := get(t, s, kim, id)
		if want := reference([]int64{1_000_000}, 300); p.InterestPaid != want || p.Principal != 2_500_000 {
			t.Errorf("after day 0: %+v, want interest %d", p, want)
		}
	}
	at(s, 2, 4, 0)
	fire(t, s, "savings-interest")
	for _, id := range ids {
		p := get(t, s, kim, id)
		if want := reference([]int64{1_000_000, 2_500_000}, 300); p.InterestPaid != want || p.Balance != 2_500_000+want {
			t.Errorf("after day 1: %+v, want interest %d", p, want)
		}
	}
}

// TestInstallmentJobTwiceAtOnce: the 08:00 job fired three times at once
// debits each account once (auto-charging one of them).
func TestInstallmentJobTwiceAtOnce(t *testing.T) {
	s := newStack(t)
	var users []stacktest.User
	var ids []string
	for i := 0; i < 6; i++ {
		u := s.Register(t, fmt.Sprint("u", i))
		if i > 0 {
			s.Fund(t, u, 100_000)
		}
		users = append(users, u)
		ids = append(ids, open(t, s, u, `{"product":"fixed","installment":30000}`))
	}
	at(s, 1, 8, 0)
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Go(func() {
			if _, err := s.Emulator.Fire(context.Background(), "savings-installments", s.Clock.Now()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i, u := range users {
		p := get(t, s, u, ids[i])
		if p.Principal != 30_000 || p.InstallmentsPaid != 1 || p.Balance != 30_000 {
			t.Errorf("user %d: %+v", i, p)
		}
		want := int64(70_000)
		if i == 0 {
			want = 0 // 30,000 charged automatically, all of it debited
		}
		if got := s.Available(t, u); got != want {
			t.Errorf("user %d main %d, want %d", i, got, want)
		}
	}
}

// TestCloseRacesTheJobs: closings fired while both jobs run end with the
// account either paid and closed or closed first; nothing is paid twice
// and the audit holds.
func TestCloseRacesTheJobs(t *testing.T) {
	s := newStack(t)
	kim := s.Register(t, "Kim")
	s.Fund(t, kim, 10_000_000)
	var ids []string
	for i := 0; i < 6; i++ {
		id := open(t, s, kim, `{"product":"fixed","installment":10000}`)
		ids = append(ids, id)
	}
	at(s, 1, 8, 0)
	fire(t, s, "savings-installments")
	at(s, 2, 8, 0)
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = s.Emulator.Fire(context.Background(), "savings-interest", s.Clock.Now()) })
	wg.Go(func() { _, _ = s.Emulator.Fire(context.Background(), "savings-installments", s.Clock.Now()) })
	for _, id := range ids {
		wg.Go(func() {
			if r := s.Post(t, "/accounts/"+id+"/close", kim.Token, ""); r.Status != 201 {
				t.Errorf("close: %s", r.Raw)
			}
		})
	}
	wg.Wait()
	// Whatever the order, every installment came back and the interest
	// paid (and only it) was added.
	var interest int64
	for _, id := range ids {
		p := get(t, s, kim, id)
		if p.Status != savings.StatusClosed || p.Balance != 0 || p.Payout != p.Principal+p.InterestPaid {
			t.Errorf("%+v", p)
		}
		interest += p.InterestPaid
	}
	if main := s.Available(t, kim); main != 10_000_000+interest {
		t.Errorf("main %d after every account closed, want %d", main, 10_000_000+interest)
	}
}

// TestTestClock: the local-only route advances the clock by a day, firing
// the daily jobs in time order with the clock at each slot: a day of
// interest at 04:00 and an installment at 08:00.
func TestTestClock(t *testing.T) {
	s := newStack(t)
	lee := s.Register(t, "Lee")
	s.Fund(t, lee, 1_000_000)
	id := open(t, s, lee, `{"product":"fixed","installment":100000}`)
	// From 10:00 on day 0 to 07:00 on day 1 through the test clock (setting
	// the clock and ticking would catch up a hundred runs of every minute
	// job at once), then to 07:59: the jobs before 07:59 have run.
	if _, err := s.Emulator.AdvanceClock(context.Background(), 21*time.Hour); err != nil {
		t.Fatal(err)
	}
	fire(t, s, "savings-interest") // nothing is owed yet
	if _, err := s.Emulator.AdvanceClock(context.Background(), 59*time.Minute); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 23, 7, 59, 0, 0, clock.KST); !s.Clock.Now().Equal(want) {
		t.Fatalf("now %s, want %s", s.Clock.Now(), want)
	}
	r := s.Do(t, stacktest.Request{Method: "POST", Path: emulator.TestClockPath + "/advance", Body: `{"duration":"24h"}`})
	if r.Status != 200 {
		t.Fatal(r.Raw)
	}
	var daily []string
	for _, d := range r.Body["daily"].([]any) {
		m := d.(map[string]any)
		daily = append(daily, m["job"].(string)+"@"+m["at"].(string))
	}
	want := "savings-installments@2026-11-22T23:00:00Z ledger-checkpoint@2026-11-23T18:00:00Z savings-interest@2026-11-23T19:00:00Z"
	if strings.Join(daily, " ") != want {
		t.Fatalf("fired %v\nwant %s", daily, want)
	}
	p := get(t, s, lee, id)
	// 08:00 day 1 debited 100,000; 04:00 day 2 paid day 1's interest on it.
	if p.Principal != 100_000 || p.InterestPaid != reference([]int64{100_000}, 500) || p.Through != date(1) {
		t.Fatalf("%+v", p)
	}
	if r := s.Do(t, stacktest.Request{Method: "POST", Path: emulator.TestClockPath + "/advance", Body: `{"duration":"-1h"}`}); r.Status != 400 {
		t.Fatalf("backwards: %s", r.Raw)
	}
}
