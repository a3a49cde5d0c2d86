package sprinkle

import (
	"slices"
	"testing"

	"minipay/shared/routes"
)

// The schedule table's Due list for sprinkle-reclaim is exactly what the job reads
// (the local test clock fires it only when one of these has something due).
func TestScheduleDueKinds(t *testing.T) {
	s, ok := routes.ScheduleNamed("sprinkle-reclaim")
	want := dueSprinkle.Kinds()
	if !ok || !slices.Equal(s.Due, want) {
		t.Fatalf("routes.Schedules %s: Due %v, the job reads %v", "sprinkle-reclaim", s.Due, want)
	}
}
