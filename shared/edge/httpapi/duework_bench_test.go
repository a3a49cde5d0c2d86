package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/localstack/contention"
	"minipay/localstack/ddbtest"
	"minipay/shared/edge/httpapi"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/ddb"
)

// BenchmarkDueBacklog drains one backlog of due items several ways, side by
// side: the scheduled run alone (one item at a time, as every one-minute
// job did before the due-work queue), and the run's buckets handed to
// workers, `workers` at once (the local queue delivers 8 at once; the
// cloud's mapping up to routes.Queues' MaxConcurrency), each taking its
// bucket's items one at a time or `parallel` at once. Each item's work
// is one TransactWriteItems, as a job's item is. DynamoDB Local runs
// transactions one at a time, so the "cloud" modes run under the
// contention model, where a transaction takes at least its service time
// (15 ms) and transactions on different items overlap, as in the cloud;
// there one worker at a time shows a bucket's own pace, which is what
// DuePass.Parallel multiplies (up to DynamoDB Local's own pace). It
// reports items/s.
//
//	go test ./shared/edge/httpapi -run '^$' -bench DueBacklog -benchtime 1x
func BenchmarkDueBacklog(b *testing.B) {
	const buckets, perBucket = 16, 40
	kinds := ddb.DueKind{Name: "benchlog", Shards: buckets}.Kinds()
	for _, mode := range []struct {
		name              string
		workers, parallel int
		cloud             bool // under the contention model: a transaction takes its 15 ms
	}{
		{"scheduled run only", 0, 1, false}, {"workers=8", 8, 1, false}, {"workers=16", 16, 1, false},
		{"workers=16 parallel=8", 16, 8, false},
		{"cloud workers=1", 1, 1, true}, {"cloud workers=1 parallel=8", 1, 8, true},
	} {
		b.Run(mode.name, func(b *testing.B) {
			var wrap []func(ddb.Client) ddb.Client
			if mode.cloud {
				model := contention.Wrap(ddbtest.Client(), contention.Config{})
				wrap = append(wrap, func(ddb.Client) ddb.Client { return model })
			}
			e := ddbtest.New(b, wrap...)
			ctx := context.Background()
			d := httpapi.Services{Table: e.Table, Ledger: e.Ledger, Clock: e.Clock, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
			job := httpapi.DueJob[backlogRun]{
				Services: d,
				Name:     "backlog bench",
				Passes: []httpapi.DuePass[backlogRun]{{Kinds: kinds, Parallel: mode.parallel, Each: func(ctx context.Context, item ddb.Item, now time.Time, sum *backlogRun) error {
					key := ddb.Item{ddb.AttrPK: item[ddb.AttrPK], ddb.AttrSK: item[ddb.AttrSK]}
					_, err := e.Table.Client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
						{Update: &types.Update{TableName: aws.String(e.Name), Key: key,
							UpdateExpression: aws.String("REMOVE dueBucket, dueAt SET doneAt = :now"), ConditionExpression: aws.String("attribute_exists(dueAt)"),
							ExpressionAttributeValues: map[string]types.AttributeValue{":now": ddb.Time(now)}}},
					}})
					sum.Handled++
					return err
				}}},
				Counts: func(s *backlogRun) []any { return nil },
			}
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				seedBacklog(b, e, kinds, perBucket, i)
				b.StartTimer()
				start := time.Now()
				if mode.workers == 0 {
					if _, err := job.Handler()(ctx, routes.ScheduledEvent{Job: "backlog-bench"}); err != nil {
						b.Fatal(err)
					}
				} else {
					drainWithWorkers(b, d, job, kinds, mode.workers)
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(b.N*buckets*perBucket)/total.Seconds(), "items/s")
		})
	}
}

func seedBacklog(b *testing.B, e *ddbtest.Env, kinds []string, per, round int) {
	b.Helper()
	now := e.Clock.Now()
	for _, kind := range kinds {
		for i := 0; i < per; i++ {
			id := fmt.Sprintf("%s-%d-%03d", kind, round, i)
			item := ddb.Key("BENCH#"+id, "ITEM")
			ddb.SetDue(item, kind, now.Add(-time.Minute), id)
			if _, err := ddbtest.Client().PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(e.Name), Item: item}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// drainWithWorkers hands every bucket to the due worker, n messages at
// once, continuations included, until none is left.
func drainWithWorkers(b *testing.B, d httpapi.Services, job httpapi.DueJob[backlogRun], kinds []string, n int) {
	q := &sentMessages{}
	d.Queue = q
	job.Services = d
	worker := httpapi.DueWorker(d, map[string]httpapi.BucketWork{"backlog-bench": job.Bucket()})
	for _, k := range kinds {
		q.Send(context.Background(), httpapi.DueQueue, fmt.Sprintf(`{"job":"backlog-bench","bucket":%q}`, k))
	}
	for msgs := q.take(); len(msgs) > 0; msgs = q.take() {
		var wg sync.WaitGroup
		sem := make(chan struct{}, n)
		for _, body := range msgs {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				if _, err := worker(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m", Body: body}}}); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
	}
}
