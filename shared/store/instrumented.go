package store

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Instrumented wraps a client and counts requests by operation and the
// write capacity units transactions consume (it asks for
// ReturnConsumedCapacity). Benchmarks and tests use it to check that a money
// movement costs exactly one request.
type Instrumented struct {
	API
	mu     sync.Mutex
	counts map[string]int
	wcu    float64
}

// Usage is what an Instrumented client saw since the last Reset.
type Usage struct {
	Requests map[string]int
	WCU      float64 // consumed by TransactWriteItems
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
	u := Usage{Requests: c.counts, WCU: c.wcu}
	if u.Requests == nil {
		u.Requests = map[string]int{}
	}
	c.counts, c.wcu = map[string]int{}, 0
	return u
}

func (c *Instrumented) inc(op string) {
	c.mu.Lock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[op]++
	c.mu.Unlock()
}

func (c *Instrumented) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.inc("GetItem")
	return c.API.GetItem(ctx, in, o...)
}

func (c *Instrumented) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.inc("PutItem")
	return c.API.PutItem(ctx, in, o...)
}

func (c *Instrumented) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.inc("DeleteItem")
	return c.API.DeleteItem(ctx, in, o...)
}

func (c *Instrumented) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.inc("Query")
	return c.API.Query(ctx, in, o...)
}

func (c *Instrumented) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	c.inc("Scan")
	return c.API.Scan(ctx, in, o...)
}

func (c *Instrumented) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.inc("BatchWriteItem")
	return c.API.BatchWriteItem(ctx, in, o...)
}

func (c *Instrumented) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.inc("TransactWriteItems")
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.API.TransactWriteItems(ctx, in, o...)
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
