package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"minipay/localstack/emulator"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/clock"
)

// The test clock kept with the data: a clock opened again on the same file
// (the stack restarted, or crashed after the advance returned) runs with
// the offset the advances left, and never goes back.
func TestTestClockSurvivesARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), emulator.ClockFile)
	base := clock.NewManual(time.Date(2026, 11, 22, 10, 0, 0, 0, clock.KST))
	c, err := emulator.OpenOffsetClock(base, path)
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(36 * time.Hour)
	c.Advance(12 * time.Hour)
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	// The process dies here: nothing is closed or flushed.
	again, err := emulator.OpenOffsetClock(base, path)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Offset(); got != 48*time.Hour {
		t.Fatalf("offset after a restart: %s, want 48h", got)
	}
	if got, want := again.Now(), base.Now().Add(48*time.Hour); !got.Equal(want) {
		t.Fatalf("now after a restart: %s, want %s", got, want)
	}
	if off, err := emulator.ReadClockOffset(path); err != nil || off != 48*time.Hour {
		t.Fatalf("ReadClockOffset: %s %v", off, err)
	}
	// No file yet: no offset. A file that is not a clock: a clear error.
	if off, err := emulator.ReadClockOffset(filepath.Join(t.TempDir(), "none.json")); err != nil || off != 0 {
		t.Fatalf("no file: %s %v", off, err)
	}
	bad := filepath.Join(t.TempDir(), emulator.ClockFile)
	if err := os.WriteFile(bad, []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := emulator.OpenOffsetClock(base, bad); err == nil {
		t.Fatal("a broken clock file was taken for no offset")
	}
}

// The queue kept with the data: a job fans out its messages and the
// process dies before they are delivered (here: after one of them). The
// queues opened again on the same directory deliver the rest, and only the
// rest; nothing is left behind afterwards, and a message that keeps failing
// is kept aside in dead/.
func TestQueuedWorkSurvivesACrash(t *testing.T) {
	dir := t.TempDir()
	defs := []routes.Queue{{Name: "work", Worker: "worker-fn", MaxReceives: 2, WorkerTimeout: time.Second}}
	var mu sync.Mutex
	got := map[string]int{}
	worker := func(ctx context.Context, ev events.SQSEvent) (map[string]any, error) {
		body := ev.Records[0].Body
		mu.Lock()
		got[body]++
		mu.Unlock()
		if body == "poison" {
			return nil, errors.New("cannot")
		}
		return nil, nil
	}
	build := func() (*emulator.LocalQueues, *emulator.Emulator) {
		qs, err := emulator.OpenLocalQueues(defs, dir)
		if err != nil {
			t.Fatal(err)
		}
		em, err := emulator.New(emulator.Config{Handlers: map[string]any{"worker-fn": worker},
			Clock: clock.NewManual(time.Date(2026, 11, 22, 4, 0, 0, 0, clock.KST)), Log: quietLog(), Queues: qs})
		if err != nil {
			t.Fatal(err)
		}
		return qs, em
	}
	qs, _ := build()
	for i := range 16 {
		if err := qs.Send(context.Background(), "work", fmt.Sprint("shard-", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := qs.Send(context.Background(), "work", "poison"); err != nil {
		t.Fatal(err)
	}
	// The crash: the queues are dropped undelivered.
	qs, em := build()
	if st := qs.Stats(); st.Pending != 17 || st.Restored != 17 {
		t.Fatalf("after the crash: %+v, want 17 restored and pending", st)
	}
	em.DrainQueues(context.Background())
	for i := range 16 {
		if n := got[fmt.Sprint("shard-", i)]; n != 1 {
			t.Errorf("shard-%d delivered %d times, want once", i, n)
		}
	}
	if st := qs.Stats(); st.Delivered != 16 || st.DeadLettered != 1 || st.Pending != 0 {
		t.Fatalf("after the drain: %+v", st)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	dead, _ := filepath.Glob(filepath.Join(dir, "dead", "*.json"))
	if len(left) != 0 || len(dead) != 1 {
		t.Fatalf("files left: %v, dead: %v", left, dead)
	}
	// A third start finds nothing to do.
	if qs, _ := build(); qs.Stats().Pending != 0 {
		t.Fatalf("delivered messages came back: %+v", qs.Stats())
	}
}
