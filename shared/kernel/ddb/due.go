package ddb

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Due work. An item that needs attention at some time (a reminder, an
// expiry, a reclaim, a daily job's next run) carries dueBucket =
// "DUE#<kind>#<n>" and dueAt = DueAt(when, id); the sparse due index holds
// only such items. A kind is spread over a fixed number of buckets (its
// DueKind.Shards, each one index partition), the shard chosen by a hash of
// the item's id, so no one index partition takes every write of a kind.
// A job reads its kind with ForEachDue: every shard, merged oldest first,
// in pages, within a time budget. Handling an item removes its due
// attributes or moves dueAt forward in the same transaction that does the
// work, so a job that stops (budget spent, crash, timeout) resumes where it
// stopped by simply running again, and running twice does nothing twice
// (the transaction re-checks).

// DueTimeFormat is dueAt's time part: fixed width, so it sorts like time.
const DueTimeFormat = "2006-01-02T15:04:05.000Z"

// DueAt is the dueAt value of an item due at t.
func DueAt(t time.Time, id string) string { return t.UTC().Format(DueTimeFormat) + "#" + id }

// DueBucket is the dueBucket value of a kind of due work ("DUE#" + kind;
// a sharded kind's bucket is DueKind.Bucket).
func DueBucket(kind string) string { return "DUE#" + kind }

// SetDue adds the due attributes to an item being written, in the one
// bucket kind names (a shard the caller chose, e.g. "interest#07"; a
// DueKind's items use DueKind.Set).
func SetDue(item Item, kind string, t time.Time, id string) {
	item[AttrDuePK] = S(DueBucket(kind))
	item[AttrDueSK] = S(DueAt(t, id))
}

// DueKind is a kind of due work spread over Shards buckets, kind#00 ..
// kind#<Shards-1>: an item's shard is a hash of its id, so it never moves.
type DueKind struct {
	Name   string
	Shards int
}

// ShardKind is shard n's kind name: name#nn.
func ShardKind(name string, n int) string { return fmt.Sprintf("%s#%02d", name, n) }

// Kind is the shard kind of the item with this id.
func (k DueKind) Kind(id string) string { return ShardKind(k.Name, HashShard(id, k.Shards)) }

// Bucket is the dueBucket value of the item with this id.
func (k DueKind) Bucket(id string) string { return DueBucket(k.Kind(id)) }

// Kinds are every shard's kind, in shard order (what a reader fans out
// over, and what routes.Schedule.Due lists).
func (k DueKind) Kinds() []string {
	out := make([]string, max(k.Shards, 1))
	for i := range out {
		out[i] = ShardKind(k.Name, i)
	}
	return out
}

// Set adds the due attributes of the item with this id, due at t.
func (k DueKind) Set(item Item, t time.Time, id string) { SetDue(item, k.Kind(id), t, id) }

// DueWork is one pass over a kind's buckets.
type DueWork struct {
	Kind  string    // one bucket's kind ("interest#07", ...); or
	Kinds []string  // several buckets (a DueKind's Kinds()), merged oldest first
	Until time.Time // items due at or before Until
	Page  int32     // items per Query (0: 100)
	// Budget bounds the pass in wall-clock time: no item is started after
	// it is spent, nor within Reserve of ctx's deadline (a Lambda's). Zero
	// Budget: until the deadline (or the end).
	Budget  time.Duration
	Reserve time.Duration // 0: 2 s
	// Fetch: hand the handler the item itself, read strongly consistent
	// (the due index projects only keys and DueInclude); an item gone
	// meanwhile is skipped.
	Fetch bool
	// After resumes a one-bucket pass after the item an earlier pass
	// stopped at (its DueRun.Cursor); "" starts from the oldest.
	After string
	// Parallel is how many items the handler takes at once (0 or 1: one
	// at a time). They are still started oldest first, and the pass waits
	// for every one it started before it returns, so its Cursor has every
	// item up to it handled. The handler must be safe for concurrent use.
	Parallel int
}

// DueRun is what a pass did.
type DueRun struct {
	Seen   int  // items handed to the handler
	Failed int  // of which the handler returned an error
	Done   bool // false: the budget stopped the pass before the end
	Errs   []error
	// Cursor (one-bucket passes) is the index key of the last item handed
	// to the handler: DueWork.After for a pass that goes on past it.
	Cursor string
	// Left (a pass not Done) are the buckets the budget stopped with items
	// still due or pages unread, in the pass's order: where a job hands its
	// backlog on (httpapi.DueJob).
	Left []string
}

// dueStream is one bucket's Query, a page at a time.
type dueStream struct {
	kind string
	in   *dynamodb.QueryInput
	buf  []Item
	more bool // another page may follow
	read bool // a page was read
}

func (s *dueStream) fetch(ctx context.Context, c Client) error {
	out, err := c.Query(ctx, s.in)
	if err != nil {
		return err
	}
	s.buf = out.Items
	s.read = true
	s.more = len(out.LastEvaluatedKey) > 0
	s.in.ExclusiveStartKey = out.LastEvaluatedKey
	return nil
}

// dueFanOut bounds the concurrent Queries of a fan-out's first pages.
const dueFanOut = 8

// ForEachDue hands every item of the pass's buckets due at or before
// w.Until to handle, oldest first (across the buckets too), one at a time
// or w.Parallel at once. A handler's error is recorded and the pass goes
// on (the item stays due and is retried by the next pass). The index is
// eventually consistent: an item handled a moment ago may be seen again,
// which the handler's own conditions must make harmless.
func (t *Table) ForEachDue(ctx context.Context, w DueWork, handle func(context.Context, Item) error) (DueRun, error) {
	p, err := t.newDuePass(w)
	if err != nil {
		return DueRun{}, err
	}
	err = p.walk(ctx, handle)
	p.inFlight.Wait()
	if err != nil {
		return p.run, fmt.Errorf("ddb: due %s: %w", p.name, err)
	}
	return p.run, nil
}

// walk starts the pass's items oldest first until the end (Done), the
// budget (stop) or a failed read.
func (p *duePass) walk(ctx context.Context, handle func(context.Context, Item) error) error {
	if p.spent(ctx) {
		p.stop()
		return nil
	}
	if err := p.firstPages(ctx); err != nil {
		return err
	}
	for {
		// With Parallel, wait for a free slot first, so the budget is
		// checked when the item would really start.
		p.takeSlot()
		next, stopped, err := p.oldest(ctx)
		stopped = stopped || (err == nil && next != nil && p.spent(ctx))
		switch {
		case err != nil:
			p.freeSlot()
			return err
		case stopped:
			p.freeSlot()
			p.stop()
			return nil
		case next == nil:
			p.freeSlot()
			p.run.Done, p.run.Cursor = true, ""
			return nil
		}
		p.handleHead(ctx, next, handle)
	}
}

// takeSlot waits for a slot for one more item in flight (w.Parallel);
// freeSlot gives it back.
func (p *duePass) takeSlot() {
	if p.slots != nil {
		p.slots <- struct{}{}
	}
}

func (p *duePass) freeSlot() {
	if p.slots != nil {
		<-p.slots
	}
}

// stop records the buckets a pass the budget stopped leaves.
func (p *duePass) stop() {
	for _, s := range p.streams {
		if !s.read || len(s.buf) > 0 || s.more {
			p.run.Left = append(p.run.Left, s.kind)
		}
	}
}

// duePass is one ForEachDue pass: a stream per bucket, and what the pass
// did so far.
type duePass struct {
	t       *Table
	w       DueWork
	name    string // the buckets, for errors: one kind, or first..last
	reserve time.Duration
	started time.Time
	streams []*dueStream
	// slots (w.Parallel > 1) bounds the items in flight; inFlight waits
	// for them; mu guards run's failures, which they record.
	slots    chan struct{}
	inFlight sync.WaitGroup
	mu       sync.Mutex
	run      DueRun
}

// newDuePass checks w and opens a stream per bucket (w.After resumes the
// one bucket); nothing is read yet.
func (t *Table) newDuePass(w DueWork) (*duePass, error) {
	page := w.Page
	if page <= 0 {
		page = 100
	}
	p := &duePass{t: t, w: w, reserve: w.Reserve}
	if p.reserve <= 0 {
		p.reserve = 2 * time.Second
	}
	if w.Parallel > 1 {
		p.slots = make(chan struct{}, w.Parallel)
	}
	kinds := w.Kinds
	if w.Kind != "" {
		kinds = append([]string{w.Kind}, kinds...)
	}
	if len(kinds) == 0 {
		return nil, errors.New("ddb: due work names no kind")
	}
	p.name = strings.Join(kinds, ",")
	if len(kinds) > 1 {
		p.name = kinds[0] + ".." + kinds[len(kinds)-1]
	}
	p.started = time.Now()
	p.streams = make([]*dueStream, len(kinds))
	for i, kind := range kinds {
		p.streams[i] = &dueStream{kind: kind, in: t.dueQuery(kind, w.Until, page)}
	}
	if w.After != "" {
		if len(p.streams) != 1 {
			return nil, fmt.Errorf("ddb: due %s: a cursor resumes one bucket, not %d", p.name, len(p.streams))
		}
		key, err := decodeDueCursor(w.After)
		if err != nil {
			return nil, fmt.Errorf("ddb: due %s: %w", p.name, err)
		}
		p.streams[0].in.ExclusiveStartKey = key
	}
	return p, nil
}

// dueQuery reads kind's bucket of the due index up to until, page items
// at a time.
func (t *Table) dueQuery(kind string, until time.Time, page int32) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		TableName:                aws.String(t.Name),
		IndexName:                aws.String(IndexDue),
		KeyConditionExpression:   aws.String("#b = :b AND #d <= :upper"),
		ExpressionAttributeNames: map[string]string{"#b": AttrDuePK, "#d": AttrDueSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":b": S(DueBucket(kind)), ":upper": S(until.UTC().Format(DueTimeFormat) + "#~"),
		},
		Limit: aws.Int32(page),
	}
}

// spent: the pass may start no more items (its budget is spent, ctx's
// deadline is within the reserve, or ctx is done).
func (p *duePass) spent(ctx context.Context) bool {
	// A pass always handles one item, so passes make progress however
	// slow the reads are; then the budget counts.
	if p.w.Budget > 0 && p.run.Seen > 0 && time.Since(p.started) >= p.w.Budget {
		return true
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) < p.reserve {
		return true
	}
	return ctx.Err() != nil
}

// firstPages reads every bucket's first page, a few Queries at a time.
func (p *duePass) firstPages(ctx context.Context) error {
	errs := make([]error, len(p.streams))
	var wg sync.WaitGroup
	sem := make(chan struct{}, dueFanOut)
	for i, s := range p.streams {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = s.fetch(ctx, p.t.Client)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// oldest is the stream whose head is the oldest among the buckets (nil:
// every bucket is drained); a drained page is refilled first. stopped:
// the budget ran out while refilling.
func (p *duePass) oldest(ctx context.Context) (next *dueStream, stopped bool, err error) {
	for _, s := range p.streams {
		for len(s.buf) == 0 && s.more {
			if p.spent(ctx) {
				return nil, true, nil
			}
			if err := s.fetch(ctx, p.t.Client); err != nil {
				return nil, false, err
			}
		}
		if len(s.buf) > 0 && (next == nil || dueSK(s.buf[0]) < dueSK(next.buf[0])) {
			next = s
		}
	}
	return next, false, nil
}

// handleHead takes s's head and hands it to handle: at once, or with
// w.Parallel in the slot walk took for it (not waiting for it to finish).
func (p *duePass) handleHead(ctx context.Context, s *dueStream, handle func(context.Context, Item) error) {
	item := s.buf[0]
	s.buf = s.buf[1:]
	p.run.Seen++
	if len(p.streams) == 1 {
		p.run.Cursor = encodeDueCursor(item)
	}
	if p.slots == nil {
		p.handleOne(ctx, item, handle)
		return
	}
	p.inFlight.Add(1)
	go func() {
		defer func() { p.freeSlot(); p.inFlight.Done() }()
		p.handleOne(ctx, item, handle)
	}()
}

// handleOne hands one item to handle (read again first if w.Fetch;
// skipped if gone), recording a failure.
func (p *duePass) handleOne(ctx context.Context, item Item, handle func(context.Context, Item) error) {
	if p.w.Fetch {
		got, err := p.t.getConsistent(ctx, Item{AttrPK: item[AttrPK], AttrSK: item[AttrSK]})
		if err != nil {
			p.fail(err)
			return
		}
		if got == nil { // gone since the index saw it
			return
		}
		item = got
	}
	if err := handle(ctx, item); err != nil {
		p.fail(err)
	}
}

// fail counts a failed item and keeps its error, up to 20: enough to
// diagnose; the count says the rest.
func (p *duePass) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.run.Failed++
	if len(p.run.Errs) < 20 {
		p.run.Errs = append(p.run.Errs, err)
	}
}

func dueSK(item Item) string {
	if v, ok := item[AttrDueSK].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// getConsistent reads one item strongly consistent (nil: none). It is a
// Query of the one key rather than a GetItem, so a job needs no more than
// the Query it reads the due index with (least privilege); it costs what
// a GetItem costs.
func (t *Table) getConsistent(ctx context.Context, key Item) (Item, error) {
	out, err := t.Client.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(t.Name),
		KeyConditionExpression:    aws.String("#pk = :pk AND #sk = :sk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": key[AttrPK], ":sk": key[AttrSK]},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("ddb: read due item: %w", err)
	}
	if len(out.Items) == 0 {
		return nil, nil
	}
	return out.Items[0], nil
}

// A due cursor is the index key of an item (both tables' and the index's
// keys, all strings), as base64url JSON.
func encodeDueCursor(item Item) string {
	key := map[string]string{}
	for _, a := range []string{AttrPK, AttrSK, AttrDuePK, AttrDueSK} {
		if v, ok := item[a].(*types.AttributeValueMemberS); ok {
			key[a] = v.Value
		}
	}
	b, _ := json.Marshal(key)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeDueCursor(c string) (Item, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	var key map[string]string
	if err == nil {
		err = json.Unmarshal(b, &key)
	}
	if err != nil || len(key) != 4 {
		return nil, fmt.Errorf("bad due cursor %q", c)
	}
	out := Item{}
	for a, v := range key {
		switch a {
		case AttrPK, AttrSK, AttrDuePK, AttrDueSK:
			out[a] = S(v)
		default:
			return nil, fmt.Errorf("bad due cursor %q", c)
		}
	}
	return out, nil
}

// Err joins the handler errors of a run (nil if none).
func (r DueRun) Err() error {
	if r.Failed == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d failed: %w", r.Failed, r.Seen, errors.Join(r.Errs...))
}

// EarliestDue is the earliest due time among the items of the given
// kinds' buckets (each kind exact: a sharded kind is listed shard by
// shard, DueKind.Kinds), and false when none of them holds an item. One
// Query of one item per bucket (a few at once), the oldest first (the due
// index sorts by dueAt). The local
// test clock uses it to skip the minutes in which a sweep would find
// nothing to do.
func (t *Table) EarliestDue(ctx context.Context, kinds []string) (time.Time, bool, error) {
	ats := make([]time.Time, len(kinds))
	found := make([]bool, len(kinds))
	errs := make([]error, len(kinds))
	var wg sync.WaitGroup
	sem := make(chan struct{}, dueFanOut)
	for i, kind := range kinds {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out, err := t.Client.Query(ctx, &dynamodb.QueryInput{
				TableName:                 aws.String(t.Name),
				IndexName:                 aws.String(IndexDue),
				KeyConditionExpression:    aws.String("#b = :b"),
				ExpressionAttributeNames:  map[string]string{"#b": AttrDuePK, "#d": AttrDueSK},
				ExpressionAttributeValues: map[string]types.AttributeValue{":b": S(DueBucket(kind))},
				ProjectionExpression:      aws.String("#b, #d"),
				Limit:                     aws.Int32(1),
			})
			if err == nil && len(out.Items) > 0 {
				ats[i], err = dueTime(out.Items[0])
				found[i] = err == nil
			}
			if err != nil {
				errs[i] = fmt.Errorf("ddb: earliest due %s: %w", kind, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return time.Time{}, false, err
	}
	var earliest time.Time
	ok := false
	for i := range kinds {
		if found[i] && (!ok || ats[i].Before(earliest)) {
			earliest, ok = ats[i], true
		}
	}
	return earliest, ok, nil
}

// dueTime is the time part of an item's dueAt (DueAt's format).
func dueTime(item Item) (time.Time, error) {
	v, ok := item[AttrDueSK].(*types.AttributeValueMemberS)
	if !ok || len(v.Value) < len(DueTimeFormat) {
		return time.Time{}, fmt.Errorf("dueAt %v is not %s#<id>", item[AttrDueSK], DueTimeFormat)
	}
	at, err := time.Parse(DueTimeFormat, v.Value[:len(DueTimeFormat)])
	if err != nil {
		return time.Time{}, fmt.Errorf("dueAt %q: %w", v.Value, err)
	}
	return at, nil
}
