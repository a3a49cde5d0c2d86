package emulator

// The local stack's test clock (Stripe's test clocks are the model): the
// emulator's clock is the real time plus an offset that only grows, and
// AdvanceClock moves it forward by a duration, firing every schedule slot
// that falls due on the way, in time order, each with the clock set to its
// slot, as if that time had passed. Local only: TestClockHandler is served
// by the local stack beside the API (never a row of the route table, so
// never deployed).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"minipay/shared/clock"
)

// TestClockPath is the local-only route: GET tells the time, POST
// TestClockPath+"/advance" {"duration":"24h"} advances it.
const TestClockPath = "/_local/clock"

// Advancer is a clock that can be moved forward (clock.Manual in tests,
// OffsetClock in the local stack).
type Advancer interface {
	clock.Clock
	Advance(time.Duration)
}

// OffsetClock is a base clock plus an offset that never shrinks.
type OffsetClock struct {
	base   clock.Clock
	mu     sync.Mutex
	offset time.Duration
}

// NewOffsetClock is base (usually clock.Real{}) with no offset yet.
func NewOffsetClock(base clock.Clock) *OffsetClock { return &OffsetClock{base: base} }

// Now is the base time plus the offset.
func (c *OffsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base.Now().Add(c.offset)
}

// Advance moves the clock forward by d (a negative d does nothing).
func (c *OffsetClock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// Offset is how far ahead of the base the clock runs.
func (c *OffsetClock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// MaxAdvance bounds one advance (a year): every minute's slot is fired.
const MaxAdvance = 366 * 24 * time.Hour

// ErrClockFixed: the emulator's clock cannot be advanced.
var ErrClockFixed = errors.New("emulator: this clock cannot be advanced (the local stack's can)")

// Advanced is what AdvanceClock did.
type Advanced struct {
	From  time.Time      `json:"from"`
	Now   time.Time      `json:"now"`
	Fired map[string]int `json:"fired"` // runs by job
	// Daily lists each run of a daily job, in order.
	Daily  []FiredRun `json:"daily"`
	Failed []FiredRun `json:"failed,omitempty"`
}

// FiredRun is one run of a job.
type FiredRun struct {
	Job   string    `json:"job"`
	At    time.Time `json:"at"`
	Error string    `json:"error,omitempty"`
}

// AdvanceClock moves the emulator's clock forward by d (never backwards)
// and fires every schedule slot in (now, now+d] in time order, the clock
// set to each slot's time before its jobs run (and their queued work
// drains). Slots already due before the call are fired first. One advance
// at a time.
func (e *Emulator) AdvanceClock(ctx context.Context, d time.Duration) (Advanced, error) {
	adv, ok := e.clock.(Advancer)
	if !ok {
		return Advanced{}, ErrClockFixed
	}
	if d <= 0 {
		return Advanced{}, fmt.Errorf("emulator: advance by %s: the test clock only moves forward", d)
	}
	if d > MaxAdvance {
		return Advanced{}, fmt.Errorf("emulator: advance by %s: at most %s at a time", d, MaxAdvance)
	}
	e.advanceMu.Lock()
	defer e.advanceMu.Unlock()
	start := adv.Now()
	target := start.Add(d)
	out := Advanced{From: start, Fired: map[string]int{}}
	daily := map[string]bool{}
	for _, s := range e.schedules {
		daily[s.Name] = s.DailyAt != ""
	}
	record := func(runs []Run) {
		for _, r := range runs {
			out.Fired[r.Job]++
			fr := FiredRun{Job: r.Job, At: r.At.UTC()}
			if r.Err != nil {
				fr.Error = r.Err.Error()
				out.Failed = append(out.Failed, fr)
			}
			if daily[r.Job] {
				out.Daily = append(out.Daily, fr)
			}
		}
	}
	record(e.Tick(ctx, start))
	cursor := start
	for ctx.Err() == nil {
		var next time.Time
		for _, s := range e.schedules {
			t, err := s.Next(cursor)
			if err == nil && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
		if next.IsZero() || next.After(target) {
			break
		}
		if gap := next.Sub(adv.Now()); gap > 0 {
			adv.Advance(gap)
		}
		record(e.Tick(ctx, next))
		cursor = next
	}
	if gap := target.Sub(adv.Now()); gap > 0 {
		adv.Advance(gap)
	}
	record(e.Tick(ctx, adv.Now()))
	sort.SliceStable(out.Daily, func(i, j int) bool { return out.Daily[i].At.Before(out.Daily[j].At) })
	out.Now = adv.Now().UTC()
	return out, ctx.Err()
}

// TestClockHandler serves TestClockPath: GET {"now", "offset"}; POST
// .../advance {"duration": "36h"} advances the clock (see AdvanceClock)
// and answers what fired. Errors are problem+json.
func (e *Emulator) TestClockHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+TestClockPath, func(w http.ResponseWriter, r *http.Request) {
		body := map[string]any{"now": e.clock.Now().UTC(), "nowSeoul": e.clock.Now().In(clock.KST).Format(time.RFC3339)}
		if oc, ok := e.clock.(*OffsetClock); ok {
			body["offset"] = oc.Offset().String()
		}
		writeJSON(w, http.StatusOK, body)
	})
	mux.HandleFunc("POST "+TestClockPath+"/advance", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Duration string `json:"duration"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			clockProblem(w, http.StatusBadRequest, `send {"duration": "24h"} (a Go duration: 90m, 36h, ...)`)
			return
		}
		d, err := time.ParseDuration(in.Duration)
		if err != nil || d <= 0 || d > MaxAdvance {
			clockProblem(w, http.StatusBadRequest, fmt.Sprintf("duration must be a positive Go duration of at most %s (the clock never goes back), e.g. 24h", MaxAdvance))
			return
		}
		res, err := e.AdvanceClock(r.Context(), d)
		if err != nil {
			clockProblem(w, http.StatusConflict, err.Error())
			return
		}
		res.Now = res.Now.UTC()
		writeJSON(w, http.StatusOK, res)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func clockProblem(w http.ResponseWriter, status int, detail string) {
	b, _ := json.Marshal(map[string]any{"type": "urn:minipay:problem:test_clock", "title": "Test clock", "status": status,
		"code": "test_clock", "detail": detail})
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
