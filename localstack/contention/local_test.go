package contention

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Integration tests: the model inside a real SDK client's middleware stack,
// in front of DynamoDB Local. Occupancy and capacity use a stopped clock, so
// outcomes do not depend on how fast a loaded machine runs.

type world struct {
	table string
	m     *Model
	clk   *manualClock
}

func newWorld(t *testing.T, cfg Config) *world {
	t.Helper()
	table := localTable(t)
	clk := &manualClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	cfg.Now, cfg.Sleep = clk.Now, func(context.Context, time.Duration) {} // padding takes no (real) time
	return &world{table: table, m: Wrap(localClient, cfg), clk: clk}
}

// add is an Update of n by 1 on (p, s), optionally with a condition.
func (w *world) add(p, s, cond string) types.TransactWriteItem {
	u := &types.Update{TableName: aws.String(w.table), Key: pk(p, s), UpdateExpression: aws.String("ADD n :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}}}
	if cond != "" {
		u.ConditionExpression = aws.String(cond)
	}
	return types.TransactWriteItem{Update: u}
}

func (w *world) put(p, s string) types.TransactWriteItem {
	return types.TransactWriteItem{Put: &types.Put{TableName: aws.String(w.table), Item: pk(p, s)}}
}

// n reads (p, s)'s counter from DynamoDB Local, bypassing the model; -1 if
// the item does not exist.
func (w *world) n(t *testing.T, p, s string) int {
	t.Helper()
	out, err := localClient.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(w.table), Key: pk(p, s), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Item == nil {
		return -1
	}
	v, ok := out.Item["n"].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(v.Value)
	return n
}

func (w *world) tx(items ...types.TransactWriteItem) error {
	_, err := w.m.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return err
}

// noBackoff keeps the SDK's standard retryer (its retryable codes, its 3
// attempts) but without the sleeps, so retry tests are quick.
func noBackoff(o *dynamodb.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
	})
}

func TestLocalTransactionConflicts(t *testing.T) {
	for _, c := range []struct {
		name string
		run  func(t *testing.T, w *world)
	}{
		{"overlap on one item: one TransactionConflict, in item order, nothing applied", func(t *testing.T, w *world) {
			if err := w.tx(w.add("A", "1", ""), w.add("B", "1", "")); err != nil {
				t.Fatal(err)
			}
			err := w.tx(w.put("C", "1"), w.add("B", "1", ""), w.add("D", "1", ""))
			if got := reasons(t, err); strings.Join(got, ",") != "None,TransactionConflict,None" {
				t.Errorf("reasons %v", got)
			}
			if w.n(t, "B", "1") != 1 || w.n(t, "C", "1") != -1 || w.n(t, "D", "1") != -1 {
				t.Errorf("the cancelled transaction changed items: B=%d C=%d D=%d", w.n(t, "B", "1"), w.n(t, "C", "1"), w.n(t, "D", "1"))
			}
			if got := w.m.Key(ItemKey{w.table, "B", "1"}); got.Attempts != 2 || got.Conflicts != 1 {
				t.Errorf("B counts %+v (the SDK must not retry a cancellation)", got)
			}
		}},
		{"disjoint items: both succeed", func(t *testing.T, w *world) {
			if err := w.tx(w.add("A", "1", ""), w.add("B", "1", "")); err != nil {
				t.Fatal(err)
			}
			if err := w.tx(w.add("C", "1", ""), w.add("A", "2", "")); err != nil {
				t.Fatal(err)
			}
			if w.n(t, "A", "1") != 1 || w.n(t, "C", "1") != 1 || w.n(t, "A", "2") != 1 {
				t.Error("an item was not written")
			}
		}},
		{"free again after the service time", func(t *testing.T, w *world) {
			if err := w.tx(w.add("A", "1", "")); err != nil {
				t.Fatal(err)
			}
			w.clk.Advance(DefaultServiceTime)
			if err := w.tx(w.add("A", "1", "")); err != nil {
				t.Fatal(err)
			}
			if w.n(t, "A", "1") != 2 {
				t.Errorf("n = %d, want 2", w.n(t, "A", "1"))
			}
		}},
		{"PutItem during a transaction: TransactionConflictException, not retried", func(t *testing.T, w *world) {
			if err := w.tx(w.add("A", "1", "")); err != nil {
				t.Fatal(err)
			}
			_, err := w.m.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(w.table), Item: pk("A", "1")})
			var tce *types.TransactionConflictException
			if !errors.As(err, &tce) {
				t.Fatalf("want TransactionConflictException, got %v", err)
			}
			if got := w.m.Key(ItemKey{w.table, "A", "1"}).Attempts; got != 2 {
				t.Errorf("%d attempts on A; the SDK retried a TransactionConflictException", got)
			}
			if w.n(t, "A", "1") != 1 {
				t.Error("the PutItem was applied")
			}
		}},
		{"a transaction refused by a condition still occupied its items", func(t *testing.T, w *world) {
			err := w.tx(w.add("A", "1", "attribute_exists(PK)"))
			if got := reasons(t, err); got[0] != "ConditionalCheckFailed" {
				t.Fatalf("reasons %v", got)
			}
			if got := reasons(t, w.tx(w.add("A", "1", ""))); got[0] != CodeConflict {
				t.Errorf("reasons %v", got)
			}
			r := w.m.Report(0)
			if tot := r.Total; tot.Failed != 1 || tot.Conflicts != 1 {
				t.Errorf("totals %+v", tot)
			}
			if r.Failures["TransactionCanceledException ConditionalCheckFailed"] != 1 {
				t.Errorf("failures %v", r.Failures)
			}
		}},
		{"reads pass through an occupied item", func(t *testing.T, w *world) {
			if err := w.tx(w.add("A", "1", "")); err != nil {
				t.Fatal(err)
			}
			out, err := w.m.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(w.table), Key: pk("A", "1")})
			if err != nil || out.Item == nil {
				t.Fatalf("GetItem: %v %v", out, err)
			}
			if _, err := w.m.Query(context.Background(), &dynamodb.QueryInput{TableName: aws.String(w.table),
				KeyConditionExpression: aws.String("PK = :p"), ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "A"}}}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, newWorld(t, Config{})) })
	}
}

func TestLocalCapacity(t *testing.T) {
	ctx := context.Background()
	t.Run("1,200 WCU of transactions at one partition key: 1,000 served, the rest ThrottlingError", func(t *testing.T) {
		w := newWorld(t, Config{})
		outcomes := fire(600, 16, func(i int) error { return w.tx(w.put("HOT", fmt.Sprint(i))) }) // 2 WCU each
		if outcomes["ok"] != 500 || outcomes["ThrottlingError"] != 100 {
			t.Errorf("outcomes %v, want 500 ok, 100 ThrottlingError", outcomes)
		}
		out, err := localClient.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(w.table), Select: types.SelectCount,
			KeyConditionExpression: aws.String("PK = :p"), ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "HOT"}}})
		if err != nil {
			t.Fatal(err)
		}
		if out.Count != 500 {
			t.Errorf("%d items written at HOT, want 500", out.Count)
		}
		if tot := w.m.Report(0).Total; tot.Attempts != 600 || tot.Throttles != 100 {
			t.Errorf("totals %+v (a throttled transaction is not retried by the SDK)", tot)
		}
	})
	t.Run("the same at 600 partition keys: no throttling", func(t *testing.T) {
		w := newWorld(t, Config{})
		outcomes := fire(600, 16, func(i int) error { return w.tx(w.put(fmt.Sprint("P", i), "1")) })
		if outcomes["ok"] != 600 {
			t.Errorf("outcomes %v", outcomes)
		}
	})
	t.Run("a throttled PutItem is retried by the SDK and surfaces as ThrottlingException", func(t *testing.T) {
		w := newWorld(t, Config{WCUPerSecond: 2})
		put := func(s string) error {
			_, err := w.m.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(w.table), Item: pk("HOT", s)}, noBackoff)
			return err
		}
		if err := put("1"); err != nil {
			t.Fatal(err)
		}
		if err := put("2"); err != nil {
			t.Fatal(err)
		}
		err := put("3")
		var te *types.ThrottlingException
		var maxAttempts *retry.MaxAttemptsError
		if !errors.As(err, &te) || !errors.As(err, &maxAttempts) {
			t.Fatalf("want ThrottlingException after the SDK's retries, got %v", err)
		}
		if got := w.m.Key(ItemKey{w.table, "HOT", "3"}); got.Attempts != 3 || got.Throttles != 3 {
			t.Errorf("counts %+v, want 3 attempts (the SDK's default), all throttled", got)
		}
		if !strings.Contains(err.Error(), "operation error DynamoDB: PutItem, exceeded maximum number of attempts, 3, https response error StatusCode: 400") {
			t.Errorf("error text: %v", err)
		}
		if w.n(t, "HOT", "3") != -1 {
			t.Error("a throttled PutItem was written")
		}
		w.clk.Advance(time.Second)
		if err := put("3"); err != nil {
			t.Errorf("after a second: %v", err)
		}
	})
	t.Run("BatchWriteItem: throttled requests come back unprocessed", func(t *testing.T) {
		w := newWorld(t, Config{WCUPerSecond: 3})
		var reqs []types.WriteRequest
		for i := 0; i < 5; i++ {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: pk("HOT", fmt.Sprint(i))}})
		}
		out, err := w.m.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{w.table: reqs}})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(out.UnprocessedItems[w.table]); n != 2 {
			t.Errorf("%d unprocessed, want 2", n)
		}
		written := 0
		for i := 0; i < 5; i++ {
			if w.n(t, "HOT", fmt.Sprint(i)) >= 0 {
				written++
			}
		}
		if written != 3 {
			t.Errorf("%d written, want 3", written)
		}
	})
}

func TestLocalManyGoroutines(t *testing.T) {
	w := newWorld(t, Config{})
	const n = 50
	outcomes := fire(n, n, func(i int) error { return w.tx(w.put("own", fmt.Sprint(i)), w.add("HOT", "1", "")) })
	if outcomes["ok"] != 1 || outcomes["TransactionConflict"] != n-1 {
		t.Errorf("outcomes %v, want 1 ok and %d conflicts", outcomes, n-1)
	}
	if w.n(t, "HOT", "1") != 1 {
		t.Errorf("HOT n = %d, want 1", w.n(t, "HOT", "1"))
	}
	r := w.m.Report(1)
	if len(r.Hottest) != 1 || r.Hottest[0].Key != (ItemKey{w.table, "HOT", "1"}) || r.Hottest[0].Conflicts != n-1 || r.Hottest[0].Successes != 1 {
		t.Errorf("report:\n%s", r)
	}
}

// TestLocalRealClock runs transactions on one item one after another with
// the real clock and padding on: each call lasts its service time, so the
// next never finds the item occupied.
func TestLocalRealClock(t *testing.T) {
	table := localTable(t)
	m := Wrap(localClient, Config{})
	w := &world{table: table, m: m}
	for i := 0; i < 5; i++ {
		if err := w.tx(w.add("A", "1", "")); err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
	}
	if w.n(t, "A", "1") != 5 {
		t.Errorf("n = %d", w.n(t, "A", "1"))
	}
}

// fire runs f(i) for i in [0, n) on workers goroutines released at once and
// counts outcomes: "ok", the first non-None cancellation code, or the error.
func fire(n, workers int, f func(i int) error) map[string]int {
	var mu sync.Mutex
	out := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range next {
				k := outcome(f(i))
				mu.Lock()
				out[k]++
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	return out
}

func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) {
		for _, r := range tc.CancellationReasons {
			if c := aws.ToString(r.Code); c != CodeNone {
				return c
			}
		}
	}
	return err.Error()
}
