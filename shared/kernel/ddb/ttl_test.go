package ddb_test

import (
	"context"
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

// scanCounter records what each Scan asked for and examined.
type scanCounter struct {
	ddb.Scanner
	mu      sync.Mutex
	scanned []int // ScannedCount per Scan
	limits  []int32
	deletes int
}

func (c *scanCounter) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	out, err := c.Scanner.Scan(ctx, in, o...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.scanned = append(c.scanned, int(out.ScannedCount))
		c.limits = append(c.limits, aws.ToInt32(in.Limit))
	}
	return out, err
}

func (c *scanCounter) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.mu.Lock()
	c.deletes++
	c.mu.Unlock()
	return c.Scanner.DeleteItem(ctx, in, o...)
}

func (c *scanCounter) take() (scans int, scanned int, deletes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.scanned {
		scanned += n
	}
	scans, deletes = len(c.scanned), c.deletes
	c.scanned, c.limits, c.deletes = nil, nil, 0
	return scans, scanned, deletes
}

// Issue 22 item 14: the local TTL sweep is paced. Over a table far larger
// than a step's budget, no step examines more items than its budget (nor
// deletes more), each Scan page is short, and step after step (the cursor
// resuming where the last stopped) every expired item is deleted and no
// live one; items that expire later go in a later pass.
func TestPacedSweepStaysInBudgetAndDeletesEverything(t *testing.T) {
	e := ddbtest.New(t)
	ctx := context.Background()
	now := e.Clock.Now()
	const n, budget = 1200, 100
	var batch []types.WriteRequest
	flush := func() {
		if len(batch) == 0 {
			return
		}
		in := &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{e.Name: batch}}
		for len(in.RequestItems) > 0 {
			out, err := ddbtest.Client().BatchWriteItem(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			in.RequestItems = out.UnprocessedItems
		}
		batch = nil
	}
	expired, later := 0, 0
	for i := 0; i < n; i++ {
		item := ddb.Key(fmt.Sprintf("SWEEP#%04d", i), "X")
		switch i % 3 {
		case 0: // expired a minute ago
			item[ddb.AttrTTL] = ddb.Epoch(now.Add(-time.Minute))
			expired++
		case 1: // expires in an hour
			item[ddb.AttrTTL] = ddb.Epoch(now.Add(time.Hour))
			later++
		} // 2: no TTL
		batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
		if len(batch) == 25 {
			flush()
		}
	}
	flush()

	db := &scanCounter{Scanner: ddbtest.Client()}
	s := &ddb.Sweep{DB: db, Table: e.Name, Now: e.Clock.Now}
	deleted, steps := 0, 0
	for s.Passes() == 0 {
		st, err := s.Step(ctx, budget)
		if err != nil {
			t.Fatal(err)
		}
		steps++
		scans, scanned, deletes := db.take()
		if st.Scanned > budget || scanned > budget || deletes > budget || st.Scanned != scanned {
			t.Fatalf("step %d examined %d (Scan says %d in %d pages) and deleted %d: budget %d", steps, st.Scanned, scanned, scans, deletes, budget)
		}
		if scans > (budget+ddb.SweepPage-1)/ddb.SweepPage {
			t.Fatalf("step %d: %d Scan pages for a budget of %d", steps, scans, budget)
		}
		deleted += st.Deleted
		if steps > 2*n/budget+2 {
			t.Fatalf("no whole pass after %d steps", steps)
		}
	}
	if deleted != expired {
		t.Fatalf("one pass deleted %d, want the %d expired", deleted, expired)
	}
	if steps < n/budget {
		t.Fatalf("a pass over %d items in %d steps of %d", n, steps, budget)
	}
	// Nothing more is expired now: the next pass deletes nothing.
	if st, err := s.Step(ctx, budget); err != nil || st.Deleted != 0 {
		t.Fatalf("next step: %+v %v", st, err)
	}
	// An hour later the rest expire; the sweep carries on where it was and
	// its next whole pass takes them.
	e.Clock.Advance(time.Hour + time.Minute)
	deleted = 0
	for passes := s.Passes(); s.Passes() < passes+2; {
		st, err := s.Step(ctx, budget)
		if err != nil {
			t.Fatal(err)
		}
		deleted += st.Deleted
	}
	if deleted != later {
		t.Fatalf("after an hour: deleted %d, want %d", deleted, later)
	}
	left, err := ddbtest.Client().Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(e.Name), Select: types.SelectCount,
		FilterExpression: aws.String("begins_with(PK, :p)"), ExpressionAttributeValues: map[string]types.AttributeValue{":p": ddb.S("SWEEP#")}})
	if err != nil || int(left.Count) != n-expired-later {
		t.Fatalf("%v items left (%v), want the %d without a TTL", left.Count, err, n-expired-later)
	}
	// The whole-table sweep (tests, operators) still works in one call.
	if n, err := ddb.SweepExpired(ctx, ddbtest.Client(), e.Name, e.Clock.Now()); err != nil || n != 0 {
		t.Fatalf("SweepExpired: %d %v", n, err)
	}
}
