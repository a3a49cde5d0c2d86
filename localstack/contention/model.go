package contention

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// Client is the part of *dynamodb.Client the model wraps; every DynamoDB
// client interface of minipay is a subset of it.
type Client interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// Model is a Client that adds conflicts, throttling and latency to inner.
// Safe for concurrent use.
type Model struct {
	inner Client
	cfg   Config
	reqID atomic.Int64

	mu       sync.Mutex
	busy     map[ItemKey]time.Time // occupied until
	buckets  map[partition]*bucket
	total    Counts
	keys     map[ItemKey]*Counts
	failures map[string]int64 // Failed, by what DynamoDB Local answered
	wcu      float64
	ops      int
}

var _ Client = (*Model)(nil)

// Wrap returns the model around inner. Unless cfg.OutsideSDK is set, inner
// must apply the option functions it is given to an SDK client (a
// *dynamodb.Client, or a wrapper passing them on): a write it answers
// without running the model's middleware panics, since it went unmodelled.
func Wrap(inner Client, cfg Config) *Model {
	m := &Model{inner: inner, cfg: cfg.withDefaults()}
	m.reset()
	return m
}

func (m *Model) reset() {
	m.busy = map[ItemKey]time.Time{}
	m.buckets = map[partition]*bucket{}
	m.keys = map[ItemKey]*Counts{}
	m.failures = map[string]int64{}
	m.total, m.wcu = Counts{}, 0
}

// ---- reads: passed through ----

func (m *Model) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return m.inner.GetItem(ctx, in, o...)
}

func (m *Model) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return m.inner.Query(ctx, in, o...)
}

func (m *Model) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return m.inner.Scan(ctx, in, o...)
}

// ---- writes ----

func (m *Model) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	ws := m.transactWrites(in)
	return invoke(m, ctx, "TransactWriteItems", ws, m.cfg.ServiceTime, true,
		func(now time.Time) error { return m.admitTransaction(ws, now) },
		func(o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
			return m.inner.TransactWriteItems(ctx, in, o...)
		}, o)
}

func (m *Model) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	t := aws.ToString(in.TableName)
	w := write{m.KeyOf(t, in.Item), writeUnits(ItemSize(in.Item), 1)}
	return invoke(m, ctx, "PutItem", []write{w}, m.cfg.StandardServiceTime, false,
		func(now time.Time) error { return m.admitStandard(w, now) },
		func(o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
			return m.inner.PutItem(ctx, in, o...)
		}, o)
}

func (m *Model) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	t := aws.ToString(in.TableName)
	w := write{m.KeyOf(t, in.Key), writeUnits(updateSize(in.Key, in.UpdateExpression, in.ExpressionAttributeValues), 1)}
	return invoke(m, ctx, "UpdateItem", []write{w}, m.cfg.StandardServiceTime, false,
		func(now time.Time) error { return m.admitStandard(w, now) },
		func(o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
			return m.inner.UpdateItem(ctx, in, o...)
		}, o)
}

func (m *Model) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	t := aws.ToString(in.TableName)
	w := write{m.KeyOf(t, in.Key), writeUnits(ItemSize(in.Key), 1)}
	return invoke(m, ctx, "DeleteItem", []write{w}, m.cfg.StandardServiceTime, false,
		func(now time.Time) error { return m.admitStandard(w, now) },
		func(o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
			return m.inner.DeleteItem(ctx, in, o...)
		}, o)
}

// BatchWriteItem models each put or delete as a standard write. Requests
// whose partition is out of capacity are not sent and come back in
// UnprocessedItems; if none fits, the call fails with ThrottlingException.
// Unlike the other writes this is decided once per call, outside the SDK's
// retry loop, because a serialized batch cannot be trimmed per attempt: the
// all-throttled error is therefore not retried by the SDK as the cloud's is.
func (m *Model) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	type ref struct {
		table string
		req   types.WriteRequest
	}
	var refs []ref
	var ws []write
	for table, reqs := range in.RequestItems {
		for _, r := range reqs {
			var w write
			switch {
			case r.PutRequest != nil:
				w = write{m.KeyOf(table, r.PutRequest.Item), writeUnits(ItemSize(r.PutRequest.Item), 1)}
			case r.DeleteRequest != nil:
				w = write{m.KeyOf(table, r.DeleteRequest.Key), writeUnits(ItemSize(r.DeleteRequest.Key), 1)}
			}
			refs, ws = append(refs, ref{table, r}), append(ws, w)
		}
	}
	start := m.cfg.Now()
	ok, none := m.admitBatch(ws, start)
	if none && len(ws) > 0 {
		return nil, operation("BatchWriteItem", m.response(throttled(refs[0].table)))
	}
	send := *in
	send.RequestItems = map[string][]types.WriteRequest{}
	unprocessed := map[string][]types.WriteRequest{}
	var sent []write
	for i, r := range refs {
		if ok[i] {
			send.RequestItems[r.table] = append(send.RequestItems[r.table], r.req)
			sent = append(sent, ws[i])
		} else {
			unprocessed[r.table] = append(unprocessed[r.table], r.req)
		}
	}
	out, err := m.inner.BatchWriteItem(ctx, &send, o...)
	m.finish(sent, err)
	m.pad(ctx, start, m.cfg.StandardServiceTime)
	if err != nil {
		return out, err
	}
	if len(unprocessed) > 0 {
		if out.UnprocessedItems == nil {
			out.UnprocessedItems = map[string][]types.WriteRequest{}
		}
		for t, reqs := range unprocessed {
			out.UnprocessedItems[t] = append(out.UnprocessedItems[t], reqs...)
		}
	}
	return out, nil
}

// done records an admitted request's answer. Without padding a call can
// return before its service time is over; a transaction that has answered
// is over, so its items are freed then.
func (m *Model) done(ws []write, err error, occupies bool, start time.Time) {
	m.finish(ws, err)
	if occupies && m.cfg.NoPadding {
		m.release(ws, start.Add(m.cfg.ServiceTime))
	}
}

// pad sleeps until start + d, unless padding is off.
func (m *Model) pad(ctx context.Context, start time.Time, d time.Duration) {
	if m.cfg.NoPadding || d <= 0 {
		return
	}
	m.cfg.Sleep(ctx, d-m.cfg.Now().Sub(start))
}

// invoke runs one modelled write. Each attempt is admitted (or answered
// with admit's error, as DynamoDB would answer it), sent, recorded and
// padded to the service time. By default that happens in a middleware
// after the SDK client's retry middleware, so the client's own retryer
// sees the model's errors exactly as it would see the cloud's.
func invoke[O any](m *Model, ctx context.Context, op string, ws []write, svc time.Duration, occupies bool,
	admit func(time.Time) error, call func(...func(*dynamodb.Options)) (*O, error), opts []func(*dynamodb.Options)) (*O, error) {
	if m.cfg.OutsideSDK {
		start := m.cfg.Now()
		if err := admit(start); err != nil {
			return nil, operation(op, m.response(err))
		}
		out, err := call(opts...)
		m.done(ws, err, occupies, start)
		m.pad(ctx, start, svc)
		return out, err
	}
	var ran atomic.Bool
	mw := middleware.FinalizeMiddlewareFunc("contention.Model", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
		out middleware.FinalizeOutput, md middleware.Metadata, err error) {
		ran.Store(true)
		start := m.cfg.Now()
		if err := admit(start); err != nil {
			return out, md, m.response(err)
		}
		out, md, err = next.HandleFinalize(ctx, in)
		m.done(ws, err, occupies, start)
		m.pad(ctx, start, svc)
		return out, md, err
	})
	addModel := func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			if err := s.Finalize.Insert(mw, "Retry", middleware.After); err != nil {
				return s.Finalize.Add(mw, middleware.Before) // no retry middleware: one attempt
			}
			return nil
		})
	}
	out, err := call(append(slices.Clip(opts), addModel)...)
	if err == nil && !ran.Load() {
		panic("contention: the inner client answered " + op + " without running the model's middleware " +
			"(it ignores option functions); wrap an SDK client or set Config.OutsideSDK")
	}
	return out, err
}
