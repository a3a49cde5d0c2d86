package capacity

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Enforcer throttles like the cloud: every partition of the table and of
// each index has a bucket of PartitionWCU write units and PartitionRCU
// read units a second (holding one second's worth). A call touching a
// partition whose bucket is empty is refused, as DynamoDB refuses it: a
// TransactWriteItems is cancelled with reason "ThrottlingError" on the
// throttled items, any other call fails with ThrottlingException (a
// throttled index throttles the table write that would update it). An
// admitted call holds a unit on each partition it touches until it answers
// (so calls racing for a partition's last units do not all pass), then is
// charged what it really cost (Recorder): a bucket can go below zero and
// stays closed until it has refilled.
type Enforcer struct {
	*Recorder
	now func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	reqID   atomic.Int64

	Throttled atomic.Int64 // calls refused

	// Scale multiplies every partition's limits (0: 1). A local stack
	// serves a few hundred requests a second, far below a partition's
	// limits; scaled down, the same traffic meets the same hot spots.
	Scale float64
}

type bucket struct {
	tokens float64
	at     time.Time
}

// Enforce wraps inner (peek: the bare client for item reads) in the model's
// throttling, for a table whose schema is s.
func Enforce(inner, peek Client, s Schema) *Enforcer {
	e := &Enforcer{Recorder: NewRecorder(inner, peek, s), now: time.Now, buckets: map[string]*bucket{}}
	e.Admit = e.admitCall
	e.Done = e.charge
	return e
}

func (e *Enforcer) limitOf(kind string) float64 {
	f := e.Scale
	if f <= 0 {
		f = 1
	}
	if kind == Read {
		return f * PartitionRCU
	}
	return f * PartitionWCU
}

func (e *Enforcer) bucketOf(index, pk, kind string, now time.Time) *bucket {
	k := index + "\x00" + pk + "\x00" + kind
	b, ok := e.buckets[k]
	lim := e.limitOf(kind)
	if !ok {
		b = &bucket{tokens: lim, at: now}
		e.buckets[k] = b
	}
	b.tokens = min(lim, b.tokens+now.Sub(b.at).Seconds()*lim)
	b.at = now
	return b
}

func (e *Enforcer) admitCall(op string, touched []Touch) error {
	now := e.now()
	e.mu.Lock()
	var hot []Touch
	for _, t := range touched {
		if e.bucketOf(t.Index, t.PK, t.Kind, now).tokens <= 0 {
			hot = append(hot, t)
		}
	}
	if len(hot) == 0 {
		for _, t := range touched {
			e.bucketOf(t.Index, t.PK, t.Kind, now).tokens -= reserved
		}
	}
	e.mu.Unlock()
	if len(hot) == 0 {
		return nil
	}
	e.Throttled.Add(1)
	if op == "TransactWriteItems" {
		n := 0
		for _, t := range touched {
			n = max(n, t.Item+1)
		}
		codes := make([]string, n)
		for i := range codes {
			codes[i] = "None"
		}
		for _, t := range hot {
			codes[t.Item] = "ThrottlingError"
		}
		return e.wrap(op, cancelled(codes))
	}
	where := "table"
	if hot[0].Index != "" {
		where = "index " + hot[0].Index
	}
	reason := "TableWriteKeyRangeThroughputExceeded"
	switch {
	case hot[0].Kind == Read && hot[0].Index != "":
		reason = "IndexReadKeyRangeThroughputExceeded"
	case hot[0].Kind == Read:
		reason = "TableReadKeyRangeThroughputExceeded"
	case hot[0].Index != "":
		reason = "IndexWriteKeyRangeThroughputExceeded"
	}
	return e.wrap(op, &types.ThrottlingException{Message: aws.String(msgThrottled + " (" + where + " partition " + hot[0].PK + ")"),
		ThrottlingReasons: []types.ThrottlingReason{{Reason: aws.String(reason)}}})
}

// reserved is what an admitted call holds on each partition it touches
// until its real cost is known.
const reserved = 1.0

func (e *Enforcer) charge(touched []Touch, cs []Charge) {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range touched {
		e.bucketOf(t.Index, t.PK, t.Kind, now).tokens += reserved
	}
	for _, c := range cs {
		e.bucketOf(c.Index, c.PK, c.Kind, now).tokens -= c.Units
	}
}

const msgThrottled = "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly. If exceptions persist, check if you have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html."

func cancelled(codes []string) *types.TransactionCanceledException {
	reasons := make([]types.CancellationReason, len(codes))
	for i, c := range codes {
		reasons[i].Code = aws.String(c)
		if c == "ThrottlingError" {
			reasons[i].Message = aws.String(msgThrottled)
		}
	}
	return &types.TransactionCanceledException{
		Message:             aws.String("Transaction cancelled, please refer cancellation reasons for specific reasons [" + strings.Join(codes, ", ") + "]"),
		CancellationReasons: reasons,
	}
}

// wrap dresses an API error as the SDK returns it: an HTTP 400 response
// error inside an operation error.
func (e *Enforcer) wrap(op string, apiErr error) error {
	id := fmt.Sprintf("CAPACITYMODEL%019d", e.reqID.Add(1))
	resp := &http.Response{StatusCode: http.StatusBadRequest, Status: "400 Bad Request", Header: http.Header{"X-Amzn-Requestid": []string{id}}}
	return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: op, Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: resp}, Err: apiErr}, RequestID: id}}
}
