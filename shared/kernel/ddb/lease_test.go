package ddb_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"minipay/localstack/ddbtest"
	"minipay/shared/kernel/ddb"
)

// A lease is one chain's: a new chain takes it only when nobody holds it,
// a continuation only at its own generation, a released or lapsed lease is
// free again, and of many chains starting at once exactly one wins.
func TestLeaseIsOneChains(t *testing.T) {
	e := ddbtest.New(t)
	ctx := context.Background()
	key := ddb.Key("LEASETEST#group", "bucket#00")
	take := func(holder string, gen int64, hold time.Duration) (int64, bool) {
		t.Helper()
		g, ok, err := e.Table.TakeLease(ctx, key, holder, gen, hold)
		if err != nil {
			t.Fatal(err)
		}
		return g, ok
	}
	held := func() bool {
		t.Helper()
		h, err := e.Table.HeldLeases(ctx, "LEASETEST#group")
		if err != nil {
			t.Fatal(err)
		}
		return h["bucket#00"]
	}
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"a new chain takes a free lease", func(t *testing.T) {
			if g, ok := take("a", 0, time.Minute); !ok || g != 1 || !held() {
				t.Fatalf("gen %d, ok %v, held %v", g, ok, held())
			}
		}},
		{"another chain finds it held", func(t *testing.T) {
			if _, ok := take("b", 0, time.Minute); ok {
				t.Fatal("b took a's lease")
			}
		}},
		{"a stale continuation finds the generation moved on", func(t *testing.T) {
			if g, ok := take("a", 1, time.Minute); !ok || g != 2 {
				t.Fatalf("the continuation: gen %d, ok %v", g, ok)
			}
			if _, ok := take("a", 1, time.Minute); ok {
				t.Fatal("the same message delivered twice took the lease twice")
			}
		}},
		{"a released lease is free", func(t *testing.T) {
			if err := e.Table.ReleaseLease(ctx, key, "a", 2); err != nil {
				t.Fatal(err)
			}
			if held() {
				t.Fatal("still held after release")
			}
			if _, ok := take("b", 0, time.Millisecond); !ok {
				t.Fatal("b could not take the released lease")
			}
		}},
		{"a lapsed lease is free", func(t *testing.T) {
			time.Sleep(5 * time.Millisecond)
			if held() {
				t.Fatal("a lapsed lease counts as held")
			}
			if _, ok := take("c", 0, time.Minute); !ok {
				t.Fatal("c could not take the lapsed lease")
			}
		}},
	}
	for _, s := range steps {
		t.Run(s.name, s.run)
	}
	t.Run("of many chains at once one wins", func(t *testing.T) {
		k := ddb.Key("LEASETEST#race", "bucket#00")
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 32; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, ok, err := e.Table.TakeLease(ctx, k, ddb.RandomString(8), 0, time.Minute)
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d chains took the lease", wins.Load())
		}
	})
}
