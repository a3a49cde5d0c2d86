package savings

// The interest arithmetic: pure, integer, no floating point.
//
// Each day the account's closing principal P (won) accrues P x rate (basis
// points) into an integer carry, in units of 1/3,650,000 won (a year of 365
// days x 10,000 basis points). The whole won of the carry are paid and the
// remainder stays for tomorrow. So over any run of days the total paid is
// exactly floor(sum of P x bp / 3,650,000), and no fraction is ever lost or
// paid twice. Simple interest: P is principal only, never interest paid.

import (
	"fmt"
	"math"
	"sort"
	"time"

	"minipay/shared/kernel/clock"
)

// CarryUnit is how many carry units make one won: 365 days x 10,000 bp.
const CarryUnit int64 = 3_650_000

// AccrueDay adds one day of principal at rateBP to carry and returns the
// whole won to pay today and the carry that remains (always in [0, CarryUnit)).
func AccrueDay(principal, rateBP, carry int64) (pay, rest int64, err error) {
	if principal < 0 || rateBP < 0 || carry < 0 || carry >= CarryUnit {
		return 0, 0, fmt.Errorf("savings: accrue principal %d at %d bp with carry %d", principal, rateBP, carry)
	}
	if rateBP > 0 && principal > (math.MaxInt64-carry)/rateBP {
		return 0, 0, fmt.Errorf("savings: principal %d at %d bp overflows the carry", principal, rateBP)
	}
	total := carry + principal*rateBP
	return total / CarryUnit, total % CarryUnit, nil
}

// Dates are Asia/Seoul business dates, yyyy-mm-dd: they sort like time, in
// Go and in a DynamoDB condition alike.
const dateLayout = "2006-01-02"

func parseDate(s string) (time.Time, error) {
	t, err := time.ParseInLocation(dateLayout, s, clock.KST)
	if err != nil {
		return time.Time{}, fmt.Errorf("savings: date %q: %w", s, err)
	}
	return t, nil
}

// addDays is the date n days after s (s must be valid).
func addDays(s string, n int) string {
	t, err := parseDate(s)
	if err != nil {
		panic(err) // dates come from our own items, checked when decoded
	}
	return t.AddDate(0, 0, n).Format(dateLayout)
}

// at is the instant hh:mm Asia/Seoul on date s.
func at(s string, hh, mm int) time.Time {
	t, err := parseDate(s)
	if err != nil {
		panic(err)
	}
	return time.Date(t.Year(), t.Month(), t.Day(), hh, mm, 0, 0, clock.KST)
}

// principalLog is what an account knows of its principal's history since
// the last accrued day: base is the closing principal of accruedThrough,
// closes the principal at the end of each later day that changed it (date
// -> principal after that day's last change).
type principalLog struct {
	base   int64
	closes map[string]int64
}

// closing is the principal at the end of day d (d after the base's day):
// the last change on or before d, else the base.
func (l principalLog) closing(d string) int64 {
	best, p := "", l.base
	for day, v := range l.closes {
		if day <= d && day > best {
			best, p = day, v
		}
	}
	return p
}

// dayPay is one day's interest.
type dayPay struct {
	Date      string
	Principal int64
	Pay       int64
}

// accrual is the result of accruing a run of days.
type accrual struct {
	days    []dayPay // every day accrued, in order
	paid    int64    // sum of the days' pay
	carry   int64    // the carry after the last day
	through string   // the last day accrued
	base    int64    // its closing principal
	consume []string // closes entries now folded into base
}

// accrue accrues the days after from, through last (inclusive), on log's
// closing principals, starting from carry, stopping early after maxPaying
// days that pay something (a transaction's size bound). through == from
// means nothing was accrued.
func accrue(log principalLog, rateBP, carry int64, from, last string, maxPaying int) (accrual, error) {
	a := accrual{carry: carry, through: from, base: log.base}
	paying := 0
	for d := addDays(from, 1); d <= last && paying < maxPaying; d = addDays(d, 1) {
		p := log.closing(d)
		pay, rest, err := AccrueDay(p, rateBP, a.carry)
		if err != nil {
			return accrual{}, err
		}
		a.days = append(a.days, dayPay{Date: d, Principal: p, Pay: pay})
		a.paid += pay
		a.carry, a.through, a.base = rest, d, p
		if pay > 0 {
			paying++
		}
	}
	for day := range log.closes {
		if day <= a.through {
			a.consume = append(a.consume, day)
		}
	}
	sort.Strings(a.consume)
	return a, nil
}
