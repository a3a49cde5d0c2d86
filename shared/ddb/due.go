package ddb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Due work. An item that needs attention at some time (a reminder, an
// expiry, a reclaim, a daily job's next run) carries dueBucket = "DUE#<kind>"
// and dueAt = DueAt(when, id); the sparse due index holds only such items.
// A job reads its bucket with ForEachDue: oldest first, in pages, within a
// time budget. Handling an item removes its due attributes or moves dueAt
// forward in the same transaction that does the work, so a job that stops
// (budget spent, crash, timeout) resumes where it stopped by simply running
// again, and running twice does nothing twice (the transaction re-checks).

// DueTimeFormat is dueAt's time part: fixed width, so it sorts like time.
const DueTimeFormat = "2006-01-02T15:04:05.000Z"

// DueAt is the dueAt value of an item due at t.
func DueAt(t time.Time, id string) string { return t.UTC().Format(DueTimeFormat) + "#" + id }

// DueBucket is the dueBucket value of a kind of due work.
func DueBucket(kind string) string { return "DUE#" + kind }

// SetDue adds the due attributes to an item being written.
func SetDue(item Item, kind string, t time.Time, id string) {
	item[AttrDuePK] = S(DueBucket(kind))
	item[AttrDueSK] = S(DueAt(t, id))
}

// DueWork is one pass over a bucket.
type DueWork struct {
	Kind  string    // the bucket's kind ("pending", "sprinkle", ...)
	Until time.Time // items due at or before Until
	Page  int32     // items per Query (0: 100)
	// Budget bounds the pass in wall-clock time: no item is started after
	// it is spent, nor within Reserve of ctx's deadline (a Lambda's). Zero
	// Budget: until the deadline (or the end).
	Budget  time.Duration
	Reserve time.Duration // 0: 2 s
}

// DueRun is what a pass did.
type DueRun struct {
	Seen   int  // items handed to the handler
	Failed int  // of which the handler returned an error
	Done   bool // false: the budget stopped the pass before the end
	Errs   []error
}

// ForEachDue hands every item of the bucket due at or before w.Until to
// handle, oldest first. A handler's error is recorded and the pass goes on
// (the item stays due and is retried by the next pass). The index is
// eventually consistent: an item handled a moment ago may be seen again,
// which the handler's own conditions must make harmless.
func (t *Table) ForEachDue(ctx context.Context, w DueWork, handle func(context.Context, Item) error) (DueRun, error) {
	page := w.Page
	if page <= 0 {
		page = 100
	}
	reserve := w.Reserve
	if reserve <= 0 {
		reserve = 2 * time.Second
	}
	started := time.Now()
	var run DueRun
	spent := func() bool {
		// A pass always handles one item, so passes make progress however
		// slow the reads are; then the budget counts.
		if w.Budget > 0 && run.Seen > 0 && time.Since(started) >= w.Budget {
			return true
		}
		if d, ok := ctx.Deadline(); ok && time.Until(d) < reserve {
			return true
		}
		return ctx.Err() != nil
	}
	in := &dynamodb.QueryInput{
		TableName:                aws.String(t.Name),
		IndexName:                aws.String(IndexDue),
		KeyConditionExpression:   aws.String("#b = :b AND #d <= :upper"),
		ExpressionAttributeNames: map[string]string{"#b": AttrDuePK, "#d": AttrDueSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":b": S(DueBucket(w.Kind)), ":upper": S(w.Until.UTC().Format(DueTimeFormat) + "#~"),
		},
		Limit: aws.Int32(page),
	}
	for {
		if spent() {
			return run, nil
		}
		out, err := t.Client.Query(ctx, in)
		if err != nil {
			return run, fmt.Errorf("ddb: due %s: %w", w.Kind, err)
		}
		for _, item := range out.Items {
			if spent() {
				return run, nil
			}
			run.Seen++
			if err := handle(ctx, item); err != nil {
				run.Failed++
				if len(run.Errs) < 20 { // enough to diagnose; the count says the rest
					run.Errs = append(run.Errs, err)
				}
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			run.Done = true
			return run, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
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
// shard), and false when none of them holds an item. One Query of one item
// per bucket, the oldest first (the due index sorts by dueAt). The local
// test clock uses it to skip the minutes in which a sweep would find
// nothing to do.
func (t *Table) EarliestDue(ctx context.Context, kinds []string) (time.Time, bool, error) {
	var earliest time.Time
	found := false
	for _, kind := range kinds {
		out, err := t.Client.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(t.Name),
			IndexName:                 aws.String(IndexDue),
			KeyConditionExpression:    aws.String("#b = :b"),
			ExpressionAttributeNames:  map[string]string{"#b": AttrDuePK, "#d": AttrDueSK},
			ExpressionAttributeValues: map[string]types.AttributeValue{":b": S(DueBucket(kind))},
			ProjectionExpression:      aws.String("#b, #d"),
			Limit:                     aws.Int32(1),
		})
		if err != nil {
			return time.Time{}, false, fmt.Errorf("ddb: earliest due %s: %w", kind, err)
		}
		if len(out.Items) == 0 {
			continue
		}
		at, err := dueTime(out.Items[0])
		if err != nil {
			return time.Time{}, false, fmt.Errorf("ddb: earliest due %s: %w", kind, err)
		}
		if !found || at.Before(earliest) {
			earliest, found = at, true
		}
	}
	return earliest, found, nil
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
