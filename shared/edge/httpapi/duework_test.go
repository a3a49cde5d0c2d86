package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/localstack/ddbtest"
	"minipay/shared/edge/httpapi"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
)

// sentMessages is a work queue that keeps what is sent to it.
type sentMessages struct {
	mu     sync.Mutex
	bodies []string
}

func (q *sentMessages) Send(_ context.Context, queue, body string) error {
	if queue != httpapi.DueQueue {
		return fmt.Errorf("sent to %s", queue)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.bodies = append(q.bodies, body)
	return nil
}

func (q *sentMessages) take() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.bodies
	q.bodies = nil
	return out
}

type backlogRun struct{ Handled int }

// A run the budget stops hands each bucket it left to the due-work queue
// (not the buckets it finished, nor one a worker holds); the workers drain
// them, one chain per bucket however often a message is delivered (three
// times each here, all at once), continuing from their cursors, until no
// item is due; each item is handed to one worker once, and no lease is
// left held. So with a pass whose workers take several items at once
// (DuePass.Parallel; each slot counts into its own summary).
func TestDueJobHandsItsBacklogOn(t *testing.T) {
	for _, parallel := range []int{1, 3} {
		t.Run(fmt.Sprintf("parallel=%d", parallel), func(t *testing.T) { dueJobHandsItsBacklogOn(t, parallel) })
	}
}

func dueJobHandsItsBacklogOn(t *testing.T, parallel int) {
	e := ddbtest.New(t)
	ctx := context.Background()
	now := e.Clock.Now()
	buckets := []string{"backlog#00", "backlog#01", "backlog#02", "backlog#03"}
	const perBucket = 12
	for b, kind := range buckets {
		for i := 0; i < perBucket; i++ {
			id := fmt.Sprintf("b%d-%02d", b, i)
			item := ddb.Key("JOBTEST#"+id, "ITEM")
			ddb.SetDue(item, kind, now.Add(-time.Duration(perBucket-i)*time.Second), id)
			if _, err := ddbtest.Client().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.Name), Item: item}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var mu sync.Mutex
	handed := map[string]int{}
	job := httpapi.DueJob[backlogRun]{
		Name: "backlog test",
		Passes: []httpapi.DuePass[backlogRun]{{Kinds: buckets, Parallel: parallel, Each: func(ctx context.Context, item ddb.Item, _ time.Time, sum *backlogRun) error {
			mu.Lock()
			handed[idOf(item)]++
			mu.Unlock()
			time.Sleep(15 * time.Millisecond)
			// The work takes the item out of the index, conditioned on its
			// being there, as every job's transaction does.
			_, err := ddbtest.Client().UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(e.Name),
				Key: ddb.Item{ddb.AttrPK: item[ddb.AttrPK], ddb.AttrSK: item[ddb.AttrSK]}, UpdateExpression: aws.String("REMOVE dueBucket, dueAt"),
				ConditionExpression: aws.String("attribute_exists(dueAt)")})
			var gone *types.ConditionalCheckFailedException
			if errors.As(err, &gone) {
				return nil
			}
			sum.Handled++
			return err
		}}},
		Counts: func(s *backlogRun) []any { return []any{"handled", s.Handled} },
	}
	q := &sentMessages{}
	d := httpapi.Services{Table: e.Table, Ledger: e.Ledger, Clock: e.Clock, Queue: q, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	job.Services = d

	// A worker holds backlog#03: the scheduled run leaves it alone.
	if _, ok, err := e.Table.TakeLease(ctx, ddb.Key("DUELEASE#backlog-test", "backlog#03"), "another", 0, time.Minute); err != nil || !ok {
		t.Fatal("take the lease", ok, err)
	}
	// The deadline leaves the run time for a few items only (a pass stops
	// 2 s before its deadline).
	runCtx, cancel := context.WithTimeout(ctx, 2100*time.Millisecond)
	sum, err := job.Handler()(runCtx, routes.ScheduledEvent{Job: "backlog-test"})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	sent := q.take()
	if sum.Handled == 0 || sum.Handled >= 3*perBucket {
		t.Fatalf("the run handled %d items; want some, not all", sum.Handled)
	}
	var gotBuckets []string
	for _, b := range sent {
		var m httpapi.DueMessage
		if err := json.Unmarshal([]byte(b), &m); err != nil || m.Job != "backlog-test" || m.After != "" || m.Lease != "" {
			t.Fatalf("message %s (%v)", b, err)
		}
		gotBuckets = append(gotBuckets, m.Bucket)
	}
	if fmt.Sprint(gotBuckets) != "[backlog#00 backlog#01 backlog#02]" {
		t.Fatalf("handed on %v, want backlog#00..02 (backlog#03 is held)", gotBuckets)
	}
	mu.Lock()
	for id := range handed {
		if id[:2] == "b3" {
			t.Fatalf("the run took %s of the held bucket", id)
		}
	}
	mu.Unlock()
	// The holder of backlog#03 lets it go; its own message is due now.
	if err := e.Table.ReleaseLease(ctx, ddb.Key("DUELEASE#backlog-test", "backlog#03"), "another", 1); err != nil {
		t.Fatal(err)
	}
	sent = append(sent, `{"job":"backlog-test","bucket":"backlog#03"}`)

	old := httpapi.DueWorkerBudget
	httpapi.DueWorkerBudget = 40 * time.Millisecond // a few items a pass: continuations
	defer func() { httpapi.DueWorkerBudget = old }()
	worker := httpapi.DueWorker(d, map[string]httpapi.BucketWork{"backlog-test": job.Bucket()})
	continued := 0
	for round := 0; len(sent) > 0; round++ {
		if round > 100 {
			t.Fatal("the workers never caught up")
		}
		var wg sync.WaitGroup
		var errs []error
		var emu sync.Mutex
		for _, body := range sent {
			for copy := 0; copy < 3; copy++ { // delivered three times at once
				wg.Add(1)
				go func() {
					defer wg.Done()
					run, err := worker(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m", Body: body}}})
					emu.Lock()
					continued += run.Continued
					errs = append(errs, err)
					emu.Unlock()
				}()
			}
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		sent = q.take()
	}
	if continued == 0 {
		t.Fatal("no worker continued: the budget never stopped one")
	}
	if len(handed) != len(buckets)*perBucket {
		t.Fatalf("%d items handed, want %d", len(handed), len(buckets)*perBucket)
	}
	for id, n := range handed {
		if n != 1 {
			t.Errorf("%s handed %d times", id, n)
		}
	}
	if _, due, err := e.Table.EarliestDue(ctx, buckets); err != nil || due {
		t.Fatalf("items still due at the end (%v)", err)
	}
	if held, err := e.Table.HeldLeases(ctx, "DUELEASE#backlog-test"); err != nil || len(held) != 0 {
		t.Fatalf("leases held at the end: %v (%v)", held, err)
	}
}

// config.Config.DueParallel caps how many items a due worker takes at
// once (the local stack sets 1); 0 leaves the pass's own Parallel.
func TestDueParallelCapsAWorker(t *testing.T) {
	for _, c := range []struct{ parallel, limit, want int }{
		{parallel: 4, limit: 0, want: 4},
		{parallel: 4, limit: 1, want: 1},
		{parallel: 4, limit: 2, want: 2},
		{parallel: 1, limit: 8, want: 1},
	} {
		t.Run(fmt.Sprintf("parallel=%d,limit=%d", c.parallel, c.limit), func(t *testing.T) {
			e := ddbtest.New(t)
			ctx := context.Background()
			const kind, items = "capped#00", 16
			for i := 0; i < items; i++ {
				id := fmt.Sprintf("c%02d", i)
				item := ddb.Key("JOBTEST#"+id, "ITEM")
				ddb.SetDue(item, kind, e.Clock.Now().Add(-time.Minute), id)
				if _, err := ddbtest.Client().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.Name), Item: item}); err != nil {
					t.Fatal(err)
				}
			}
			var mu sync.Mutex
			inFlight, peak, handled := 0, 0, 0
			job := httpapi.DueJob[backlogRun]{Name: "capped test",
				Passes: []httpapi.DuePass[backlogRun]{{Kinds: []string{kind}, Parallel: c.parallel,
					Each: func(ctx context.Context, item ddb.Item, _ time.Time, sum *backlogRun) error {
						mu.Lock()
						inFlight++
						peak = max(peak, inFlight)
						mu.Unlock()
						time.Sleep(30 * time.Millisecond)
						mu.Lock()
						inFlight--
						handled++
						mu.Unlock()
						sum.Handled++
						return nil
					}}},
				Counts: func(s *backlogRun) []any { return []any{"handled", s.Handled} }}
			d := httpapi.Services{Table: e.Table, Ledger: e.Ledger, Clock: e.Clock, Queue: &sentMessages{},
				Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Config: config.Config{DueParallel: c.limit}}
			job.Services = d
			worker := httpapi.DueWorker(d, map[string]httpapi.BucketWork{"capped-test": job.Bucket()})
			if _, err := worker(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m",
				Body: `{"job":"capped-test","bucket":"` + kind + `"}`}}}); err != nil {
				t.Fatal(err)
			}
			if peak != c.want || handled != items {
				t.Fatalf("%d items at once at most, want %d; %d of %d handled", peak, c.want, handled, items)
			}
		})
	}
}
