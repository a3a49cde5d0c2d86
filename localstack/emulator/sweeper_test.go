package emulator_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"minipay/localstack/emulator"
	"minipay/shared/kernel/clock"
)

// fakeTable is a StepSweeper over n items, every third one expired: it
// records each step's budget.
type fakeTable struct {
	mu      sync.Mutex
	n, at   int
	expired map[int]bool
	budgets []int
	full    int
}

func (f *fakeTable) SweepExpired(context.Context) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.full++
	return 0, nil
}

func (f *fakeTable) SweepStep(_ context.Context, budget int) (int, int, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.budgets = append(f.budgets, budget)
	scanned, deleted := 0, 0
	for ; scanned < budget && f.at < f.n; f.at++ {
		scanned++
		if f.expired[f.at] {
			delete(f.expired, f.at)
			deleted++
		}
	}
	done := f.at == f.n
	if done {
		f.at = 0
	}
	return scanned, deleted, done, nil
}

// fullOnly can only sweep the whole table.
type fullOnly struct{ fakeTable }

func (f *fullOnly) SweepStep() {}

// Issue 22 item 14: the sweeper's pacing. Each step's budget is SweepRate
// x the interval, whatever the table's size; a large table takes more
// steps, not bigger ones; a Sweeper that cannot step sweeps whole passes at
// most once a minute.
func TestSweeperIsPaced(t *testing.T) {
	for every, want := range map[time.Duration]int{emulator.DefaultSweepEvery: emulator.SweepRate * 5, time.Second: emulator.SweepRate,
		10 * time.Millisecond: 1, time.Minute: emulator.SweepRate * 60} {
		if got := emulator.SweepBudget(every); got != want {
			t.Errorf("SweepBudget(%s) = %d, want %d", every, got, want)
		}
	}
	if b := emulator.SweepBudget(emulator.DefaultSweepEvery); b > 1000 {
		t.Errorf("a step of %d items", b)
	}

	// Steps through the emulator: each within the budget, and every
	// expired item of a table 50 steps long goes.
	ft := &fakeTable{n: 50 * emulator.SweepBudget(emulator.DefaultSweepEvery), expired: map[int]bool{}}
	for i := 0; i < ft.n; i += 3 {
		ft.expired[i] = true
	}
	expired := len(ft.expired)
	em, err := emulator.New(emulator.Config{Handlers: map[string]any{}, Clock: clock.NewManual(time.Now()), Log: quietLog(), Sweeper: ft})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for step := 0; step < 50; step++ {
		n, err := em.SweepStep(context.Background(), emulator.SweepBudget(emulator.DefaultSweepEvery))
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != expired || len(ft.expired) != 0 || em.Stats().Swept != int64(expired) {
		t.Fatalf("deleted %d of %d in 50 steps (%d left, stats %d)", total, expired, len(ft.expired), em.Stats().Swept)
	}

	// RunSweeper on a short interval: one step per tick, each of that
	// interval's budget; no whole-table sweep.
	ft.budgets = nil
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	em.RunSweeper(ctx, 20*time.Millisecond)
	ft.mu.Lock()
	budgets, full := append([]int(nil), ft.budgets...), ft.full
	ft.mu.Unlock()
	if len(budgets) < 3 || len(budgets) > 16 || full != 0 {
		t.Fatalf("%d steps and %d whole sweeps in 300 ms at 20 ms", len(budgets), full)
	}
	for _, b := range budgets {
		if b != emulator.SweepBudget(20*time.Millisecond) {
			t.Fatalf("step budgets %v, want %d each", budgets, emulator.SweepBudget(20*time.Millisecond))
		}
	}

	// A Sweeper that cannot step: no whole-table sweep more than once a
	// minute, however short the interval asked for.
	fo := &fullOnly{}
	em2, err := emulator.New(emulator.Config{Handlers: map[string]any{}, Clock: clock.NewManual(time.Now()), Log: quietLog(), Sweeper: fo})
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	em2.RunSweeper(ctx2, 10*time.Millisecond)
	if fo.full != 0 {
		t.Fatalf("%d whole sweeps in 200 ms", fo.full)
	}
}
