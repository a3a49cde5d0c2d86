package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"minipay/localstack/emulator"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/clock"
)

// dueStore is a fake due index: items by kind, each due at a time.
type dueStore struct {
	mu    sync.Mutex
	items map[string][]dueItem
	asked map[string]int // NextDue calls by kind
}

type dueItem struct {
	name  string
	at    time.Time
	again time.Duration // > 0: handling it makes it due again this much later, once
	fails int           // handling fails this many times first (the item stays due)
}

func (s *dueStore) add(kind string, it dueItem) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items[kind] = append(s.items[kind], it)
}

func (s *dueStore) nextDue(ctx context.Context, kinds []string) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var min time.Time
	found := false
	for _, k := range kinds {
		s.asked[k]++
		for _, it := range s.items[k] {
			if !found || it.at.Before(min) {
				min, found = it.at, true
			}
		}
	}
	return min, found, nil
}

// sweep handles kind's items due by now, as a due-index sweep does.
func (s *dueStore) sweep(kind string, now time.Time) (handled []string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keep []dueItem
	for _, it := range s.items[kind] {
		switch {
		case it.at.After(now):
			keep = append(keep, it)
		case it.fails > 0:
			it.fails--
			keep = append(keep, it)
			err = errors.Join(err, fmt.Errorf("%s failed", it.name))
		default:
			handled = append(handled, it.name)
			if it.again > 0 {
				keep = append(keep, dueItem{name: it.name + "-again", at: it.at.Add(it.again)})
			}
		}
	}
	s.items[kind] = keep
	sort.Strings(handled)
	return handled, err
}

// TestAdvanceClockSkipsIdleSweeps: with NextDue, a rate schedule that
// declares its due kinds fires only at the slots where something of those
// kinds is due (the first slot at or after it, again while it stays due),
// including what an earlier job of the same slot made due; a kind only a
// daily job reads never makes it fire; daily slots and rate schedules
// without Due fire as before; and the skipped slots are not caught up later.
func TestAdvanceClockSkipsIdleSweeps(t *testing.T) {
	// 2026-11-22 10:00 KST = 01:00 UTC.
	clk := emulator.NewOffsetClock(clock.NewManual(time.Date(2026, 11, 22, 10, 0, 0, 0, clock.KST)))
	store := &dueStore{items: map[string][]dueItem{}, asked: map[string]int{}}
	var mu sync.Mutex
	var seen []string
	logRun := func(e emulator.ScheduledEvent, what string) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf("%s@%s now %s%s", e.Job, e.ScheduledTime, clk.Now().UTC().Format("15:04:05"), what))
	}
	daily := func(ctx context.Context, e emulator.ScheduledEvent) (map[string]any, error) {
		logRun(e, "")
		// Work for the sweep at this very slot, and work of the daily
		// job's own kind (never swept here, so never gone).
		store.add("x", dueItem{name: "from-daily", at: clk.Now()})
		store.add("y", dueItem{name: "daily-own", at: clk.Now()})
		return nil, nil
	}
	sweep := func(ctx context.Context, e emulator.ScheduledEvent) (map[string]any, error) {
		handled, err := store.sweep("x", clk.Now())
		logRun(e, fmt.Sprint(" ", handled))
		return nil, err
	}
	plain := func(ctx context.Context, e emulator.ScheduledEvent) (map[string]any, error) {
		logRun(e, "")
		return nil, nil
	}
	em, err := emulator.New(emulator.Config{Handlers: map[string]any{"d": daily, "s": sweep, "p": plain}, Clock: clk, Log: quietLog(),
		NextDue: store.nextDue,
		Schedules: []routes.Schedule{
			{Name: "four", Function: "d", DailyAt: "04:00", TimeZone: "Asia/Seoul"}, // 19:00 UTC
			{Name: "sweep", Function: "s", Every: time.Minute, Due: []string{"x"}},
			{Name: "six-hourly", Function: "p", Every: 6 * time.Hour}, // no Due: every slot
		}})
	if err != nil {
		t.Fatal(err)
	}
	day1 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	store.add("x", dueItem{name: "reminder", at: day1.Add(3*time.Hour + 30*time.Minute + 30*time.Second), again: 24 * time.Hour})
	store.add("x", dueItem{name: "stuck", at: day1.Add(5 * time.Hour), fails: 2})
	store.add("x", dueItem{name: "on-the-slot", at: day1.Add(7 * time.Hour)})

	res, err := em.AdvanceClock(context.Background(), 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"sweep@2026-11-22T03:31:00Z now 03:31:00 [reminder]", // due 03:30:30: the first slot after
		"sweep@2026-11-22T05:00:00Z now 05:00:00 []",         // failed: still due, so every minute
		"sweep@2026-11-22T05:01:00Z now 05:01:00 []",
		"sweep@2026-11-22T05:02:00Z now 05:02:00 [stuck]",
		"six-hourly@2026-11-22T06:00:00Z now 06:00:00",
		"sweep@2026-11-22T07:00:00Z now 07:00:00 [on-the-slot]", // due at a slot: that slot
		"six-hourly@2026-11-22T12:00:00Z now 12:00:00",
		"six-hourly@2026-11-22T18:00:00Z now 18:00:00",
		"four@2026-11-22T19:00:00Z now 19:00:00",
		"sweep@2026-11-22T19:00:00Z now 19:00:00 [from-daily]", // made due by the slot's earlier job
		"six-hourly@2026-11-23T00:00:00Z now 00:00:00",
		"sweep@2026-11-23T03:31:00Z now 03:31:00 [reminder-again]", // work a run made due
		"six-hourly@2026-11-23T06:00:00Z now 06:00:00",
		"six-hourly@2026-11-23T12:00:00Z now 12:00:00",
		"six-hourly@2026-11-23T18:00:00Z now 18:00:00",
		"four@2026-11-23T19:00:00Z now 19:00:00",
		"sweep@2026-11-23T19:00:00Z now 19:00:00 [from-daily]",
		"six-hourly@2026-11-24T00:00:00Z now 00:00:00",
	}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("fired\n%v\nwant\n%v", seen, want)
	}
	if res.Fired["sweep"] != 8 || res.Fired["four"] != 2 || res.Fired["six-hourly"] != 8 || len(res.Daily) != 2 || len(res.Failed) != 2 {
		t.Fatalf("%+v", res)
	}
	if store.asked["y"] != 0 {
		t.Fatalf("the daily job's kind was asked about %d times", store.asked["y"])
	}
	if want := time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC); !clk.Now().Equal(want) || !res.Now.Equal(want) {
		t.Fatalf("now %s (answered %s), want %s", clk.Now(), res.Now, want)
	}
	// The skipped slots are behind the scheduler too: nothing catches up.
	if runs := em.Tick(context.Background(), clk.Now()); len(runs) != 0 {
		t.Fatalf("a tick after the advance fired %d runs", len(runs))
	}
	// Three more days: the sweep runs once a day, after the daily job.
	res, err = em.AdvanceClock(context.Background(), 72*time.Hour)
	if err != nil || res.Fired["sweep"] != 3 || res.Fired["four"] != 3 || res.Fired["six-hourly"] != 12 {
		t.Fatalf("%v %+v", err, res)
	}
}
