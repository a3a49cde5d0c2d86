package routes

import (
	"strings"
	"testing"
	"time"
)

func TestRouteTableIsConsistent(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Routes {
		key := r.Method + " " + r.Path
		if seen[key] {
			t.Errorf("duplicate route %s", key)
		}
		seen[key] = true
		if !strings.HasPrefix(r.Path, "/") || r.Function == "" || len(r.Table) == 0 {
			t.Errorf("incomplete route %+v", r)
		}
		if r.MovesMoney && r.Method != "POST" {
			t.Errorf("%s moves money but is not a POST", key)
		}
		for _, a := range r.Table {
			if a == "dynamodb:*" || !strings.HasPrefix(a, "dynamodb:") {
				t.Errorf("%s: table action %q", key, a)
			}
		}
	}
}

// Every rate job says which due kinds it reads (the local test clock fires
// it only when one of them has something due); daily jobs fire at every
// slot and declare none. Each owning package checks the kinds themselves.
func TestRateSchedulesDeclareTheirDueKinds(t *testing.T) {
	for _, s := range Schedules {
		if _, ok := ScheduleNamed(s.Name); !ok {
			t.Errorf("ScheduleNamed(%q) finds nothing", s.Name)
		}
		if s.Every == 0 {
			if len(s.Due) > 0 {
				t.Errorf("daily schedule %s declares Due %v: daily jobs fire at every slot", s.Name, s.Due)
			}
			continue
		}
		if len(s.Due) == 0 {
			t.Errorf("rate schedule %s declares no Due kinds", s.Name)
		}
		seen := map[string]bool{}
		for _, k := range s.Due {
			if k == "" || strings.HasPrefix(k, "DUE#") || seen[k] {
				t.Errorf("schedule %s: due kind %q (empty, a bucket rather than a kind, or twice)", s.Name, k)
			}
			seen[k] = true
		}
	}
	if got := shards("fold", 3); strings.Join(got, " ") != "fold#00 fold#01 fold#02" {
		t.Errorf("shards: %v", got)
	}
}

func TestScheduleExpressionAndNext(t *testing.T) {
	utc := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	tests := []struct {
		s        Schedule
		expr     string
		from     string
		wantNext string
	}{
		{Schedule{Name: "sweep", Every: 5 * time.Minute}, "rate(5 minutes)", "2026-11-22T10:03:00Z", "2026-11-22T10:05:00Z"},
		{Schedule{Name: "sweep", Every: time.Minute}, "rate(1 minute)", "2026-11-22T10:05:00Z", "2026-11-22T10:06:00Z"},
		// 04:00 KST is 19:00 UTC the day before.
		{Schedule{Name: "interest", DailyAt: "04:00", TimeZone: "Asia/Seoul"}, "cron(0 4 * * ? *)", "2026-11-22T18:59:00Z", "2026-11-22T19:00:00Z"},
		{Schedule{Name: "interest", DailyAt: "04:00", TimeZone: "Asia/Seoul"}, "cron(0 4 * * ? *)", "2026-11-22T19:00:00Z", "2026-11-23T19:00:00Z"},
	}
	for _, tc := range tests {
		expr, err := tc.s.Expression()
		if err != nil || expr != tc.expr {
			t.Errorf("%s: expression %q %v, want %q", tc.s.Name, expr, err, tc.expr)
		}
		next, err := tc.s.Next(utc(tc.from))
		if err != nil || !next.Equal(utc(tc.wantNext)) {
			t.Errorf("%s: Next(%s) = %s %v, want %s", tc.s.Name, tc.from, next, err, tc.wantNext)
		}
	}
	for _, bad := range []Schedule{{Name: "both", Every: time.Minute, DailyAt: "04:00"}, {Name: "neither"}, {Name: "bad", DailyAt: "25:00", TimeZone: "Asia/Seoul"}, {Name: "sec", Every: time.Second}} {
		if _, err := bad.Expression(); err == nil {
			t.Errorf("%s: no error", bad.Name)
		}
	}
}

// Issue 22 item 8: overload must be the gateway's fast 429, never Lambda's
// refusal (answered 500): on every row a throttle's burst (plus what it
// refills while a burst runs) fits in the function's reserved concurrency.
func TestEveryRowShedsOverloadBeforeReservedConcurrency(t *testing.T) {
	reserving := 0
	for _, r := range Served() {
		if err := r.OverloadSafe(); err != nil {
			t.Error(err)
		}
		if r.ReservedConcurrency > 0 {
			reserving++
			if r.Throttle.Burst > r.ReservedConcurrency {
				t.Errorf("%s %s: burst %d > reserved concurrency %d", r.Method, r.Path, r.Throttle.Burst, r.ReservedConcurrency)
			}
		}
	}
	if reserving == 0 {
		t.Fatal("no row reserves concurrency: the test checks nothing")
	}
	for _, bad := range []Route{
		{Method: "POST", Path: "/x", ReservedConcurrency: 10, Throttle: &Throttle{Rate: 10, Burst: 20}},
		{Method: "POST", Path: "/x", ReservedConcurrency: 50, Throttle: &Throttle{Rate: 50, Burst: 50}},
		{Method: "POST", Path: "/x", ReservedConcurrency: 5},
	} {
		if bad.OverloadSafe() == nil {
			t.Errorf("%+v passes", bad)
		}
	}
}

// Issue 24: every route's throttle and reservation come from limits.json
// (derived by localstack/capacity from the footprints), which was derived with
// this package's constants; the reservations leave Lambda's unreserved
// minimum; only the document's row is set by hand.
func TestThrottlesAreTheDerivedOnes(t *testing.T) {
	a := Derived.Assumptions
	if a.HandlerLatencyMs != int(HandlerLatency.Milliseconds()) || a.BurstWindowMs != int(BurstWindow.Milliseconds()) ||
		a.MinBurst != MinBurst || a.LambdaAccountConcurrency != LambdaAccountConcurrency ||
		a.LambdaUnreservedMinimum != LambdaUnreservedMinimum || a.GatewayAccountRate != GatewayAccountRate {
		t.Errorf("limits.json was derived with %+v: go test ./localstack/capacity -run TestRouteLimits -update", a)
	}
	if HandlerLatency < RefillMargin {
		t.Errorf("HandlerLatency %s < RefillMargin %s: a derived reservation would not cover its refill", HandlerLatency, RefillMargin)
	}
	total := 0
	for _, r := range Served() {
		key := r.Method + " " + r.Path
		l, ok := Derived.Routes[key]
		switch {
		case !ok && key != Document.Method+" "+Document.Path:
			t.Errorf("%s: no derived limit in limits.json", key)
		case ok && (r.Throttle == nil || r.Throttle.Rate != l.Rate || r.Throttle.Burst != l.Burst || r.ReservedConcurrency != l.Reserved):
			t.Errorf("%s: row %+v reserved %d, derived %+v", key, r.Throttle, r.ReservedConcurrency, l)
		}
		total += r.ReservedConcurrency
	}
	if total > LambdaAccountConcurrency-LambdaUnreservedMinimum {
		t.Errorf("reservations add up to %d: Lambda keeps %d of %d unreserved", total, LambdaUnreservedMinimum, LambdaAccountConcurrency)
	}
	for key := range Derived.Routes {
		found := false
		for _, r := range Routes {
			found = found || r.Method+" "+r.Path == key
		}
		if !found {
			t.Errorf("limits.json has %s, which is no route", key)
		}
	}
}
