package storetest

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/store"
)

// Faulty wraps a client and makes the next N TransactWriteItems calls fail
// with TransactionConflict on item ConflictItem, the way real DynamoDB does
// when two transactions touch one item at once (DynamoDB Local never does).
// With ApplyFirst, the first faulted call is applied before failing, like a
// commit whose response was lost, to prove retries reuse the request token.
type Faulty struct {
	store.API
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
			if _, err := f.API.TransactWriteItems(ctx, in, opts...); err != nil {
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
	return f.API.TransactWriteItems(ctx, in, opts...)
}
