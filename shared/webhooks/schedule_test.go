package webhooks

import (
	"slices"
	"testing"

	"minipay/shared/routes"
)

// The schedule table's Due list for webhook-sweep is exactly what the job
// reads (the local test clock fires it only when one of these has something
// due), and the queue row names this package's queue.
func TestScheduleDueKindsAndQueue(t *testing.T) {
	s, ok := routes.ScheduleNamed("webhook-sweep")
	if !ok || !slices.Equal(s.Due, DueKinds()) {
		t.Fatalf("routes.Schedules webhook-sweep: Due %v, the job reads %v", s.Due, DueKinds())
	}
	for _, q := range routes.Queues {
		if q.Name == QueueName && q.Worker == "webhook-worker" && slices.Contains(q.Senders, "webhook-sweep") {
			return
		}
	}
	t.Fatalf("routes.Queues has no %s queue from webhook-sweep to webhook-worker", QueueName)
}
