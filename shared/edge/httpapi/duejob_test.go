package httpapi_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/localstack/ddbtest"
	"minipay/shared/edge/httpapi"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/ddb"
)

func TestMain(m *testing.M) { os.Exit(ddbtest.Main(m)) }

// idOf is the test item's id, from its key (the due index projects the
// keys, so a pass without Fetch has them too).
func idOf(item ddb.Item) string {
	return strings.TrimPrefix(ddb.Decode(item).S(ddb.AttrPK), "JOBTEST#")
}

// passesRun is the summary of the test job: the items each pass was
// handed, in order, and what the run tallied.
type passesRun struct {
	httpapi.DueTally
	First, Second []string
}

// A DueJob's passes run in order within one budget: the second pass runs
// only when the first read all its items (a failed item does not stop it;
// it fails the run and stays due), never when the first was cut short, and
// no pass is handed an item due after the run's now.
func TestDueJobPasses(t *testing.T) {
	cases := []struct {
		name string
		// failFirst fails the first pass's items; slow makes each of its
		// items take this long, and deadline is the invocation's.
		failFirst      bool
		slow, deadline time.Duration
		wantFirst      []string
		wantSecond     []string
		wantDone, fail bool
	}{
		{name: "both passes, oldest first, nothing not yet due",
			wantFirst: []string{"a1", "a2", "a3"}, wantSecond: []string{"b1", "b2"}, wantDone: true},
		{name: "a failed item stays due and the second pass still runs", failFirst: true,
			wantFirst: []string{"a1", "a2", "a3"}, wantSecond: []string{"b1", "b2"}, wantDone: true, fail: true},
		{name: "a first pass cut short by the deadline runs no second pass",
			slow: 700 * time.Millisecond, deadline: 2500 * time.Millisecond,
			wantFirst: []string{"a1"}, wantDone: false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := ddbtest.New(t)
			ctx := context.Background()
			now := e.Clock.Now()
			put := func(kind, id string, at time.Time) {
				item := ddb.Key("JOBTEST#"+id, "ITEM")
				item["id"] = ddb.S(id)
				ddb.SetDue(item, kind, at, id)
				if _, err := ddbtest.Client().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.Name), Item: item}); err != nil {
					t.Fatal(err)
				}
			}
			// Written out of order: the passes hand them oldest first.
			put("jobtest-a", "a2", now.Add(-2*time.Minute))
			put("jobtest-a", "a1", now.Add(-3*time.Minute))
			put("jobtest-a", "a3", now.Add(-time.Minute))
			put("jobtest-a", "a4", now.Add(time.Minute)) // not yet due
			put("jobtest-b", "b2", now.Add(-time.Minute))
			put("jobtest-b", "b1", now.Add(-2*time.Minute))
			put("jobtest-b", "b3", now.Add(time.Hour)) // not yet due

			errItem := errors.New("item failed")
			job := httpapi.DueJob[passesRun]{
				Name: "job test",
				Passes: []httpapi.DuePass[passesRun]{
					{Kinds: []string{"jobtest-a"}, Fetch: true, Each: func(ctx context.Context, item ddb.Item, _ time.Time, sum *passesRun) error {
						sum.First = append(sum.First, idOf(item))
						time.Sleep(c.slow)
						if c.failFirst {
							return errItem
						}
						return nil
					}},
					{Kinds: []string{"jobtest-b"}, Each: func(ctx context.Context, item ddb.Item, _ time.Time, sum *passesRun) error {
						sum.Second = append(sum.Second, idOf(item))
						return nil
					}},
				},
				Counts: func(*passesRun) []any { return nil },
			}
			job.Services = httpapi.Services{Table: e.Table, Ledger: e.Ledger, Clock: e.Clock, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
			runCtx := ctx
			if c.deadline > 0 {
				var cancel context.CancelFunc
				runCtx, cancel = context.WithTimeout(ctx, c.deadline)
				defer cancel()
			}
			sum, err := job.Handler()(runCtx, routes.ScheduledEvent{Job: "job-test"})
			if c.fail != (err != nil) || c.fail && !errors.Is(err, errItem) {
				t.Fatalf("error %v, want failure %v", err, c.fail)
			}
			if !slices.Equal(sum.First, c.wantFirst) || !slices.Equal(sum.Second, c.wantSecond) {
				t.Fatalf("handed %v then %v, want %v then %v", sum.First, sum.Second, c.wantFirst, c.wantSecond)
			}
			if sum.Due != len(c.wantFirst)+len(c.wantSecond) || sum.Done != c.wantDone {
				t.Fatalf("tallied due %d done %v, want %d %v", sum.Due, sum.Done, len(c.wantFirst)+len(c.wantSecond), c.wantDone)
			}
		})
	}
}
