package ddb_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/localstack/ddbtest"
	"minipay/shared/kernel/ddb"
)

// A pass over the due index stops when its time budget is spent, and the
// next pass resumes with what is left: every item is handled once, oldest
// first, however many passes it takes. With Parallel, up to that many
// items are in flight at once (and never more), and a pass returns only when every item it started is done, so the next
// pass never hands one of them again.
func TestDueWorkIsBoundedAndResumes(t *testing.T) {
	for _, parallel := range []int{1, 4} {
		t.Run(fmt.Sprintf("parallel=%d", parallel), func(t *testing.T) { dueWorkIsBoundedAndResumes(t, parallel) })
	}
}

func dueWorkIsBoundedAndResumes(t *testing.T, parallel int) {
	e := ddbtest.New(t)
	ctx := context.Background()
	now := e.Clock.Now()
	const n = 60
	for i := 0; i < n; i++ {
		putDue(t, e, fmt.Sprintf("WORK#%03d", i), "test", now.Add(-time.Duration(n-i)*time.Second))
	}
	putDue(t, e, "WORK#later", "test", now.Add(time.Hour)) // not yet due
	var mu sync.Mutex
	handled := map[string]int{}
	var order []string
	inFlight, most := 0, 0
	done := func(ctx context.Context, item ddb.Item) error {
		pk := ddb.Decode(item).S(ddb.AttrPK)
		mu.Lock()
		handled[pk]++
		order = append(order, pk)
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		defer func() { mu.Lock(); inFlight--; mu.Unlock() }()
		time.Sleep(5 * time.Millisecond)
		// Handling takes the item out of the index, as every job does.
		_, err := ddbtest.Client().UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(e.Name), Key: ddb.Key(pk, "WORK"),
			UpdateExpression: aws.String("REMOVE dueBucket, dueAt"), ConditionExpression: aws.String("attribute_exists(dueAt)")})
		var gone *types.ConditionalCheckFailedException
		if err != nil && !errors.As(err, &gone) {
			return err
		}
		return nil
	}
	passes := 0
	for ; passes < 100; passes++ {
		run, err := e.Table.ForEachDue(ctx, ddb.DueWork{Kind: "test", Until: now, Page: 7, Budget: 40 * time.Millisecond, Parallel: parallel}, done)
		if err != nil || run.Err() != nil {
			t.Fatal(err, run.Err())
		}
		mu.Lock()
		if inFlight != 0 {
			t.Fatalf("a pass returned with %d items in flight", inFlight)
		}
		mu.Unlock()
		if run.Done {
			if run.Left != nil {
				t.Fatalf("a done pass leaves %v", run.Left)
			}
			break
		}
		if len(run.Left) != 1 || run.Left[0] != "test" {
			t.Fatalf("a pass the budget stopped leaves %v, want [test]", run.Left)
		}
		if run.Seen == 0 {
			t.Fatal("a pass that was not done handled nothing")
		}
	}
	if passes < 2 {
		t.Fatalf("%d passes: the budget never stopped one", passes+1)
	}
	if len(handled) != n || handled["WORK#later"] != 0 {
		t.Fatalf("handled %d items (%v)", len(handled), handled)
	}
	for pk, c := range handled {
		if c != 1 {
			t.Fatalf("%s handled %d times", pk, c)
		}
	}
	if most > parallel || (parallel > 1 && most < 2) {
		t.Fatalf("at most %d items at once with Parallel %d", most, parallel)
	}
	// One at a time, oldest first (at once, the goroutines' own schedule
	// orders their starts).
	for i := 1; parallel == 1 && i < len(order); i++ {
		if order[i] < order[i-1] {
			t.Fatalf("not oldest first: %s after %s", order[i], order[i-1])
		}
	}
}

// Items in flight at once still fail one by one: each failure is counted
// and kept, and the others are done.
func TestParallelDueWorkCountsEachFailure(t *testing.T) {
	e := ddbtest.New(t)
	ctx := context.Background()
	now := e.Clock.Now()
	for i := 0; i < 30; i++ {
		putDue(t, e, fmt.Sprintf("P#%02d", i), "par", now.Add(-time.Minute))
	}
	var mu sync.Mutex
	ok := 0
	run, err := e.Table.ForEachDue(ctx, ddb.DueWork{Kind: "par", Until: now, Parallel: 8}, func(ctx context.Context, item ddb.Item) error {
		var i int
		fmt.Sscanf(ddb.Decode(item).S(ddb.AttrPK), "P#%d", &i)
		if i%3 == 0 {
			return fmt.Errorf("item %d failed", i)
		}
		mu.Lock()
		ok++
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !run.Done || run.Seen != 30 || run.Failed != 10 || len(run.Errs) != 10 || ok != 20 {
		t.Fatalf("done %v, seen %d, failed %d (%d errors), ok %d; want done, 30, 10 (10), 20", run.Done, run.Seen, run.Failed, len(run.Errs), ok)
	}
}

// putDue puts a work item (PK pk, id pk) due at at in kind's bucket.
func putDue(t *testing.T, e *ddbtest.Env, pk, kind string, at time.Time) {
	t.Helper()
	item := ddb.Key(pk, "WORK")
	ddb.SetDue(item, kind, at, pk)
	if _, err := ddbtest.Client().PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(e.Name), Item: item}); err != nil {
		t.Fatal(err)
	}
}

// A pass the budget stops names the buckets it leaves with work: not one
// it drained, nor one that had nothing due.
func TestDueRunLeavesItsUnfinishedBuckets(t *testing.T) {
	e := ddbtest.New(t)
	ctx := context.Background()
	now := e.Clock.Now()
	put := func(pk, kind string, at time.Time) { putDue(t, e, pk, kind, at) }
	for i := 0; i < 5; i++ {
		put(fmt.Sprintf("BUSY#%d", i), "left#00", now.Add(-time.Minute))
	}
	put("ONE", "left#02", now.Add(-time.Hour)) // the oldest: the one item a spent pass still takes
	put("LATER", "left#03", now.Add(time.Hour))
	kinds := []string{"left#00", "left#01", "left#02", "left#03"}
	var seen []string
	run, err := e.Table.ForEachDue(ctx, ddb.DueWork{Kinds: kinds, Until: now, Budget: time.Nanosecond},
		func(ctx context.Context, item ddb.Item) error {
			seen = append(seen, ddb.Decode(item).S(ddb.AttrPK))
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if run.Done || len(seen) != 1 || seen[0] != "ONE" {
		t.Fatalf("done %v, handled %v; want one item, ONE", run.Done, seen)
	}
	if fmt.Sprint(run.Left) != "[left#00]" {
		t.Fatalf("left %v, want [left#00]", run.Left)
	}
}

// EarliestDue is the oldest dueAt among the named buckets only, whether it
// is past or future, and false when they are all empty.
func TestEarliestDue(t *testing.T) {
	e := ddbtest.New(t)
	ctx := context.Background()
	now := e.Clock.Now()
	put := func(pk, kind string, at time.Time) { putDue(t, e, pk, kind, at) }
	if _, ok, err := e.Table.EarliestDue(ctx, []string{"a", "b#00"}); ok || err != nil {
		t.Fatalf("empty buckets: %v %v", ok, err)
	}
	put("W1", "a", now.Add(3*time.Hour))
	put("W2", "a", now.Add(2*time.Hour+time.Millisecond))
	put("W3", "b#00", now.Add(5*time.Hour))
	put("W4", "b#01", now.Add(time.Hour)) // not asked for
	put("W5", "c", now.Add(-time.Hour))   // not asked for
	got, ok, err := e.Table.EarliestDue(ctx, []string{"a", "b#00"})
	if err != nil || !ok || !got.Equal(now.Add(2*time.Hour+time.Millisecond)) {
		t.Fatalf("earliest %s %v %v, want %s", got, ok, err, now.Add(2*time.Hour+time.Millisecond))
	}
	got, ok, err = e.Table.EarliestDue(ctx, []string{"b#00", "b#01", "c"})
	if err != nil || !ok || !got.Equal(now.Add(-time.Hour)) {
		t.Fatalf("earliest %s %v %v, want the past item's %s", got, ok, err, now.Add(-time.Hour))
	}
}
