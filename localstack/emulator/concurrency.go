package emulator

// Overload, as the cloud answers it. Two limits from the route table:
//
//   - A route's throttle (routes.Route.Throttle: the stage's RouteSettings)
//     is API Gateway's token bucket: Burst requests at once, refilled at
//     Rate per second. A request that finds the bucket empty is answered
//     at once, before the authorizer and the function, with the gateway's
//     429 {"message":"Too Many Requests"}. The bucket runs on the
//     emulator's clock (the manual clock in tests, so a test decides when
//     tokens come back).
//   - A function's reserved concurrency (routes.Route.ReservedConcurrency)
//     is Lambda's: at most that many invocations at once; one more is
//     refused at once (Lambda's TooManyRequestsException,
//     ReservedFunctionConcurrentInvocationLimitExceeded), never queued.
//     API Gateway does not pass Lambda's 429 through: a Lambda proxy
//     integration whose invocation is throttled is an integration failure,
//     answered 500 {"message":"Internal Server Error"} (documented for
//     REST APIs and in AWS's troubleshooting notes; an HTTP API has no
//     gateway responses to remap it). So that is the emulator's answer
//     too, through the same path as any failed invocation; scheduled and
//     direct invocations get *ThrottledError.
//
// The stack sizes each payment route's throttle so that its steady rate
// times a request's latency stays well below the function's reserved
// concurrency: overload is shed by the gateway's fast 429 and the 500 is a
// backstop. Neither gateway answer carries Retry-After (API Gateway adds
// none); the API's own 503s (a busy item after bounded retries, DynamoDB
// throttling) do.

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"minipay/shared/edge/routes"
)

var msgTooManyRequests = gatewayMessage{http.StatusTooManyRequests, "Too Many Requests"}

// ThrottledError is Lambda's refusal of an invocation past the function's
// reserved concurrency.
type ThrottledError struct {
	Function string
	Limit    int
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("TooManyRequestsException: Rate Exceeded (%s: reserved concurrency %d in use)", e.Function, e.Limit)
}

type limits struct {
	mu      sync.Mutex
	buckets map[string]*bucket // by route key
	running map[string]*slots  // by function
	off     bool               // Config.Unthrottled

	throttled, refused atomic.Int64
}

type bucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

type slots struct {
	limit atomic.Int64
	n     atomic.Int64
}

func newLimits(rs []routes.Route, off bool, now time.Time) *limits {
	l := &limits{buckets: map[string]*bucket{}, running: map[string]*slots{}, off: off}
	for _, r := range rs {
		if r.Throttle != nil {
			l.buckets[r.Method+" "+r.Path] = &bucket{rate: r.Throttle.Rate, burst: float64(r.Throttle.Burst), tokens: float64(r.Throttle.Burst), last: now}
		}
		if r.ReservedConcurrency > 0 {
			s := &slots{}
			s.limit.Store(int64(r.ReservedConcurrency))
			l.running[r.Function] = s
		}
	}
	return l
}

// throttle takes a token from the route's bucket; nil: go on.
func (e *Emulator) throttle(r routes.Route) *gatewayMessage {
	l := e.limits
	if l == nil || l.off {
		return nil
	}
	now := e.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[r.Method+" "+r.Path]
	if b == nil {
		return nil
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(b.burst, b.tokens+dt*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		l.throttled.Add(1)
		return &msgTooManyRequests
	}
	b.tokens--
	return nil
}

// reserve takes one of the function's concurrent slots, or refuses.
func (e *Emulator) reserve(function string) (release func(), err error) {
	l := e.limits
	if l == nil || l.off {
		return func() {}, nil
	}
	l.mu.Lock()
	s := l.running[function]
	l.mu.Unlock()
	if s == nil {
		return func() {}, nil
	}
	if limit := s.limit.Load(); s.n.Add(1) > limit {
		s.n.Add(-1)
		l.refused.Add(1)
		return nil, &ThrottledError{Function: function, Limit: int(limit)}
	}
	return func() { s.n.Add(-1) }, nil
}

// SetReservedConcurrency changes a function's reserved concurrency (0: no
// limit), as `aws lambda put-function-concurrency` would; tests use it to
// make a limit easy to reach.
func (e *Emulator) SetReservedConcurrency(function string, n int) {
	l := e.limits
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.running[function]
	if s == nil {
		s = &slots{}
		l.running[function] = s
	}
	s.limit.Store(int64(n))
	if n <= 0 {
		delete(l.running, function)
	}
}

// SetThrottle changes a route's throttle ("POST /orders"); nil removes it.
// The bucket starts full.
func (e *Emulator) SetThrottle(routeKey string, t *routes.Throttle) {
	l := e.limits
	l.mu.Lock()
	defer l.mu.Unlock()
	if t == nil {
		delete(l.buckets, routeKey)
		return
	}
	l.buckets[routeKey] = &bucket{rate: t.Rate, burst: float64(t.Burst), tokens: float64(t.Burst), last: e.clock.Now()}
}

// OverloadStats counts the requests the route throttles answered 429 and
// the invocations reserved concurrency refused.
type OverloadStats struct {
	Throttled, Refused int64
}

// Overload returns the counters.
func (e *Emulator) Overload() OverloadStats {
	return OverloadStats{Throttled: e.limits.throttled.Load(), Refused: e.limits.refused.Load()}
}
