package ledger

import (
	"slices"
	"testing"

	"minipay/shared/routes"
)

// The schedule table's Due list for ledger-fold is exactly the fold's
// shards, the buckets FoldPostings reads (the local test clock fires it only
// when one of them has something due); not the daily checkpoint's bucket.
func TestScheduleDueKinds(t *testing.T) {
	var want []string
	for shard := 0; shard < FoldShards; shard++ {
		want = append(want, foldKind(shard))
	}
	s, ok := routes.ScheduleNamed("ledger-fold")
	if !ok || !slices.Equal(s.Due, want) {
		t.Fatalf("routes.Schedules ledger-fold: Due %v, the fold reads %v", s.Due, want)
	}
}
