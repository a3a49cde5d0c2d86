package stacktest_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/localstack/ddbtest"
	"minipay/localstack/stacktest"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
)

// slowCommits holds TransactWriteItems until the caller's context ends:
// with lost set, after the commit went through (its answer is what is
// late), else before sending it (the commit never happens).
type slowCommits struct {
	ddb.Client
	on, lost atomic.Bool
}

func (c *slowCommits) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if !c.on.Load() {
		return c.Client.TransactWriteItems(ctx, in, o...)
	}
	if c.lost.Load() {
		if _, err := c.Client.TransactWriteItems(context.WithoutCancel(ctx), in, o...); err != nil {
			return nil, err
		}
	}
	<-ctx.Done()
	return nil, fmt.Errorf("operation error DynamoDB: TransactWriteItems: %w", ctx.Err())
}

// A request still being worked on a second before its function's timeout
// (httpapi.AnswerReserve) answers 503 timed_out with Retry-After, not the
// gateway's 500 for a function cut off; and its retry with the same
// Idempotency-Key moves the money once, whether the first commit went
// through (the retry replays its answer) or never happened (the retry
// does it).
func TestARequestOutOfTimeIs503AndItsRetryMovesOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lost     bool // the commit went through; only its answer was late
		replayed bool
	}{
		{"answer lost after the commit", true, true},
		{"commit never sent", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slow := &slowCommits{}
			s := stacktest.New(t, config.Config{}, func(c ddb.Client) ddb.Client { slow.Client = c; return slow })
			const timeout = 2 * time.Second
			s.Emulator.SetFunctionTimeout(timeout)
			u := s.Register(t, "late")
			charge := stacktest.Request{Method: "POST", Path: "/accounts/" + u.Main + "/charges", Token: u.Token,
				Body: `{"amount":10000}`, Key: stacktest.NewKey()}

			slow.lost.Store(tc.lost)
			slow.on.Store(true)
			start := time.Now()
			r := s.Do(t, charge)
			took := time.Since(start)
			slow.on.Store(false)
			if r.Status != 503 || r.Body["code"] != "timed_out" || r.Header.Get("Retry-After") == "" {
				t.Fatalf("out of time: %d %s (Retry-After %q); want 503 timed_out with Retry-After", r.Status, r.Raw, r.Header.Get("Retry-After"))
			}
			if took >= timeout {
				t.Fatalf("answered after %s, not before the %s timeout", took, timeout)
			}

			r = s.Do(t, charge)
			if r.Status != 201 || (r.Header.Get("Idempotent-Replayed") == "true") != tc.replayed {
				t.Fatalf("retry: %d %s (replayed %q); want 201, replayed %v", r.Status, r.Raw, r.Header.Get("Idempotent-Replayed"), tc.replayed)
			}
			if got := s.Available(t, u); got != 10_000 {
				t.Fatalf("available %d after the charge and its retry; want 10000 (once)", got)
			}
			ddbtest.Audit(t, s.Name)
		})
	}
}
