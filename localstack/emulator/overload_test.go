package emulator_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"minipay/localstack/emulator"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/clock"
)

// A function's reserved concurrency: with its slots held, one more
// invocation is refused at once (the gateway's 500 for a throttled Lambda,
// *ThrottledError to a direct invoke), never queued; other functions go
// on; once a slot is free the function answers again.
func TestReservedConcurrencyRefusesAtOnce(t *testing.T) {
	entered := make(chan struct{}, 10)
	release := make(chan struct{})
	h := map[string]any{
		"held": func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			entered <- struct{}{}
			<-release
			return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: `{}`}, nil
		},
		"free": func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: `{}`}, nil
		},
	}
	rs := []routes.Route{
		{Method: "POST", Path: "/held", Function: "held", Auth: routes.Public, ReservedConcurrency: 2},
		{Method: "GET", Path: "/free", Function: "free", Auth: routes.Public},
	}
	em, err := emulator.New(emulator.Config{Handlers: h, Routes: rs, Clock: clock.NewManual(start), Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	held := make([]reply, 2)
	for i := range held {
		wg.Add(1)
		go func() { defer wg.Done(); held[i] = do(em, "POST", "/held", nil) }()
	}
	<-entered
	<-entered // both slots are taken and stay taken until release
	for i := 0; i < 5; i++ {
		if r := do(em, "POST", "/held", nil); r.status != 500 || r.body != `{"message":"Internal Server Error"}` {
			t.Fatalf("past the limit: %d %s", r.status, r.body)
		}
	}
	var throttled *emulator.ThrottledError
	if _, err := em.Invoke(context.Background(), "held", []byte(`{}`)); !errors.As(err, &throttled) || throttled.Limit != 2 {
		t.Fatalf("direct invoke past the limit: %v", err)
	}
	if r := do(em, "GET", "/free", nil); r.status != 200 {
		t.Fatalf("another function: %d", r.status)
	}
	if got := em.Overload().Refused; got != 6 {
		t.Errorf("refused %d, want 6", got)
	}
	close(release)
	wg.Wait()
	for _, r := range held {
		if r.status != 200 {
			t.Fatalf("held request: %d %s", r.status, r.body)
		}
	}
	go func() { <-entered }()
	if r := do(em, "POST", "/held", nil); r.status != 200 {
		t.Fatalf("after the load: %d %s", r.status, r.body)
	}
}

// A route's throttle is a token bucket on the emulator's clock: a burst
// passes, the rest get the gateway's 429 before any function runs; tokens
// come back at the rate; other routes are not throttled.
func TestRouteThrottle(t *testing.T) {
	calls := 0
	var mu sync.Mutex
	h := map[string]any{"fn": func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: `{}`}, nil
	}}
	rs := []routes.Route{
		{Method: "POST", Path: "/limited", Function: "fn", Auth: routes.Public, Throttle: &routes.Throttle{Rate: 2, Burst: 3}},
		{Method: "GET", Path: "/open", Function: "fn", Auth: routes.Public},
	}
	clk := clock.NewManual(start)
	em, err := emulator.New(emulator.Config{Handlers: h, Routes: rs, Clock: clk, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	statuses := func(n int) map[int]int {
		out := map[int]int{}
		for i := 0; i < n; i++ {
			r := do(em, "POST", "/limited", nil)
			if r.status == 429 && r.body != `{"message":"Too Many Requests"}` {
				t.Fatalf("429 body %s", r.body)
			}
			out[r.status]++
		}
		return out
	}
	if got := statuses(10); got[200] != 3 || got[429] != 7 {
		t.Fatalf("burst: %v", got)
	}
	if r := do(em, "GET", "/open", nil); r.status != 200 {
		t.Fatalf("an unthrottled route: %d", r.status)
	}
	clk.Advance(1500 * 1e6) // 1.5 s at 2 per second: 3 tokens
	if got := statuses(4); got[200] != 3 || got[429] != 1 {
		t.Fatalf("after refill: %v", got)
	}
	if calls != 7 || em.Overload().Throttled != 8 {
		t.Fatalf("function ran %d times (want 7), throttled %d (want 8)", calls, em.Overload().Throttled)
	}
	off, err := emulator.New(emulator.Config{Handlers: h, Routes: rs, Clock: clk, Log: quietLog(), Unthrottled: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if r := do(off, "POST", "/limited", nil); r.status != 200 {
			t.Fatalf("unthrottled emulator: %d", r.status)
		}
	}
}
