package emulator_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"minipay/localstack/emulator"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/clock"
)

type jobLog struct {
	mu   sync.Mutex
	seen []emulator.ScheduledEvent
}

func (j *jobLog) handler(fail bool) func(context.Context, emulator.ScheduledEvent) (map[string]any, error) {
	return func(ctx context.Context, e emulator.ScheduledEvent) (map[string]any, error) {
		j.mu.Lock()
		j.seen = append(j.seen, e)
		j.mu.Unlock()
		if fail {
			return nil, errors.New("job failed")
		}
		return map[string]any{"done": e.Job}, nil
	}
}

func (j *jobLog) take() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []string
	for _, e := range j.seen {
		out = append(out, e.Job+"@"+e.ScheduledTime)
	}
	j.seen = nil
	return out
}

var testSchedules = []routes.Schedule{
	{Name: "sweep", Function: "sweep-fn", Every: 5 * time.Minute},
	{Name: "interest", Function: "interest-fn", DailyAt: "00:10", TimeZone: "Asia/Seoul"},
	{Name: "broken", Function: "broken-fn", Every: 24 * time.Hour},
}

func newScheduler(t *testing.T, maxCatchUp int) (*emulator.Emulator, *clock.Manual, *jobLog) {
	t.Helper()
	jobs := &jobLog{}
	// 2026-11-22 10:00 KST = 01:00 UTC.
	clk := clock.NewManual(time.Date(2026, 11, 22, 10, 0, 0, 0, clock.KST))
	em, err := emulator.New(emulator.Config{
		Handlers:  map[string]any{"sweep-fn": jobs.handler(false), "interest-fn": jobs.handler(false), "broken-fn": jobs.handler(true)},
		Schedules: testSchedules, Clock: clk, Log: quietLog(), MaxCatchUp: maxCatchUp,
	})
	if err != nil {
		t.Fatal(err)
	}
	return em, clk, jobs
}

func TestSchedulerTicks(t *testing.T) {
	em, clk, jobs := newScheduler(t, 1000)
	ctx := context.Background()
	steps := []struct {
		name    string
		advance time.Duration
		want    []string
	}{
		{"before the first slot", 4*time.Minute + 59*time.Second, nil},
		{"the first slot", time.Second, []string{"sweep@2026-11-22T01:05:00Z"}},
		{"the same instant again", 0, nil},
		{"within the next period", 4 * time.Minute, nil},
		{"catch up after a skipped period", 11 * time.Minute, []string{ // now 10:20
			"sweep@2026-11-22T01:10:00Z", "sweep@2026-11-22T01:15:00Z", "sweep@2026-11-22T01:20:00Z"}},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		em.Tick(ctx, clk.Now())
		if got := jobs.take(); !reflect.DeepEqual(got, s.want) {
			t.Fatalf("%s: fired %v, want %v", s.name, got, s.want)
		}
	}

	// A clock moved backwards fires nothing, and does not re-arm old slots.
	if runs := em.Tick(ctx, clk.Now().Add(-time.Hour)); len(runs) != 0 {
		t.Fatalf("a tick in the past fired %v", runs)
	}

	// On to the next day 10:00 KST: 23h40m of 5-minute sweep slots, the
	// daily interest job at 00:10 KST (15:10 UTC) once, and the daily
	// "broken" job at 00:00 UTC, which fails; all in time order.
	clk.Set(time.Date(2026, 11, 23, 10, 0, 0, 0, clock.KST))
	runs := em.Tick(ctx, clk.Now())
	got := jobs.take()
	var interest, broken, sweeps int
	for i, r := range runs {
		if i > 0 && r.At.Before(runs[i-1].At) {
			t.Fatalf("run %d (%s %s) is before run %d", i, r.Job, r.At, i-1)
		}
		switch r.Job {
		case "interest":
			interest++
			if want := time.Date(2026, 11, 22, 15, 10, 0, 0, time.UTC); !r.At.Equal(want) {
				t.Errorf("interest ran for %s, want %s", r.At, want)
			}
		case "broken":
			broken++
			if r.Err == nil {
				t.Error("the failing job reported no error")
			}
		case "sweep":
			sweeps++
			if r.Err != nil || string(r.Output) != `{"done":"sweep"}` {
				t.Errorf("sweep run: %s %v", r.Output, r.Err)
			}
		}
	}
	if interest != 1 || broken != 1 || sweeps != 24*12-4 {
		t.Errorf("interest %d broken %d sweeps %d, want 1 1 %d", interest, broken, sweeps, 24*12-4)
	}
	if len(got) != len(runs) {
		t.Errorf("handlers saw %d events for %d runs", len(got), len(runs))
	}
	st := em.Stats()
	if st.ScheduledRuns != int64(1+3+len(runs)) || st.ScheduledFailures != 1 {
		t.Errorf("stats: %d runs %d failures", st.ScheduledRuns, st.ScheduledFailures)
	}
}

func TestSchedulerSameSlotOrder(t *testing.T) {
	// Two schedules due at one instant fire in table order.
	em, clk, jobs := newScheduler(t, 1000)
	clk.Set(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)) // 09:00 KST: broken (daily 00:00 UTC) and sweep
	em.Tick(context.Background(), clk.Now())
	got := jobs.take()
	n := len(got)
	if n < 2 || got[n-2] != "sweep@2026-11-23T00:00:00Z" || got[n-1] != "broken@2026-11-23T00:00:00Z" {
		t.Fatalf("last runs %v", got[max(0, n-3):])
	}
}

func TestSchedulerCatchUpCap(t *testing.T) {
	em, clk, jobs := newScheduler(t, 3)
	clk.Advance(time.Hour) // 12 sweep slots missed: only the newest 3 fire
	em.Tick(context.Background(), clk.Now())
	want := []string{"sweep@2026-11-22T01:50:00Z", "sweep@2026-11-22T01:55:00Z", "sweep@2026-11-22T02:00:00Z"}
	if got := jobs.take(); !reflect.DeepEqual(got, want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
}

func TestSchedulerConcurrentTicks(t *testing.T) {
	// Ticks racing for one instant fire each slot once.
	em, clk, jobs := newScheduler(t, 1000)
	clk.Advance(30 * time.Minute)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); em.Tick(context.Background(), clk.Now()) }()
	}
	wg.Wait()
	if got := jobs.take(); len(got) != 6 {
		t.Fatalf("fired %v, want the 6 sweep slots once each", got)
	}
}

func TestFire(t *testing.T) {
	em, _, jobs := newScheduler(t, 1000)
	at := time.Date(2026, 12, 1, 15, 10, 0, 0, time.UTC)
	run, err := em.Fire(context.Background(), "interest", at)
	if err != nil || string(run.Output) != `{"done":"interest"}` {
		t.Fatalf("Fire: %s %v", run.Output, err)
	}
	if got := jobs.take(); !reflect.DeepEqual(got, []string{"interest@2026-12-01T15:10:00Z"}) {
		t.Fatalf("fired %v", got)
	}
	if _, err := em.Fire(context.Background(), "broken", at); err == nil {
		t.Error("a failing job's Fire returned no error")
	}
	if _, err := em.Fire(context.Background(), "nope", at); err == nil {
		t.Error("Fire of an unknown job returned no error")
	}
	// Fire leaves Tick's bookkeeping alone: the first sweep slot still fires once.
	jobs.take()
	em.Tick(context.Background(), time.Date(2026, 11, 22, 1, 5, 0, 0, time.UTC))
	if got := jobs.take(); !reflect.DeepEqual(got, []string{"sweep@2026-11-22T01:05:00Z"}) {
		t.Fatalf("after Fire, Tick fired %v", got)
	}
}

func TestRunSchedulesStops(t *testing.T) {
	em, _, _ := newScheduler(t, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { em.RunSchedules(ctx); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunSchedules did not return after its context ended")
	}
}
