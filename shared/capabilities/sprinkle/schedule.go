package sprinkle

// ReclaimDueKinds are the due-index kinds the sprinkle-reclaim job reads, in the order it
// reads them: its row of routes.Schedules lists exactly these (the local test
// clock fires the job only when one of them has something due). The check
// is shared/wiring/app's TestScheduleDueKinds.
func ReclaimDueKinds() []string { return dueSprinkle.Kinds() }
