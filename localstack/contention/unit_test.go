package contention

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// Unit tests: a fake inner client, the model applied around it
// (OutsideSDK) and an injected clock. They need no DynamoDB Local and run
// under -short; `go test -race -short ./localstack/contention/` runs them alone.

type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fake answers every call with success (or txErr for transactions) and
// counts what reached it.
type fake struct {
	mu    sync.Mutex
	calls map[string]int
	txErr error
	batch []types.WriteRequest // requests the last BatchWriteItem sent
}

func (f *fake) hit(op string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[op]++
}

func (f *fake) n(op string) int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls[op] }

func (f *fake) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.hit("GetItem")
	return &dynamodb.GetItemOutput{}, nil
}
func (f *fake) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.hit("PutItem")
	return &dynamodb.PutItemOutput{}, nil
}
func (f *fake) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.hit("UpdateItem")
	return &dynamodb.UpdateItemOutput{}, nil
}
func (f *fake) DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	f.hit("DeleteItem")
	return &dynamodb.DeleteItemOutput{}, nil
}
func (f *fake) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	f.hit("Query")
	return &dynamodb.QueryOutput{}, nil
}
func (f *fake) Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	f.hit("Scan")
	return &dynamodb.ScanOutput{}, nil
}
func (f *fake) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.hit("TransactWriteItems")
	return &dynamodb.TransactWriteItemsOutput{}, f.txErr
}
func (f *fake) BatchWriteItem(_ context.Context, in *dynamodb.BatchWriteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	f.hit("BatchWriteItem")
	f.mu.Lock()
	f.batch = nil
	for _, reqs := range in.RequestItems {
		f.batch = append(f.batch, reqs...)
	}
	f.mu.Unlock()
	return &dynamodb.BatchWriteItemOutput{}, nil
}

const tbl = "tbl"

func pk(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk}}
}

func upd(p, s string) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{TableName: aws.String(tbl), Key: pk(p, s),
		UpdateExpression:          aws.String("ADD n :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}}}}
}

func txIn(items ...types.TransactWriteItem) *dynamodb.TransactWriteItemsInput {
	return &dynamodb.TransactWriteItemsInput{TransactItems: items}
}

func putIn(p, s string) *dynamodb.PutItemInput {
	return &dynamodb.PutItemInput{TableName: aws.String(tbl), Item: pk(p, s)}
}

func unitModel(t testing.TB, cfg Config) (*Model, *fake, *manualClock) {
	t.Helper()
	clk := &manualClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f := &fake{}
	cfg.OutsideSDK, cfg.Now, cfg.Sleep = true, clk.Now, func(context.Context, time.Duration) {} // padding takes no time
	return Wrap(f, cfg), f, clk
}

// reasons returns the cancellation codes of a TransactionCanceledException, or fails.
func reasons(t testing.TB, err error) []string {
	t.Helper()
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		t.Fatalf("want TransactionCanceledException, got %v", err)
	}
	var codes []string
	for _, r := range tc.CancellationReasons {
		codes = append(codes, aws.ToString(r.Code))
	}
	return codes
}

func TestSizes(t *testing.T) {
	for _, c := range []struct {
		name string
		v    types.AttributeValue
		want int
	}{
		{"ascii string", &types.AttributeValueMemberS{Value: "hello"}, 5},
		{"utf-8 string", &types.AttributeValueMemberS{Value: "한글"}, 6},
		{"number 1", &types.AttributeValueMemberN{Value: "1"}, 2},
		{"number 12", &types.AttributeValueMemberN{Value: "12"}, 2},
		{"number 123", &types.AttributeValueMemberN{Value: "123"}, 3},
		{"number -1000 (trailing zeros trimmed)", &types.AttributeValueMemberN{Value: "-1000"}, 2},
		{"number 0.0012345", &types.AttributeValueMemberN{Value: "0.0012345"}, 4},
		{"number 0", &types.AttributeValueMemberN{Value: "0"}, 1},
		{"binary", &types.AttributeValueMemberB{Value: []byte{1, 2, 3}}, 3},
		{"bool", &types.AttributeValueMemberBOOL{Value: true}, 1},
		{"null", &types.AttributeValueMemberNULL{Value: true}, 1},
		{"list", &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "ab"}}}, 5},
		{"map", &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: "ab"}}}, 6},
		{"string set", &types.AttributeValueMemberSS{Value: []string{"a", "bc"}}, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ValueSize(c.v); got != c.want {
				t.Errorf("ValueSize = %d, want %d", got, c.want)
			}
		})
	}
	item := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "USER#1"}, "n": &types.AttributeValueMemberN{Value: "42"}}
	if got, want := ItemSize(item), 2+6+1+2; got != want {
		t.Errorf("ItemSize = %d, want %d", got, want)
	}
}

func TestWriteUnits(t *testing.T) {
	for _, c := range []struct {
		size  int
		perKB float64
		want  float64
	}{{0, 1, 1}, {1, 1, 1}, {1024, 1, 1}, {1025, 1, 2}, {500, 2, 2}, {3500, 2, 8}} {
		t.Run(fmt.Sprint(c.size, "x", c.perKB), func(t *testing.T) {
			if got := writeUnits(c.size, c.perKB); got != c.want {
				t.Errorf("writeUnits(%d, %v) = %v, want %v", c.size, c.perKB, got, c.want)
			}
		})
	}
}

func TestOccupancy(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		first   *dynamodb.TransactWriteItemsInput
		advance time.Duration
		second  *dynamodb.TransactWriteItemsInput
		want    []string // nil: admitted
	}{
		{"overlap on one item", txIn(upd("A", "1"), upd("B", "1")), 0, txIn(upd("C", "1"), upd("B", "1"), upd("D", "1")),
			[]string{"None", "TransactionConflict", "None"}},
		{"overlap on two items", txIn(upd("A", "1"), upd("B", "1")), 0, txIn(upd("B", "1"), upd("A", "1")),
			[]string{"TransactionConflict", "TransactionConflict"}},
		{"same partition, other item", txIn(upd("A", "1")), 0, txIn(upd("A", "2")), nil},
		{"disjoint", txIn(upd("A", "1")), 0, txIn(upd("B", "1")), nil},
		{"just before the service time", txIn(upd("A", "1")), DefaultServiceTime - time.Nanosecond, txIn(upd("A", "1")),
			[]string{"TransactionConflict"}},
		{"after the service time", txIn(upd("A", "1")), DefaultServiceTime, txIn(upd("A", "1")), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, f, clk := unitModel(t, Config{})
			if _, err := m.TransactWriteItems(ctx, c.first); err != nil {
				t.Fatal(err)
			}
			clk.Advance(c.advance)
			_, err := m.TransactWriteItems(ctx, c.second)
			if c.want == nil {
				if err != nil {
					t.Fatalf("second transaction: %v", err)
				}
				if f.n("TransactWriteItems") != 2 {
					t.Errorf("inner saw %d transactions, want 2", f.n("TransactWriteItems"))
				}
				return
			}
			if got := reasons(t, err); strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("reasons %v, want %v", got, c.want)
			}
			if f.n("TransactWriteItems") != 1 {
				t.Errorf("a cancelled transaction reached DynamoDB (%d calls)", f.n("TransactWriteItems"))
			}
			var oe *smithy.OperationError
			if !errors.As(err, &oe) || oe.Operation() != "TransactWriteItems" {
				t.Errorf("error not wrapped like the SDK's: %v", err)
			}
			if !strings.Contains(err.Error(), "Transaction cancelled, please refer cancellation reasons for specific reasons ["+strings.Join(c.want, ", ")+"]") {
				t.Errorf("message: %v", err)
			}
		})
	}
}

func TestRejectedTransactionOccupiesNothing(t *testing.T) {
	ctx := context.Background()
	m, _, _ := unitModel(t, Config{})
	if _, err := m.TransactWriteItems(ctx, txIn(upd("A", "1"))); err != nil {
		t.Fatal(err)
	}
	// Cancelled on A: B must stay free.
	reasons(t, errOf(m.TransactWriteItems(ctx, txIn(upd("B", "1"), upd("A", "1")))))
	if _, err := m.TransactWriteItems(ctx, txIn(upd("B", "1"))); err != nil {
		t.Fatalf("B occupied by a cancelled transaction: %v", err)
	}
}

func TestFailedTransactionStillOccupies(t *testing.T) {
	ctx := context.Background()
	m, f, _ := unitModel(t, Config{})
	f.txErr = errors.New("condition failed in DynamoDB Local")
	if _, err := m.TransactWriteItems(ctx, txIn(upd("A", "1"))); err == nil {
		t.Fatal("want the inner error")
	}
	f.txErr = nil
	if got := reasons(t, errOf(m.TransactWriteItems(ctx, txIn(upd("A", "1"))))); got[0] != CodeConflict {
		t.Errorf("reasons %v", got)
	}
	r := m.Report(0)
	if c := r.Total; c.Failed != 1 || c.Conflicts != 1 || c.Successes != 0 {
		t.Errorf("counts %+v", c)
	}
	if r.Failures["other"] != 1 || !strings.Contains(r.String(), "failed in DynamoDB Local: 1 x other;") {
		t.Errorf("failures %v\n%s", r.Failures, r)
	}
}

func TestStandardWrites(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		call func(m *Model) error
	}{
		{"PutItem", func(m *Model) error { _, err := m.PutItem(ctx, putIn("A", "1")); return err }},
		{"UpdateItem", func(m *Model) error {
			_, err := m.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(tbl), Key: pk("A", "1"), UpdateExpression: aws.String("SET x = :x"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":x": &types.AttributeValueMemberS{Value: "y"}}})
			return err
		}},
		{"DeleteItem", func(m *Model) error {
			_, err := m.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(tbl), Key: pk("A", "1")})
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, f, clk := unitModel(t, Config{})
			if err := c.call(m); err != nil {
				t.Fatalf("free item: %v", err)
			}
			// A standard write occupies nothing: a transaction goes through.
			if _, err := m.TransactWriteItems(ctx, txIn(upd("A", "1"))); err != nil {
				t.Fatalf("transaction after a standard write: %v", err)
			}
			err := c.call(m)
			var tce *types.TransactionConflictException
			if !errors.As(err, &tce) {
				t.Fatalf("during a transaction: want TransactionConflictException, got %v", err)
			}
			if f.n(c.name) != 1 {
				t.Errorf("the conflicting write reached DynamoDB")
			}
			clk.Advance(DefaultServiceTime)
			if err := c.call(m); err != nil {
				t.Fatalf("after the transaction: %v", err)
			}
		})
	}
}

func TestReadsPassThrough(t *testing.T) {
	ctx := context.Background()
	m, f, _ := unitModel(t, Config{})
	if _, err := m.TransactWriteItems(ctx, txIn(upd("A", "1"))); err != nil {
		t.Fatal(err)
	}
	errOf(m.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tbl), Key: pk("A", "1")}))
	errOf(m.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(tbl)}))
	errOf(m.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(tbl)}))
	for _, op := range []string{"GetItem", "Query", "Scan"} {
		if f.n(op) != 1 {
			t.Errorf("%s: %d calls reached DynamoDB, want 1", op, f.n(op))
		}
	}
	if got := m.Report(0).Total.Attempts; got != 1 {
		t.Errorf("reads counted as writes: %d attempts", got)
	}
}

func TestCapacity(t *testing.T) {
	ctx := context.Background()
	t.Run("standard writes at one partition", func(t *testing.T) {
		m, _, clk := unitModel(t, Config{})
		ok, throttledN := 0, 0
		for i := 0; i < 1100; i++ { // 1 WCU each, no time passing
			_, err := m.PutItem(ctx, putIn("HOT", fmt.Sprint(i)))
			var te *types.ThrottlingException
			switch {
			case err == nil:
				ok++
			case errors.As(err, &te):
				throttledN++
				if len(te.ThrottlingReasons) != 1 || aws.ToString(te.ThrottlingReasons[0].Reason) != ReasonKeyRange {
					t.Fatalf("throttling reasons %+v", te.ThrottlingReasons)
				}
			default:
				t.Fatal(err)
			}
		}
		if ok != 1000 || throttledN != 100 {
			t.Errorf("%d ok, %d throttled; want 1000, 100", ok, throttledN)
		}
		if _, err := m.PutItem(ctx, putIn("COLD", "1")); err != nil {
			t.Errorf("another partition: %v", err)
		}
		clk.Advance(100 * time.Millisecond) // refills 100 WCU
		for i := 0; i < 100; i++ {
			if _, err := m.PutItem(ctx, putIn("HOT", fmt.Sprint("again", i))); err != nil {
				t.Fatalf("after refill, write %d: %v", i, err)
			}
		}
		if _, err := m.PutItem(ctx, putIn("HOT", "one too many")); err == nil {
			t.Error("bucket refilled beyond its rate")
		}
	})
	t.Run("transactions cost 2 WCU per KB per item", func(t *testing.T) {
		m, _, _ := unitModel(t, Config{})
		ok := 0
		for i := 0; i < 600; i++ { // 2 WCU each: 500 fit
			if _, err := m.TransactWriteItems(ctx, txIn(upd("HOT", fmt.Sprint(i)))); err == nil {
				ok++
			} else if got := reasons(t, err); got[0] != CodeThrottling {
				t.Fatalf("reasons %v", got)
			}
		}
		if ok != 500 {
			t.Errorf("%d transactions admitted, want 500", ok)
		}
		if r := m.Report(0); r.ConsumedWCU != 1000 || r.Total.Throttles != 100 {
			t.Errorf("report %+v", r)
		}
	})
	t.Run("throttled item named, others None, nothing consumed", func(t *testing.T) {
		m, _, _ := unitModel(t, Config{WCUPerSecond: 3})
		// HOT has 3 WCU: the first item (2) fits, the second does not.
		got := reasons(t, errOf(m.TransactWriteItems(ctx, txIn(upd("COLD", "1"), upd("HOT", "1"), upd("HOT", "2")))))
		if strings.Join(got, ",") != "None,None,ThrottlingError" {
			t.Errorf("reasons %v", got)
		}
		// Nothing was consumed: HOT still takes one 2-WCU item.
		if _, err := m.TransactWriteItems(ctx, txIn(upd("HOT", "3"))); err != nil {
			t.Errorf("capacity consumed by a throttled transaction: %v", err)
		}
	})
	t.Run("big items", func(t *testing.T) {
		m, _, _ := unitModel(t, Config{WCUPerSecond: 10})
		item := pk("HOT", "big")
		item["blob"] = &types.AttributeValueMemberB{Value: make([]byte, 3000)} // 3 KB: 6 WCU in a transaction
		in := txIn(types.TransactWriteItem{Put: &types.Put{TableName: aws.String(tbl), Item: item}})
		if _, err := m.TransactWriteItems(ctx, in); err != nil {
			t.Fatal(err)
		}
		if got := m.Report(0).ConsumedWCU; got != 6 {
			t.Errorf("consumed %v WCU, want 6", got)
		}
		reasons(t, errOf(m.TransactWriteItems(ctx, txIn(types.TransactWriteItem{Put: &types.Put{TableName: aws.String(tbl), Item: pk("HOT", "b2")}},
			types.TransactWriteItem{Put: &types.Put{TableName: aws.String(tbl), Item: item}}))))
	})
	t.Run("condition checks cost nothing but occupy", func(t *testing.T) {
		m, _, _ := unitModel(t, Config{WCUPerSecond: 1})
		cc := types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(tbl), Key: pk("HOT", "1"), ConditionExpression: aws.String("attribute_exists(PK)")}}
		if _, err := m.TransactWriteItems(ctx, txIn(cc)); err != nil {
			t.Fatal(err)
		}
		if got := reasons(t, errOf(m.TransactWriteItems(ctx, txIn(cc)))); got[0] != CodeConflict {
			t.Errorf("reasons %v", got)
		}
	})
	t.Run("batch: throttled requests unprocessed", func(t *testing.T) {
		m, f, _ := unitModel(t, Config{WCUPerSecond: 2})
		in := &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{tbl: {
			{PutRequest: &types.PutRequest{Item: pk("HOT", "1")}}, {PutRequest: &types.PutRequest{Item: pk("HOT", "2")}},
			{PutRequest: &types.PutRequest{Item: pk("HOT", "3")}}, {PutRequest: &types.PutRequest{Item: pk("COLD", "1")}},
		}}}
		out, err := m.BatchWriteItem(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(out.UnprocessedItems[tbl]); n != 1 || len(f.batch) != 3 {
			t.Errorf("%d unprocessed, %d sent; want 1, 3", n, len(f.batch))
		}
		// HOT is now empty: a batch of HOT only fails as a whole.
		_, err = m.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{tbl: {{PutRequest: &types.PutRequest{Item: pk("HOT", "4")}}}}})
		var te *types.ThrottlingException
		if !errors.As(err, &te) {
			t.Errorf("want ThrottlingException, got %v", err)
		}
	})
	t.Run("off", func(t *testing.T) {
		m, _, _ := unitModel(t, Config{NoCapacity: true})
		for i := 0; i < 2000; i++ {
			if _, err := m.PutItem(ctx, putIn("HOT", fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestReportAndReset(t *testing.T) {
	ctx := context.Background()
	m, _, _ := unitModel(t, Config{})
	errOf(m.TransactWriteItems(ctx, txIn(upd("HOT", "1"), upd("X", "1"))))
	for i := 0; i < 3; i++ {
		errOf(m.TransactWriteItems(ctx, txIn(upd("Y", fmt.Sprint(i)), upd("HOT", "1"))))
	}
	errOf(m.PutItem(ctx, putIn("HOT", "1")))
	r := m.Report(2)
	if want := (Counts{Attempts: 5, Successes: 1, Rejected: 4, Conflicts: 4}); r.Total != want {
		t.Errorf("total %+v, want %+v", r.Total, want)
	}
	hot := ItemKey{tbl, "HOT", "1"}
	if len(r.Hottest) != 2 || r.Hottest[0].Key != hot {
		t.Fatalf("hottest %+v", r.Hottest)
	}
	if want := (Counts{Attempts: 5, Successes: 1, Rejected: 4, Conflicts: 4}); r.Hottest[0].Counts != want || m.Key(hot) != want {
		t.Errorf("hot key %+v, want %+v", r.Hottest[0].Counts, want)
	}
	if want := (Counts{Attempts: 1, Rejected: 1}); m.Key(ItemKey{tbl, "Y", "0"}) != want {
		t.Errorf("collateral key %+v, want %+v", m.Key(ItemKey{tbl, "Y", "0"}), want)
	}
	if r.Keys != 5 || r.ConsumedWCU != 4 {
		t.Errorf("keys %d, WCU %v", r.Keys, r.ConsumedWCU)
	}
	if s := r.String(); !strings.Contains(s, "tbl HOT / 1: 5 attempts: 1 ok, 0 failed, 4 rejected (4 conflicts, 0 throttles)") {
		t.Errorf("report:\n%s", s)
	}
	if got := r.ConflictsPerSuccess(); got != 4 {
		t.Errorf("conflicts per success %v", got)
	}
	m.Reset()
	if r := m.Report(-1); r.Total != (Counts{}) || len(r.Hottest) != 0 {
		t.Errorf("after Reset: %+v", r)
	}
	if _, err := m.TransactWriteItems(ctx, txIn(upd("HOT", "1"))); err != nil {
		t.Errorf("Reset kept occupancy: %v", err)
	}
}

// TestManyGoroutines fires transactions at one item from many goroutines
// with the clock stopped: exactly one is admitted, whatever the schedule.
func TestManyGoroutines(t *testing.T) {
	ctx := context.Background()
	m, f, _ := unitModel(t, Config{})
	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = m.TransactWriteItems(ctx, txIn(upd("own", fmt.Sprint(i)), upd("HOT", "1")))
			// and a standard write at a partition of its own
			_, _ = m.PutItem(ctx, putIn(fmt.Sprint("P", i), "1"))
			_ = m.Report(3)
		}(i)
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if got := reasons(t, err); strings.Join(got, ",") != "None,TransactionConflict" {
			t.Fatalf("reasons %v", got)
		}
	}
	if ok != 1 || f.n("TransactWriteItems") != 1 {
		t.Errorf("%d admitted (%d reached DynamoDB), want 1", ok, f.n("TransactWriteItems"))
	}
	r := m.Report(1)
	if want := (Counts{Attempts: 2 * n, Successes: 1 + n, Rejected: n - 1, Conflicts: n - 1}); r.Total != want {
		t.Errorf("total %+v, want %+v", r.Total, want)
	}
	if r.Hottest[0].Key != (ItemKey{tbl, "HOT", "1"}) || r.Hottest[0].Conflicts != n-1 {
		t.Errorf("hottest %+v", r.Hottest)
	}
}

func TestPadding(t *testing.T) {
	ctx := context.Background()
	clk := &manualClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var slept []time.Duration
	var mu sync.Mutex
	m := Wrap(&fake{}, Config{OutsideSDK: true, Now: clk.Now, StandardServiceTime: 4 * time.Millisecond,
		Sleep: func(_ context.Context, d time.Duration) { mu.Lock(); slept = append(slept, d); mu.Unlock() }})
	errOf(m.TransactWriteItems(ctx, txIn(upd("A", "1"))))
	errOf(m.PutItem(ctx, putIn("B", "1")))
	reasons(t, errOf(m.TransactWriteItems(ctx, txIn(upd("A", "1"))))) // rejected: answered at once
	if len(slept) != 2 || slept[0] != DefaultServiceTime || slept[1] != 4*time.Millisecond {
		t.Errorf("slept %v, want [15ms 4ms]", slept)
	}
}

func TestNoPaddingFreesItemsWhenAnswered(t *testing.T) {
	ctx := context.Background()
	m, _, _ := unitModel(t, Config{NoPadding: true})
	// The clock stands still: the first transaction answered before its
	// service time was over, and an answered transaction holds nothing.
	if _, err := m.TransactWriteItems(ctx, txIn(upd("A", "1"))); err != nil {
		t.Fatal(err)
	}
	if _, err := m.TransactWriteItems(ctx, txIn(upd("A", "1"))); err != nil {
		t.Errorf("an answered transaction still occupies its item: %v", err)
	}
	if _, err := m.PutItem(ctx, putIn("A", "1")); err != nil {
		t.Errorf("PutItem after the transaction answered: %v", err)
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(EnvServiceTime, "25ms")
	t.Setenv(EnvWCUPerSecond, "500")
	t.Setenv(EnvNoPadding, "true")
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.ServiceTime != 25*time.Millisecond || c.WCUPerSecond != 500 || !c.NoPadding {
		t.Errorf("%+v", c)
	}
	t.Setenv(EnvServiceTime, "soon")
	if _, err := FromEnv(); err == nil {
		t.Error("want an error for a bad duration")
	}
}

// errOf returns err of a (value, error) pair.
func errOf[T any](_ T, err error) error { return err }
