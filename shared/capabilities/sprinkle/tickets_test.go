package sprinkle_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/localstack/stacktest"
	"minipay/shared/kernel/ddb"
)

// ticketFaults refuses the first n writes of a tickets item with err.
type ticketFaults struct {
	ddb.Client
	n   atomic.Int64
	err func() error
}

func (f *ticketFaults) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if ddb.Decode(in.Key).S(ddb.AttrSK) == "TICKETS" && f.n.Add(-1) >= 0 {
		return nil, f.err()
	}
	return f.Client.UpdateItem(ctx, in, opts...)
}

// The ticket write retries what the kernel's classifier calls retryable
// (throttles, conflicts with a transaction), with the kernel's backoff and
// attempts; past them the claim is a 503, and anything else is no retry.
func TestTicketWriteUsesTheKernelsClassifier(t *testing.T) {
	f := &ticketFaults{}
	w := &world{stacktest.NewWorld(t, func(c ddb.Client) ddb.Client { f.Client = c; return f })}
	w.Ledger.SetRetryPolicy(6, time.Millisecond)
	s, a, b, c, d, e := w.Register(t, "s"), w.Register(t, "a"), w.Register(t, "b"), w.Register(t, "c"), w.Register(t, "d"), w.Register(t, "e")
	w.charge(t, s, 10_000)
	room := w.room(t, s, a, b, c, d, e)
	token := w.mustSprinkle(t, s, room, `{"amount":1000,"count":4}`)
	for _, tc := range []struct {
		name   string
		faults int64
		err    func() error
		who    user
		want   string
	}{
		{"throttled twice", 2, func() error { return &types.ThrottlingException{Message: aws.String("slow down")} }, a, "201 "},
		{"a conflict", 1, func() error { return &types.TransactionConflictException{Message: aws.String("in a transaction")} }, b, "201 "},
		{"throttled throughout", 100, func() error { return &types.ProvisionedThroughputExceededException{Message: aws.String("hot")} }, c, "503 contention"},
		{"not retryable", 100, func() error { return &types.ResourceNotFoundException{Message: aws.String("no table")} }, d, "500 internal"},
	} {
		f.n.Store(tc.faults)
		f.err = tc.err
		if r := w.claim(t, tc.who.ID, room, token); code(r) != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, r.Raw, tc.want)
		}
	}
	// The refused ones took no ticket: they claim now, and then the shares are gone.
	f.n.Store(0)
	for _, u := range []user{c, d} {
		if r := w.claim(t, u.ID, room, token); r.Status != 201 {
			t.Fatalf("after the faults: %s", r.Raw)
		}
	}
	if r := w.claim(t, e.ID, room, token); code(r) != "409 sprinkle_exhausted" {
		t.Fatalf("fifth claim: %s", r.Raw)
	}
	w.Clock.Advance(time.Hour)
	w.reclaim(t)
}
