package main

import (
	"reflect"
	"slices"
	"testing"

	"minipay/shared/edge/routes"
)

// TestWorkQueues: every work queue of the table is encrypted, TLS-only,
// redrives to its own dead-letter queue after MaxReceives, hides a message
// for six worker timeouts, feeds its worker one message at a time (at most
// MaxConcurrency at once), and only its senders may send to it, each with
// its URL in the environment.
func TestWorkQueues(t *testing.T) {
	f := synth(t)
	mappings := f.ofType("AWS::Lambda::EventSourceMapping")
	for _, q := range routes.Queues {
		t.Run(q.Name, func(t *testing.T) {
			wq := f.stack.WorkQueues[q.Name]
			id, dlq := logicalID(f.stack.Stack, wq.Queue.Node().DefaultChild()), logicalID(f.stack.Stack, wq.DeadLetters.Node().DefaultChild())
			p := f.resources[id].Properties
			if p["SqsManagedSseEnabled"] != true || f.resources[dlq].Properties["SqsManagedSseEnabled"] != true {
				t.Errorf("queue %v: want encryption at rest", p)
			}
			if want := map[string]any{"deadLetterTargetArn": getAtt(dlq), "maxReceiveCount": float64(q.MaxReceives)}; !reflect.DeepEqual(p["RedrivePolicy"], want) {
				t.Errorf("RedrivePolicy %v, want %v", p["RedrivePolicy"], want)
			}
			if p["VisibilityTimeout"] != float64(visibilityPerTimeout)*q.WorkerTimeout.Seconds() {
				t.Errorf("VisibilityTimeout %v", p["VisibilityTimeout"])
			}
			found := 0
			for _, m := range mappings {
				mp := m.Properties
				if reflect.DeepEqual(mp["EventSourceArn"], getAtt(id)) {
					found++
					if !reflect.DeepEqual(mp["FunctionName"], map[string]any{"Ref": f.fnIDs[q.Worker]}) || mp["BatchSize"] != float64(1) ||
						!reflect.DeepEqual(mp["ScalingConfig"], map[string]any{"MaximumConcurrency": float64(q.MaxConcurrency)}) {
						t.Errorf("event source mapping %v", mp)
					}
				}
			}
			if found != 1 {
				t.Errorf("%d event source mappings from the queue, want 1", found)
			}
			if fn := f.resources[f.fnIDs[q.Worker]].Properties; fn["Timeout"] != q.WorkerTimeout.Seconds() {
				t.Errorf("worker timeout %v, want %s", fn["Timeout"], q.WorkerTimeout)
			}
			for _, name := range functionNames(f.access) {
				fn := f.resources[f.fnIDs[name]].Properties
				role := refs(fn["Role"])[0]
				canSend := false
				for _, st := range f.statementsOf(role) {
					canSend = canSend || slices.Contains(strs(st["Action"]), "sqs:SendMessage") && reflect.DeepEqual(st["Resource"], getAtt(id))
				}
				vars, _ := fn["Environment"].(map[string]any)["Variables"].(map[string]any)
				hasURL := reflect.DeepEqual(vars[q.URLEnv], map[string]any{"Ref": id})
				if want := slices.Contains(q.Senders, name); canSend != want || hasURL != want {
					t.Errorf("%s: may send %v, has the URL %v; want %v (senders only)", name, canSend, hasURL, want)
				}
			}
		})
	}
}
