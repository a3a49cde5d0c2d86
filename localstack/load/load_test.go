package load

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"minipay/localstack/ddbtest"
	"minipay/shared/kernel/config"
)

func TestMain(m *testing.M) { os.Exit(ddbtest.Main(m)) }

// noTimings are thresholds no latency crosses: the smoke runs judge
// outcomes, never timings (a loaded 2-core machine is slow at random).
var noTimings = Thresholds{ErrorRate: 0, P95: time.Hour, P99: time.Hour}

// A few seconds of journeys at a low rate against the stack in process,
// under both registration policies: every step of the journey ran and got
// an expected status (and a response the OpenAPI document describes), no
// journey stopped, no arrival was dropped, and the audit holds.
func TestSmoke(t *testing.T) {
	for _, policy := range []string{config.RegistrationOpen, config.RegistrationOperator} {
		t.Run(policy, func(t *testing.T) {
			var out bytes.Buffer
			o := Options{Endpoint: ddbtest.Endpoint(), OperatorToken: "smoke-operator-token", StackRegistration: policy,
				// 2 journeys a second for 3 s: 6 journeys, every branch of the mix.
				Stages: []Stage{{0, 2}, {3 * time.Second, 2}}, Thresholds: noTimings, MaxInFlight: 100, Friends: 4, Stores: 2,
				Drain: 5 * time.Minute, RequestTimeout: 5 * time.Minute, FunctionTimeout: 2 * time.Minute, OpenAPI: true, Seed: 1}
			if policy == config.RegistrationOpen {
				o.WarmUp = time.Second // one unrecorded journey first
			}
			res, err := Run(context.Background(), &out, o)
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if res.Arrivals != 6 || res.Started != 6 || res.Dropped != 0 || res.Failed != 0 || !res.Audited {
				t.Errorf("arrivals %d started %d dropped %d failed %d audited %v, want 6 6 0 0 true\n%s",
					res.Arrivals, res.Started, res.Dropped, res.Failed, res.Audited, out.String())
			}
			for _, s := range res.Steps {
				if s.Count == 0 || s.Errors != 0 {
					t.Errorf("step %q: %d requests, %d errors; want some and none\n%s", s.Step, s.Count, s.Errors, out.String())
				}
			}
			for _, want := range []string{"registration " + policy, "| register ", "| order refund ", "| settlement pay ", "| savings close ",
				"thresholds: all held", "sum of balances 0: OK"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("report lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

// A short knee run (two stages, no latency limit): the bare ceiling is
// measured, each stage judged, the top reached without crossing, the knee
// reported with its per-step figures, and the audit holds.
func TestKneeSmoke(t *testing.T) {
	var out bytes.Buffer
	o := Options{Endpoint: ddbtest.Endpoint(), OperatorToken: "smoke-operator-token", Thresholds: noTimings,
		Knee: &Knee{Start: 1, Step: 1, Max: 2, Hold: 2 * time.Second, P99: time.Hour}, MaxInFlight: 100, Friends: 4, Stores: 1,
		Drain: 5 * time.Minute, RequestTimeout: 5 * time.Minute, FunctionTimeout: 2 * time.Minute, Seed: 2, CeilingTransfers: 40}
	res, err := Run(context.Background(), &out, o)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	k := res.Knee
	if k == nil || len(k.Stages) != 2 || k.Ceiling == nil || k.Ceiling.PerSecond <= 0 || k.CeilingAfter == nil || k.Rate != 2 || !res.Audited {
		t.Fatalf("knee %+v, audited %v\n%s", k, res.Audited, out.String())
	}
	for _, st := range k.Stages {
		if !st.Held || st.Errors != 0 || st.Dropped != 0 || st.Requests == 0 || st.Transacts <= 0 {
			t.Errorf("stage %+v: want held, no errors or drops, some requests and transactions\n%s", st, out.String())
		}
	}
	for _, want := range []string{"bare DynamoDB Local ceiling", "reached its top", "knee: 2 journeys/s held", "per step at the knee", "sum of balances 0: OK"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// The climb ends at the first stage that crosses the error threshold:
// here one journey at a time (each at least 7 s long, a second of thought
// between steps) against 2 arrivals a second, so the first stage drops
// most of its arrivals. No stage held: the run says so and fails with
// ErrThresholds; the journey cut short leaves no failure behind, and the
// audit holds.
func TestKneeStopsAtTheErrorThreshold(t *testing.T) {
	var out bytes.Buffer
	o := Options{Endpoint: ddbtest.Endpoint(), OperatorToken: "smoke-operator-token", Thresholds: noTimings,
		Knee: &Knee{Start: 2, Step: 2, Max: 6, Hold: 2 * time.Second, P99: time.Hour}, MaxInFlight: 1, Think: time.Second,
		Friends: 3, Stores: 1, Drain: 5 * time.Minute, RequestTimeout: 5 * time.Minute, FunctionTimeout: 2 * time.Minute, Seed: 3, CeilingTransfers: 20}
	res, err := Run(context.Background(), &out, o)
	if !errors.Is(err, ErrThresholds) {
		t.Fatalf("err %v, want ErrThresholds\n%s", err, out.String())
	}
	k := res.Knee
	if len(k.Stages) != 1 || !k.Stages[0].Crossed || k.Stages[0].Dropped != 3 || k.Rate != 0 || k.Stage != nil || !res.Audited {
		t.Fatalf("knee %+v\n%s", k, out.String())
	}
	if k.Stages[0].Errors != 0 || strings.Contains(out.String(), "failures") {
		t.Errorf("the cut journey's requests were counted as failures\n%s", out.String())
	}
	for _, want := range []string{"ERROR THRESHOLD CROSSED", "knee: no stage was held", "sum of balances 0: OK"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestArrivals(t *testing.T) {
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	tests := []struct {
		name   string
		start  float64
		stages []Stage
		want   []time.Duration
	}{
		{"constant 2/s for 3 s", 2, []Stage{{3 * time.Second, 2}}, []time.Duration{sec(.25), sec(.75), sec(1.25), sec(1.75), sec(2.25), sec(2.75)}},
		// From 0 to 4/s over 2 s: the area to t is t^2, so n - 1/2 is reached at sqrt(n - 1/2).
		{"ramp 0 to 4/s over 2 s", 0, []Stage{{2 * time.Second, 4}}, []time.Duration{sec(0.7071067811865476), sec(1.224744871391589), sec(1.5811388300841898), sec(1.8708286933869707)}},
		{"a jump, then held", 0, []Stage{{0, 1}, {2 * time.Second, 1}}, []time.Duration{sec(.5), sec(1.5)}},
		{"zero rate, then 1/s", 0, []Stage{{time.Second, 0}, {0, 1}, {time.Second, 1}}, []time.Duration{sec(1.5)}},
		{"ramp down 2 to 0 over 2 s", 2, []Stage{{2 * time.Second, 0}}, []time.Duration{sec(2 - 1.7320508075688772), sec(1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Arrivals(tc.start, tc.stages, 100)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if d := got[i] - tc.want[i]; d > time.Microsecond || d < -time.Microsecond {
					t.Errorf("arrival %d at %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
	// A long stair: ordered, within the run, round(area) of them, bounded by max.
	k := Knee{Start: 1, Step: 1.5, Max: 10, Hold: 7 * time.Second}
	stair := Arrivals(0, k.stages(), 1_000_000)
	area := 0.0
	for _, r := range k.rates() {
		area += r * 7
	}
	if len(stair) != int(area+0.5) {
		t.Errorf("%d arrivals on a stair of area %g", len(stair), area)
	}
	for i := 1; i < len(stair); i++ {
		if stair[i] < stair[i-1] || stair[i] > Total(k.stages()) {
			t.Fatalf("arrival %d at %v after %v", i, stair[i], stair[i-1])
		}
	}
	if n := len(Arrivals(0, k.stages(), 10)); n != 10 {
		t.Errorf("max 10: got %d", n)
	}
}

func TestParseStages(t *testing.T) {
	got, err := ParseStages("15s:2, 30s:2.5,5s:0")
	if err != nil || len(got) != 3 || got[1] != (Stage{30 * time.Second, 2.5}) || got[2] != (Stage{5 * time.Second, 0}) {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"", "15s", "x:2", "15s:-1", "15s:x", "-1s:2", "1s:NaN"} {
		if _, err := ParseStages(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestFill(t *testing.T) {
	tests := []struct {
		path   string
		params []string
		want   string
		ok     bool
	}{
		{"/rooms/{id}/sprinkles/{token}/claims", []string{"r_1", "AbC"}, "/rooms/r_1/sprinkles/AbC/claims", true},
		{"/users", nil, "/users", true},
		{"/accounts/{id}", nil, "", false},
		{"/accounts/{id}", []string{"a", "b"}, "", false},
	}
	for _, tc := range tests {
		got, err := fill(tc.path, tc.params)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("fill(%q, %v) = %q, %v", tc.path, tc.params, got, err)
		}
	}
}

func TestThresholds(t *testing.T) {
	th := Thresholds{ErrorRate: 0.01, P95: 500 * time.Millisecond, P99: time.Second}
	steps := []StepStats{
		{Step: "ok", Count: 200, Errors: 2, P95: 500 * time.Millisecond, P99: time.Second},
		{Step: "errors", Count: 100, Errors: 2},
		{Step: "slow", Count: 10, P95: 501 * time.Millisecond, P99: 2 * time.Second},
		{Step: "none", Count: 0, Errors: 0},
	}
	got := th.crossed(steps, 100, 2)
	want := []string{"errors: errors 2.00% > 1.00%", "slow: p95 501.0 ms > 500.0 ms", "slow: p99 2.00 s > 1.00 s",
		"journeys: 2 of 100 arrivals dropped (too many in flight) > 1.00%"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("crossed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := th.crossed(steps[:1], 100, 1); len(got) != 0 {
		t.Errorf("at the limits: %v", got)
	}
}

func TestPercentile(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 200; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{0.5: 100 * time.Millisecond, 0.95: 190 * time.Millisecond, 0.99: 198 * time.Millisecond, 1: 200 * time.Millisecond} {
		if got := percentile(lat, p); got != want {
			t.Errorf("p%g = %v, want %v", 100*p, got, want)
		}
	}
	if percentile(nil, 0.5) != 0 || percentile(lat[:1], 0.99) != time.Millisecond {
		t.Error("edge cases")
	}
}

// The mix is exact by journey number: in every 8 journeys, 2 cancelled
// (one before, one after the store accepted), 2 refunded, 4 completed; 4
// with a pending transfer, 4 with a fixed savings product, 2 closing their
// free savings account.
func TestMix(t *testing.T) {
	count := map[int]int{}
	pending, fixed, closed := 0, 0, 0
	for n := 0; n < 8; n++ {
		count[orderOutcome(n)]++
		if pendingJourney(n) {
			pending++
		}
		if fixedJourney(n) {
			fixed++
		}
		if closeJourney(n) {
			closed++
		}
	}
	if count[orderCancelled] != 1 || count[orderCancelledAccepted] != 1 || count[orderRefunded] != 2 || count[orderCompleted] != 4 ||
		pending != 4 || fixed != 4 || closed != 2 {
		t.Errorf("mix %v, pending %d, fixed %d, closed %d", count, pending, fixed, closed)
	}
}

// Every step names a route whose operation documents its success status.
func TestStepsHaveRoutes(t *testing.T) {
	for i, name := range Steps {
		if stepRoute[name] == "" {
			t.Errorf("step %d %q has no route", i, name)
		}
	}
}
