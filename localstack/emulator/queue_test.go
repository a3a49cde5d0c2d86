package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"minipay/localstack/emulator"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/clock"
)

// TestQueuesFanOutAndDrain: a job's messages reach the worker as SQS
// events before the job's run returns; a worker that re-enqueues itself is
// delivered again; a message that keeps failing is dead-lettered after
// MaxReceives deliveries.
func TestQueuesFanOutAndDrain(t *testing.T) {
	qs := emulator.NewLocalQueues([]routes.Queue{{Name: "work", Worker: "worker-fn", MaxReceives: 3, WorkerTimeout: time.Second}})
	var mu sync.Mutex
	got := map[string]int{}
	worker := func(ctx context.Context, ev events.SQSEvent) (map[string]any, error) {
		if len(ev.Records) != 1 || ev.Records[0].EventSource != "aws:sqs" {
			return nil, fmt.Errorf("records %+v", ev.Records)
		}
		body := ev.Records[0].Body
		mu.Lock()
		got[body]++
		n := got[body]
		mu.Unlock()
		switch {
		case body == "poison":
			return nil, errors.New("cannot")
		case body == "again" && n < 3:
			return nil, qs.Send(ctx, "work", "again") // not done: continue in a fresh message
		}
		return nil, nil
	}
	job := func(ctx context.Context, e emulator.ScheduledEvent) (map[string]any, error) {
		for i := 0; i < 5; i++ {
			if err := qs.Send(ctx, "work", fmt.Sprint("shard-", i)); err != nil {
				return nil, err
			}
		}
		return nil, errors.Join(qs.Send(ctx, "work", "again"), qs.Send(ctx, "work", "poison"))
	}
	clk := clock.NewManual(time.Date(2026, 11, 22, 10, 0, 0, 0, clock.KST))
	em, err := emulator.New(emulator.Config{Handlers: map[string]any{"job-fn": job, "worker-fn": worker},
		Schedules: []routes.Schedule{{Name: "job", Function: "job-fn", DailyAt: "04:00", TimeZone: "Asia/Seoul"}},
		Clock:     clk, Log: quietLog(), Queues: qs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := em.Fire(context.Background(), "job", clk.Now()); err != nil {
		t.Fatal(err)
	}
	st := em.QueueStats()
	if got["again"] != 3 || got["poison"] != 3 || got["shard-4"] != 1 || st.DeadLettered != 1 || st.Pending != 0 || st.Sent != 9 {
		t.Fatalf("deliveries %v, stats %+v", got, st)
	}
	if err := qs.Send(context.Background(), "nope", "x"); err == nil {
		t.Fatal("a queue that does not exist took a message")
	}
	// A queue's worker needs a handler.
	_, err = emulator.New(emulator.Config{Handlers: map[string]any{}, Clock: clk, Log: quietLog(),
		Queues: emulator.NewLocalQueues([]routes.Queue{{Name: "q", Worker: "missing"}})})
	if err == nil {
		t.Fatal("a worker without a handler")
	}
}

// TestAdvanceClock: the test clock moves forward only, firing every slot
// on the way in time order, each with the clock at its slot.
func TestAdvanceClock(t *testing.T) {
	clk := emulator.NewOffsetClock(clock.NewManual(time.Date(2026, 11, 22, 10, 0, 0, 0, clock.KST)))
	var mu sync.Mutex
	var seen []string
	h := func(ctx context.Context, e emulator.ScheduledEvent) (map[string]any, error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, e.Job+"@"+e.ScheduledTime+" now "+clk.Now().UTC().Format(time.RFC3339))
		return nil, nil
	}
	em, err := emulator.New(emulator.Config{Handlers: map[string]any{"a": h, "b": h}, Clock: clk, Log: quietLog(),
		Schedules: []routes.Schedule{
			{Name: "four", Function: "a", DailyAt: "04:00", TimeZone: "Asia/Seoul"},
			{Name: "hourly", Function: "b", Every: 6 * time.Hour},
		}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := em.AdvanceClock(context.Background(), 20*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"hourly@2026-11-22T06:00:00Z now 2026-11-22T06:00:00Z",
		"hourly@2026-11-22T12:00:00Z now 2026-11-22T12:00:00Z",
		"hourly@2026-11-22T18:00:00Z now 2026-11-22T18:00:00Z",
		"four@2026-11-22T19:00:00Z now 2026-11-22T19:00:00Z",
	}
	if fmt.Sprint(seen) != fmt.Sprint(want) || res.Fired["hourly"] != 3 || len(res.Daily) != 1 {
		t.Fatalf("fired %v\nwant %v\n%+v", seen, want, res)
	}
	if !clk.Now().Equal(time.Date(2026, 11, 22, 21, 0, 0, 0, time.UTC)) || clk.Offset() != 20*time.Hour {
		t.Fatalf("now %s, offset %s", clk.Now(), clk.Offset())
	}
	for _, d := range []time.Duration{0, -time.Hour, emulator.MaxAdvance + 1} {
		if _, err := em.AdvanceClock(context.Background(), d); err == nil {
			t.Errorf("advance by %s accepted", d)
		}
	}
	clk.Advance(-time.Hour) // ignored: never backwards
	if clk.Offset() != 20*time.Hour {
		t.Fatal("the clock went back")
	}
	fixed, _ := emulator.New(emulator.Config{Handlers: map[string]any{}, Clock: clock.Real{}, Log: quietLog()})
	if _, err := fixed.AdvanceClock(context.Background(), time.Hour); !errors.Is(err, emulator.ErrClockFixed) {
		t.Fatalf("the real clock advanced: %v", err)
	}
}
