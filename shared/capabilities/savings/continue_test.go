package savings_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/localstack/stacktest"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
)

// throttling fails every TransactWriteItems with a throttle while budget > 0.
type throttling struct {
	ddb.Client
	budget atomic.Int64
}

func (c *throttling) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if c.budget.Add(-1) >= 0 {
		return nil, &types.ProvisionedThroughputExceededException{Message: aws.String("throttled (test)")}
	}
	return c.Client.TransactWriteItems(ctx, in, o...)
}

// TestThrottledShardContinuesAtOnce: a worker pass whose transactions are
// throttled past the ledger's retries does not fail its message (which
// would wait for the queue's visibility timeout): it sends a continuation
// at once, and every account-day is still paid exactly once.
func TestThrottledShardContinuesAtOnce(t *testing.T) {
	thr := &throttling{}
	s := stacktest.New(t, config.Config{}, func(c ddb.Client) ddb.Client { thr.Client = c; return thr })
	kim := s.Register(t, "Kim")
	s.Fund(t, kim, 20_000_000)
	var ids []string
	for i := 0; i < 6; i++ {
		id := open(t, s, kim, "")
		if r := deposit(t, s, kim, id, int64(100_000*(i+1))); r.Status != 201 {
			t.Fatal(r.Raw)
		}
		ids = append(ids, id)
	}
	at(s, 3, 4, 0)
	before := s.Emulator.QueueStats()
	thr.budget.Store(40) // more throttles than one commit retries
	fire(t, s, "savings-interest")
	st := s.Emulator.QueueStats()
	if st.Failed != before.Failed || st.DeadLettered != 0 {
		t.Fatalf("a throttled pass failed its message: %+v (before %+v)", st, before)
	}
	if thr.budget.Load() > 0 {
		t.Fatalf("the throttles were not met (%d left)", thr.budget.Load())
	}
	fire(t, s, "savings-interest") // and once more: nothing twice
	for i, id := range ids {
		p := get(t, s, kim, id)
		want := reference(repeat(int64(100_000*(i+1)), 3), 300)
		if p.InterestPaid != want || p.Balance != p.Principal+want {
			t.Errorf("account %d: %+v, want interest %d", i, p, want)
		}
	}
}
