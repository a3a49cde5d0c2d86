package transfers

import (
	"slices"
	"testing"

	"minipay/shared/routes"
)

// The schedule table's Due list for pending-sweep is exactly what the job reads
// (the local test clock fires it only when one of these has something due).
func TestScheduleDueKinds(t *testing.T) {
	s, ok := routes.ScheduleNamed("pending-sweep")
	want := duePending.Kinds()
	if !ok || !slices.Equal(s.Due, want) {
		t.Fatalf("routes.Schedules %s: Due %v, the job reads %v", "pending-sweep", s.Due, want)
	}
}
