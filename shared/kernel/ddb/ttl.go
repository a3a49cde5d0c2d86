package ddb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// SweepExpired deletes every item whose TTL attribute is before now, as
// DynamoDB's TTL eventually does in the cloud (DynamoDB Local has no TTL):
// one whole pass over the table. Each delete re-checks the expiry, so an
// item refreshed meanwhile survives. A Scan: tests' and an operator's tool,
// never a request path; the local stack's sweeper uses a paced Sweep.
func SweepExpired(ctx context.Context, db Scanner, table string, now time.Time) (int, error) {
	s := &Sweep{DB: db, Table: table, Now: func() time.Time { return now }, PageSize: -1}
	step, err := s.Step(ctx, math.MaxInt)
	return step.Deleted, err
}

// SweepPage is how many items one Scan page of a paced Sweep examines: a
// short request, so the API's requests interleave with it.
const SweepPage = 100

// Sweep is the local TTL emulation, paced: each Step examines at most a
// budget of items, resuming the table's Scan where the last Step stopped
// (a cursor), and deletes the expired ones among them. Its cost per Step is
// bounded by the budget, whatever the table's size; a whole pass takes
// longer on a larger table (the cloud deletes within days, and reads
// already filter expired items). Safe for concurrent use (Steps run one at
// a time).
type Sweep struct {
	DB    Scanner
	Table string
	Now   func() time.Time
	// PageSize is the items one Scan page examines (0: SweepPage; <0: as
	// many as a page holds).
	PageSize int

	mu     sync.Mutex
	cursor map[string]types.AttributeValue
	passes int
}

// SweepStep is what one Step did.
type SweepStep struct {
	Scanned int // items examined (Scan's ScannedCount): never more than the budget
	Deleted int
	// PassDone: the Step reached the table's end; the next Step starts a new
	// pass from the beginning.
	PassDone bool
}

// Passes is how many whole passes over the table the sweep has finished.
func (s *Sweep) Passes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.passes
}

// SweepExpired is one whole pass from the beginning (ignoring the cursor),
// as ddb.SweepExpired.
func (s *Sweep) SweepExpired(ctx context.Context) (int, error) {
	return SweepExpired(ctx, s.DB, s.Table, s.Now())
}

// SweepStep is Step in the emulator's terms.
func (s *Sweep) SweepStep(ctx context.Context, budget int) (scanned, deleted int, passDone bool, err error) {
	st, err := s.Step(ctx, budget)
	return st.Scanned, st.Deleted, st.PassDone, err
}

// Step examines at most budget items from the cursor on, deleting the
// expired ones; it stops early at the table's end (PassDone).
func (s *Sweep) Step(ctx context.Context, budget int) (SweepStep, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Now()
	names := map[string]string{"#ttl": AttrTTL}
	vals := map[string]types.AttributeValue{":now": Epoch(now)}
	page := s.PageSize
	if page == 0 {
		page = SweepPage
	}
	var st SweepStep
	for st.Scanned < budget {
		in := &dynamodb.ScanInput{
			TableName:                 aws.String(s.Table),
			ConsistentRead:            aws.Bool(true),
			FilterExpression:          aws.String("#ttl < :now"),
			ProjectionExpression:      aws.String(AttrPK + ", " + AttrSK),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: vals,
			ExclusiveStartKey:         s.cursor,
		}
		limit := budget - st.Scanned
		if page > 0 && page < limit {
			limit = page
		}
		if limit < math.MaxInt32 {
			in.Limit = aws.Int32(int32(limit))
		}
		out, err := s.DB.Scan(ctx, in)
		if err != nil {
			return st, fmt.Errorf("ddb: sweep scan: %w", err)
		}
		st.Scanned += int(out.ScannedCount)
		for _, item := range out.Items {
			_, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
				TableName:                 aws.String(s.Table),
				Key:                       Key(str(item, AttrPK), str(item, AttrSK)),
				ConditionExpression:       aws.String("#ttl < :now"),
				ExpressionAttributeNames:  names,
				ExpressionAttributeValues: vals,
			})
			var refreshed *types.ConditionalCheckFailedException
			if errors.As(err, &refreshed) {
				continue
			}
			if err != nil {
				// The page is examined again next time (deletes re-check).
				return st, fmt.Errorf("ddb: sweep delete: %w", err)
			}
			st.Deleted++
		}
		s.cursor = out.LastEvaluatedKey
		if len(s.cursor) == 0 {
			s.cursor = nil
			s.passes++
			st.PassDone = true
			return st, nil
		}
	}
	return st, nil
}
