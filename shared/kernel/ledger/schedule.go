package ledger

// FoldDueKinds are the due-index kinds the ledger-fold job reads: the fold's
// shards, the buckets FoldPostings reads, in shard order; not the daily
// checkpoint's bucket. Its row of routes.Schedules lists exactly these (the
// local test clock fires the job only when one of them has something due).
// The check is shared/wiring/app's TestScheduleDueKinds.
func FoldDueKinds() []string {
	kinds := make([]string, 0, FoldShards)
	for shard := 0; shard < FoldShards; shard++ {
		kinds = append(kinds, foldKind(shard))
	}
	return kinds
}
