package transfers

// SweepDueKinds are the due-index kinds the pending-sweep job reads, in the order it
// reads them: its row of routes.Schedules lists exactly these (the local test
// clock fires the job only when one of them has something due). The check
// is shared/wiring/app's TestScheduleDueKinds.
func SweepDueKinds() []string { return duePending.Kinds() }
