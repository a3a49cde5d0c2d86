package ddbtest

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/kernel/ddb"
)

// Faulty wraps a client and makes the next N TransactWriteItems calls fail
// with TransactionConflict on item ConflictItem, the way real DynamoDB does
// when two transactions touch one item at once (DynamoDB Local never does).
// With ApplyFirst, the first faulted call is applied before failing, like a
// commit whose response was lost, to prove retries reuse the request token.
type Faulty struct {
	ddb.Client
	Conflicts    atomic.Int64
	ConflictItem int
	ApplyFirst   bool

	mu      sync.Mutex
	Tokens  []string // ClientRequestToken of every TransactWriteItems call
	applied bool
}

func (f *Faulty) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.mu.Lock()
	f.Tokens = append(f.Tokens, aws.ToString(in.ClientRequestToken))
	applyNow := f.ApplyFirst && !f.applied
	f.mu.Unlock()
	if f.Conflicts.Add(-1) >= 0 {
		if applyNow {
			f.mu.Lock()
			f.applied = true
			f.mu.Unlock()
			if _, err := f.Client.TransactWriteItems(ctx, in, opts...); err != nil {
				return nil, err
			}
		}
		reasons := make([]types.CancellationReason, len(in.TransactItems))
		for i := range reasons {
			reasons[i].Code = aws.String("None")
		}
		reasons[f.ConflictItem%len(reasons)].Code = aws.String("TransactionConflict")
		return nil, &types.TransactionCanceledException{Message: aws.String("injected conflict"), CancellationReasons: reasons}
	}
	return f.Client.TransactWriteItems(ctx, in, opts...)
}

// Instrumented wraps a client and counts requests by operation, the write
// capacity transactions consume (it asks for ReturnConsumedCapacity), and
// the DynamoDB actions the calls need (a TransactWriteItems counts each
// item's action, as IAM authorizes it).
type Instrumented struct {
	ddb.Client
	mu      sync.Mutex
	counts  map[string]int
	actions map[string]int
	wcu     float64
}

// Usage is what an Instrumented client saw since the last Reset.
type Usage struct {
	Requests map[string]int
	Actions  map[string]int // IAM action ("dynamodb:PutItem") -> uses
	WCU      float64        // consumed by TransactWriteItems
}

// Total is the number of requests of every kind.
func (u Usage) Total() int {
	n := 0
	for _, c := range u.Requests {
		n += c
	}
	return n
}

// Reset returns the usage so far and starts counting afresh.
func (c *Instrumented) Reset() Usage {
	c.mu.Lock()
	defer c.mu.Unlock()
	u := Usage{Requests: c.counts, Actions: c.actions, WCU: c.wcu}
	if u.Requests == nil {
		u.Requests = map[string]int{}
	}
	if u.Actions == nil {
		u.Actions = map[string]int{}
	}
	c.counts, c.actions, c.wcu = map[string]int{}, map[string]int{}, 0
	return u
}

func (c *Instrumented) inc(op string, actions ...string) {
	c.mu.Lock()
	if c.counts == nil {
		c.counts, c.actions = map[string]int{}, map[string]int{}
	}
	c.counts[op]++
	for _, a := range actions {
		c.actions["dynamodb:"+a]++
	}
	c.mu.Unlock()
}

func (c *Instrumented) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.inc("GetItem", "GetItem")
	return c.Client.GetItem(ctx, in, o...)
}

func (c *Instrumented) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.inc("PutItem", "PutItem")
	return c.Client.PutItem(ctx, in, o...)
}

func (c *Instrumented) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.inc("UpdateItem", "UpdateItem")
	return c.Client.UpdateItem(ctx, in, o...)
}

func (c *Instrumented) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.inc("Query", "Query")
	return c.Client.Query(ctx, in, o...)
}

func (c *Instrumented) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	var actions []string
	for _, it := range in.TransactItems {
		switch {
		case it.Put != nil:
			actions = append(actions, "PutItem")
		case it.Update != nil:
			actions = append(actions, "UpdateItem")
		case it.Delete != nil:
			actions = append(actions, "DeleteItem")
		case it.ConditionCheck != nil:
			actions = append(actions, "ConditionCheckItem")
		}
	}
	c.inc("TransactWriteItems", actions...)
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.TransactWriteItems(ctx, in, o...)
	if err == nil {
		c.mu.Lock()
		for _, cc := range out.ConsumedCapacity {
			if cc.CapacityUnits != nil {
				c.wcu += *cc.CapacityUnits
			}
		}
		c.mu.Unlock()
	}
	return out, err
}
