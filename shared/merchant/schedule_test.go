package merchant

import (
	"slices"
	"testing"

	"minipay/shared/routes"
)

// The schedule table's Due list for order-expiry is exactly what the job reads
// (the local test clock fires it only when one of these has something due).
func TestScheduleDueKinds(t *testing.T) {
	s, ok := routes.ScheduleNamed("order-expiry")
	want := append(dueOrder.Kinds(), dueReserve.Kinds()...)
	if !ok || !slices.Equal(s.Due, want) {
		t.Fatalf("routes.Schedules %s: Due %v, the job reads %v", "order-expiry", s.Due, want)
	}
}
