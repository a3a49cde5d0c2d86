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
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"minipay/shared/edge/routes"
)

// DefaultQueueConcurrency is how many messages the local queues deliver at
// once (the cloud's mapping runs up to the row's MaxConcurrency).
const DefaultQueueConcurrency = 8

// DueParallel is the local stack's config.Config.DueParallel: a due
// worker takes its bucket's items one at a time, so the DefaultQueueConcurrency
// workers add at most 8 writers beside the API's, not 8 times that.
const DueParallel = 1

// FoldParallel is the local stack's config.Config.FoldParallel: the fold
// job works two of its shards at a time, beside the API, not all 32.
const FoldParallel = 2

// LocalQueues are the in-process queues. Pass the same value as the
// handlers' httpapi.Services.Queue and as Config.Queues. Safe for concurrent use.
type LocalQueues struct {
	defs        map[string]routes.Queue
	Concurrency int // 0: DefaultQueueConcurrency

	mu       sync.Mutex
	cond     *sync.Cond
	pending  []*localMessage
	inflight int
	e        *Emulator
	dir      string // "": the messages live in memory only

	sent, delivered, failed, dead, restored int64
}

type localMessage struct {
	queue    routes.Queue
	id, body string
	receives int
	sentAt   time.Time
	file     string // its file in LocalQueues.dir
}

// storedMessage is a queued message's file.
type storedMessage struct {
	Queue  string    `json:"queue"`
	ID     string    `json:"id"`
	Body   string    `json:"body"`
	SentAt time.Time `json:"sentAt"`
}

// OpenLocalQueues are NewLocalQueues whose messages are kept in dir, one
// file each, from the moment Send returns until the message is delivered
// (or dead-lettered: its file moves to dir/dead), as SQS keeps a message
// until its consumer deletes it. The messages dir holds from an earlier run
// (a crash before they were delivered) are pending again at once, oldest
// first; DrainQueues delivers them. A message whose delivery was running
// at the crash is delivered again (at least once, as SQS does: the
// workers are idempotent). Messages of a queue the table no longer has
// stay in dir untouched.
func OpenLocalQueues(qs []routes.Queue, dir string) (*LocalQueues, error) {
	q := NewLocalQueues(qs)
	q.dir = dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("emulator: queues: %w", err)
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names) // named by send time
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("emulator: queues: %w", err)
		}
		var m storedMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("emulator: queues: %s is not a queued message (%v)", name, err)
		}
		def, ok := q.defs[m.Queue]
		if !ok {
			continue
		}
		q.pending = append(q.pending, &localMessage{queue: def, id: m.ID, body: m.Body, sentAt: m.SentAt, file: name})
		q.restored++
	}
	return q, nil
}

// keep writes m's file (durably: a crash leaves it whole or absent).
func (q *LocalQueues) keep(m *localMessage) error {
	if q.dir == "" {
		return nil
	}
	b, err := json.Marshal(storedMessage{Queue: m.queue.Name, ID: m.id, Body: m.body, SentAt: m.sentAt})
	if err != nil {
		return err
	}
	name := filepath.Join(q.dir, fmt.Sprintf("%020d-%s.json", m.sentAt.UnixNano(), m.id))
	if err := writeFileDurably(name, b); err != nil {
		return fmt.Errorf("emulator: keep message on %s: %w", m.queue.Name, err)
	}
	m.file = name
	return nil
}

// forget removes a delivered message's file (dead: moves it to dir/dead).
func (q *LocalQueues) forget(m *localMessage, dead bool) {
	if m.file == "" {
		return
	}
	var err error
	if dead {
		deadDir := filepath.Join(q.dir, "dead")
		if err = os.MkdirAll(deadDir, 0o755); err == nil {
			err = os.Rename(m.file, filepath.Join(deadDir, filepath.Base(m.file)))
		}
	} else {
		err = os.Remove(m.file)
	}
	if err != nil && q.e != nil {
		q.e.log.Error("emulator: queued message delivered but its file stays (it will be delivered again after a restart)", "file", m.file, "error", err.Error())
	}
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
	m := &localMessage{queue: def, id: newUUID(), body: body, sentAt: time.Now()}
	if err := q.keep(m); err != nil {
		return err // not sent: the job fails and is retried, as SendMessage failing would make it
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sent++
	q.pending = append(q.pending, m)
	q.cond.Broadcast()
	return nil
}

// QueueStats are the local queues' counters.
type QueueStats struct {
	Sent, Delivered, Failed, DeadLettered int64
	Pending                               int
	// Restored are the messages found kept from an earlier run.
	Restored int64
}

// Stats returns the counters.
func (q *LocalQueues) Stats() QueueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return QueueStats{Sent: q.sent, Delivered: q.delivered, Failed: q.failed, DeadLettered: q.dead, Pending: len(q.pending), Restored: q.restored}
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
			// A delivery cut short by the end of ctx (the stack stopping) is
			// no failure of the message: it stays, and is delivered later.
			dead := err != nil && ctx.Err() == nil && m.receives >= max(m.queue.MaxReceives, 1)
			if err == nil || dead {
				q.forget(m, dead)
			}
			q.mu.Lock()
			q.inflight--
			switch {
			case err == nil:
				q.delivered++
			case dead:
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
