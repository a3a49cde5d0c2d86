package emulator

// The local stand-in for SQS and Lambda's event source mappings: one
// in-process queue per routes.Queues row, delivering each message (batch
// size 1) to the row's worker function through the same JSON path as the
// cloud (an events.SQSEvent). A failed delivery is retried up to the row's
// MaxReceives and then dead-lettered (counted and logged), as the cloud's
// redrive policy does. Delivery happens when a scheduled job has run (the
// scheduler drains the queues after each fired job, so a job and all the
// work it fanned out finish before the next job fires) and on DrainQueues.

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"minipay/shared/routes"
)

// DefaultQueueConcurrency is how many messages the local queues deliver at
// once (the cloud's mapping runs up to the row's MaxConcurrency).
const DefaultQueueConcurrency = 8

// LocalQueues are the in-process queues. Pass the same value as the
// handlers' httpapi.Deps.Queue and as Config.Queues. Safe for concurrent use.
type LocalQueues struct {
	defs        map[string]routes.Queue
	Concurrency int // 0: DefaultQueueConcurrency

	mu       sync.Mutex
	cond     *sync.Cond
	pending  []*localMessage
	inflight int
	e        *Emulator

	sent, delivered, failed, dead int64
}

type localMessage struct {
	queue    routes.Queue
	id, body string
	receives int
	sentAt   time.Time
}

// NewLocalQueues makes the queues of a queue table (routes.Queues).
func NewLocalQueues(qs []routes.Queue) *LocalQueues {
	q := &LocalQueues{defs: map[string]routes.Queue{}}
	q.cond = sync.NewCond(&q.mu)
	for _, d := range qs {
		q.defs[d.Name] = d
	}
	return q
}

// Send enqueues body on the named queue (SendMessage).
func (q *LocalQueues) Send(ctx context.Context, queue, body string) error {
	def, ok := q.defs[queue]
	if !ok {
		return fmt.Errorf("emulator: no queue %q", queue)
	}
	if len(body) > 256<<10 {
		return fmt.Errorf("emulator: message of %d bytes on %s (SQS takes at most 256 KiB)", len(body), queue)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sent++
	q.pending = append(q.pending, &localMessage{queue: def, id: newUUID(), body: body, sentAt: time.Now()})
	q.cond.Broadcast()
	return nil
}

// QueueStats are the local queues' counters.
type QueueStats struct {
	Sent, Delivered, Failed, DeadLettered int64
	Pending                               int
}

// Stats returns the counters.
func (q *LocalQueues) Stats() QueueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return QueueStats{Sent: q.sent, Delivered: q.delivered, Failed: q.failed, DeadLettered: q.dead, Pending: len(q.pending)}
}

// DrainQueues delivers messages until every queue is empty and no delivery
// is running (workers that re-enqueue themselves are delivered again).
func (e *Emulator) DrainQueues(ctx context.Context) {
	if e.queues != nil {
		e.queues.drain(ctx)
	}
}

func (q *LocalQueues) drain(ctx context.Context) {
	conc := q.Concurrency
	if conc <= 0 {
		conc = DefaultQueueConcurrency
	}
	var wg sync.WaitGroup
	q.mu.Lock()
	for {
		for len(q.pending) == 0 && q.inflight > 0 {
			q.cond.Wait() // a running delivery may enqueue more
		}
		if len(q.pending) == 0 || ctx.Err() != nil {
			break
		}
		if q.inflight >= conc {
			q.cond.Wait()
			continue
		}
		m := q.pending[0]
		q.pending = q.pending[1:]
		q.inflight++
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := q.deliver(ctx, m)
			q.mu.Lock()
			q.inflight--
			switch {
			case err == nil:
				q.delivered++
			case m.receives >= max(m.queue.MaxReceives, 1):
				q.failed++
				q.dead++
				q.e.log.ErrorContext(ctx, "emulator: message dead-lettered", "queue", m.queue.Name, "receives", m.receives, "body", truncate([]byte(m.body), 200), "error", err.Error())
			default:
				q.failed++
				q.pending = append(q.pending, m) // visible again
			}
			q.cond.Broadcast()
			q.mu.Unlock()
		}()
	}
	q.mu.Unlock()
	wg.Wait()
}

// deliver invokes the queue's worker with the message as an SQS event.
func (q *LocalQueues) deliver(ctx context.Context, m *localMessage) error {
	m.receives++
	sum := md5.Sum([]byte(m.body))
	ev := events.SQSEvent{Records: []events.SQSMessage{{
		MessageId: m.id, ReceiptHandle: m.id + "#" + strconv.Itoa(m.receives), Body: m.body,
		Md5OfBody: hex.EncodeToString(sum[:]), EventSource: "aws:sqs",
		EventSourceARN: fmt.Sprintf("arn:aws:sqs:%s:%s:minipay-%s", q.e.cfg.Region, q.e.cfg.AccountID, m.queue.Name),
		AWSRegion:      q.e.cfg.Region,
		Attributes: map[string]string{
			"ApproximateReceiveCount":          strconv.Itoa(m.receives),
			"SentTimestamp":                    strconv.FormatInt(m.sentAt.UnixMilli(), 10),
			"ApproximateFirstReceiveTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
		},
	}}}
	payload, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	timeout := m.queue.WorkerTimeout
	if timeout <= 0 {
		timeout = e2timeout(q.e)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	out, err := q.e.invoke(wctx, m.queue.Worker, q.e.functions[m.queue.Worker], payload)
	attrs := []any{"queue", m.queue.Name, "function", m.queue.Worker, "receive", m.receives, "ms", time.Since(start).Milliseconds()}
	if err != nil {
		q.e.log.WarnContext(ctx, "emulator: queue delivery failed", append(attrs, "error", err.Error())...)
		return err
	}
	q.e.log.DebugContext(ctx, "emulator: queue delivery", append(attrs, "response", truncate(out, 200))...)
	return nil
}

func e2timeout(e *Emulator) time.Duration { return e.cfg.FunctionTimeout }

// bindQueues attaches the queues to the emulator and checks that every
// worker has a handler.
func (e *Emulator) bindQueues(q *LocalQueues, need func(function, what string) error) error {
	if q == nil {
		return nil
	}
	for _, d := range q.defs {
		if err := need(d.Worker, "queue "+d.Name); err != nil {
			return err
		}
	}
	q.e = e
	e.queues = q
	return nil
}

// QueueStats are the local queues' counters (zero without queues).
func (e *Emulator) QueueStats() QueueStats {
	if e.queues == nil {
		return QueueStats{}
	}
	return e.queues.Stats()
}
