package emulator

// The local stack's test clock (Stripe's test clocks are the model): the
// emulator's clock is the real time plus an offset that only grows, and
// AdvanceClock moves it forward by a duration, firing the schedule slots
// that fall due on the way, in time order, each with the clock set to its
// slot, as if that time had passed (skipping the sweeps' slots with
// nothing due, which would do nothing). Local only: TestClockHandler is served
// by the local stack beside the API (never a row of the route table, so
// never deployed).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"minipay/shared/edge/routes"
	"minipay/shared/kernel/clock"
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
	path   string // "": the offset lives in memory only
	err    error  // the last failure to keep the offset in path
}

// NewOffsetClock is base (usually clock.Real{}) with no offset yet.
func NewOffsetClock(base clock.Clock) *OffsetClock { return &OffsetClock{base: base} }

// ClockFile is the file, in the local stack's data directory, that keeps
// the test clock's offset across restarts.
const ClockFile = "minipay-test-clock.json"

// clockState is ClockFile's content.
type clockState struct {
	Offset      string `json:"offset"`
	OffsetNanos int64  `json:"offsetNanos"`
}

// OpenOffsetClock is base plus the offset kept in path (none if the file
// does not exist yet); every Advance writes the new offset to path before
// it returns, so a restart (or a crash) keeps the clock with the data.
func OpenOffsetClock(base clock.Clock, path string) (*OffsetClock, error) {
	c := &OffsetClock{base: base, path: path}
	off, err := ReadClockOffset(path)
	if err != nil {
		return nil, err
	}
	c.offset = off
	return c, nil
}

// ReadClockOffset reads the offset kept in path (0 when there is no file).
func ReadClockOffset(path string) (time.Duration, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("emulator: test clock: %w", err)
	}
	var st clockState
	if err := json.Unmarshal(b, &st); err != nil || st.OffsetNanos < 0 {
		return 0, fmt.Errorf("emulator: test clock: %s is not a clock file (%v); remove it to start from the wall clock", path, err)
	}
	return time.Duration(st.OffsetNanos), nil
}

// save writes the offset to c.path: a new file, synced, renamed over the
// old one (and the directory synced), so a crash leaves the old offset or
// the new one. Called with c.mu held.
func (c *OffsetClock) save() error {
	if c.path == "" {
		return nil
	}
	b, _ := json.Marshal(clockState{Offset: c.offset.String(), OffsetNanos: int64(c.offset)})
	return writeFileDurably(c.path, append(b, '\n'))
}

// writeFileDurably replaces path with b so that a crash leaves either the
// old content or the new.
func writeFileDurably(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	_ = d.Sync() // not every file system syncs a directory; the rename is done either way
	return nil
}

// Err is the last failure to keep the offset in its file (nil: kept).
func (c *OffsetClock) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

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
	c.err = c.save()
	c.mu.Unlock()
}

// Offset is how far ahead of the base the clock runs.
func (c *OffsetClock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// MaxAdvance bounds one advance (a year).
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
// and fires the schedule slots in (now, now+d] in time order, the clock
// set to each slot's time before its jobs run (and their queued work
// drains), with the result of firing every slot. Slots already due before
// the call are fired first (Tick). One advance at a time.
//
// Every slot of a daily schedule fires. A rate schedule that declares the
// due kinds it reads (routes.Schedule.Due) fires, when Config.NextDue is
// set, only at the slots where one of them has an item due: the first slot
// at or after the earliest dueAt, and at that slot only if the item is
// still due when its turn comes. The slots in between are skipped, because
// a sweep with nothing due does nothing; the earliest due time is read
// again after every slot fired, since jobs make new due work (a reminder
// moves the transfer's dueAt to its expiry, a payment's postings are due
// for the fold) and an item a run left due (its budget ran out, it failed)
// fires the next slot too. So a day is a handful of runs, not 7,200, and
// the fired counts are of the runs that happened. A rate schedule without
// Due, or an emulator without NextDue, fires at every slot; a NextDue error
// fires the slot.
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
	due := dueCache{}
	for ctx.Err() == nil {
		var next time.Time
		for _, s := range e.schedules {
			t, ok := e.nextSlot(ctx, s, cursor, due)
			if ok && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
		if next.IsZero() || next.After(target) {
			break
		}
		record(e.tickAt(ctx, adv, next, due))
		cursor = next
	}
	// Only skipped slots are left in (cursor, target]: the clock and the
	// bookkeeping move on without firing them. An advance whose ctx ended
	// stops at the last slot it fired.
	if ctx.Err() == nil {
		e.schedMu.Lock()
		if gap := target.Sub(adv.Now()); gap > 0 {
			adv.Advance(gap)
		}
		if target.After(e.lastTick) {
			e.lastTick = target
		}
		e.schedMu.Unlock()
	}
	sort.SliceStable(out.Daily, func(i, j int) bool { return out.Daily[i].At.Before(out.Daily[j].At) })
	out.Now = adv.Now().UTC()
	return out, ctx.Err()
}

// nextSlot is s's next slot after cursor that AdvanceClock fires: s.Next,
// or for a rate schedule reading due kinds the first slot after cursor at
// or after their earliest due item (false: nothing is due at all).
func (e *Emulator) nextSlot(ctx context.Context, s routes.Schedule, cursor time.Time, cache dueCache) (time.Time, bool) {
	if e.skips(s) {
		due, ok, err := e.earliestDue(ctx, s, cache)
		switch {
		case err != nil:
			e.log.WarnContext(ctx, "emulator: test clock: earliest due; firing the next slot", "job", s.Name, "error", err.Error())
		case !ok:
			return time.Time{}, false
		case due.After(cursor):
			// Slots are whole periods, so the one just before due is
			// strictly before it and Next gives the first at or after it.
			cursor = due.Add(-time.Nanosecond)
		}
	}
	t, err := s.Next(cursor)
	return t, err == nil
}

// skips: AdvanceClock fires s only when its due kinds have something due.
func (e *Emulator) skips(s routes.Schedule) bool {
	return e.cfg.NextDue != nil && s.Every > 0 && len(s.Due) > 0
}

// tickAt is AdvanceClock's Tick for one time: the clock moves to at and
// the schedules with a slot at at fire, in table order as Tick orders a
// slot's runs, except a skipping rate schedule with nothing due by then
// (asked just before its turn, so an item an earlier job of the same slot
// made due is seen, as it would be). The slots skipped since the last tick
// are not caught up: the scheduler's bookkeeping moves to at with the
// clock, both under the lock Tick takes, so a concurrent Tick (the local
// stack's real ticker) never sees the jump without it.
func (e *Emulator) tickAt(ctx context.Context, adv Advancer, at time.Time, cache dueCache) []Run {
	e.schedMu.Lock()
	defer e.schedMu.Unlock()
	if gap := at.Sub(adv.Now()); gap > 0 {
		adv.Advance(gap)
	}
	if !at.After(e.lastTick) {
		return nil // a concurrent Tick fired this slot already
	}
	e.lastTick = at
	var runs []Run
	for _, s := range e.schedules {
		if t, err := s.Next(at.Add(-time.Nanosecond)); err != nil || !t.Equal(at) {
			continue
		}
		if e.skips(s) {
			due, ok, err := e.earliestDue(ctx, s, cache)
			if err != nil {
				e.log.WarnContext(ctx, "emulator: test clock: earliest due; firing the slot", "job", s.Name, "error", err.Error())
			} else if !ok || due.After(adv.Now()) { // the job reads what is due by its clock's now
				continue
			}
		}
		runs = append(runs, e.fire(ctx, s, at))
		clear(cache) // the run may have made or taken due work
	}
	return runs
}

// dueCache holds NextDue's answers by schedule name while no job has run
// since they were read.
type dueCache map[string]dueAnswer

type dueAnswer struct {
	at time.Time
	ok bool
}

// earliestDue is NextDue for s's due kinds, read once until a job runs.
func (e *Emulator) earliestDue(ctx context.Context, s routes.Schedule, cache dueCache) (time.Time, bool, error) {
	if a, hit := cache[s.Name]; hit {
		return a.at, a.ok, nil
	}
	at, ok, err := e.cfg.NextDue(ctx, s.Due)
	if err == nil {
		cache[s.Name] = dueAnswer{at, ok}
	}
	return at, ok, err
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
		if oc, ok := e.clock.(*OffsetClock); ok && oc.Err() != nil {
			e.log.ErrorContext(r.Context(), "emulator: test clock: the offset was not kept with the data; a restart will go back", "error", oc.Err().Error())
		}
		if err != nil {
			clockProblem(w, http.StatusConflict, err.Error())
			return
		}
		res.Now = res.Now.UTC()
		writeJSON(w, http.StatusOK, res)
	})
	return localOnly(mux) // clockguard.go: loopback Host, no cross-site request, JSON bodies
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
