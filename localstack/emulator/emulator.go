// Package emulator is the local stand-in for the managed services in front
// of minipay's Lambda functions: API Gateway (HTTP API, payload format 2.0,
// a Lambda authorizer with simple responses and a result cache), EventBridge
// Scheduler (the schedule table, on an injectable clock) and DynamoDB TTL
// (a sweeper that deletes expired items, as the cloud eventually does).
//
// It runs the very handlers the Lambda functions run (app.Handlers), and it
// invokes them the way the Lambda runtime does: the event is marshalled to
// JSON and passed through aws-lambda-go's lambda.NewHandler(h).Invoke, and
// the response JSON is decoded the way API Gateway decodes it. So anything
// that would break in the cloud's (de)serialisation breaks here too.
package emulator

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"minipay/shared/edge/routes"
	"minipay/shared/kernel/clock"
)

// EnvOperatorToken is the operator token the local stack accepts (the
// cloud only ever sees its sha256, config.EnvOperatorTokenSHA256).
const EnvOperatorToken = "MINIPAY_OPERATOR_TOKEN"

// Defaults that mirror the cloud.
const (
	// DefaultAuthorizerTTL is the authorizer result cache lifetime
	// (the HTTP API authorizer's AuthorizerResultTtlInSeconds).
	DefaultAuthorizerTTL = routes.AuthorizerCacheTTL
	// DefaultFunctionTimeout is the stack's function timeout: an
	// invocation (the authorizer's too) that runs longer fails, as Lambda
	// fails it, and API Gateway answers 500.
	DefaultFunctionTimeout = routes.FunctionTimeout
	// DefaultMaxCatchUp caps the missed runs of one schedule fired by one Tick
	// (a laptop that slept a day would otherwise fire a 1-minute job 1,440 times).
	DefaultMaxCatchUp = 100
	// DefaultAccountID is the AWS account id local tools use.
	DefaultAccountID = "000000000000"
	// DefaultRegion is the region the local DynamoDB client uses.
	DefaultRegion = "ap-northeast-2"
)

// Config is what an Emulator is built from. Handlers, Clock and Log are
// required; Routes and Schedules are usually routes.Routes and
// routes.Schedules, injectable so tests can bring their own.
type Config struct {
	// Handlers maps a function name to its handler: any value
	// lambda.NewHandler accepts (app.Handlers builds them).
	Handlers  map[string]any
	Routes    []routes.Route
	Schedules []routes.Schedule
	Clock     clock.Clock
	Log       *slog.Logger
	// Sweeper deletes expired TTL items (the *store.Store). Optional.
	Sweeper Sweeper
	// OpenAPI is the OpenAPI document, served at GET /openapi.json (a
	// local-only route outside the route table; nil: not served).
	OpenAPI []byte
	// Queues are the in-process work queues (queue.go), also given to the
	// handlers as their Services.Queue. Optional.
	Queues *LocalQueues
	// NextDue is the earliest due time among the items of the given due
	// kinds, false when they hold none ((*ddb.Table).EarliestDue). With it,
	// AdvanceClock fires a rate schedule that declares its Due kinds only at
	// the slots where something is due (testclock.go). Optional: nil fires
	// every slot.
	NextDue func(ctx context.Context, kinds []string) (time.Time, bool, error)

	AuthorizerTTL   time.Duration // 0: DefaultAuthorizerTTL; negative: no cache
	FunctionTimeout time.Duration // 0: DefaultFunctionTimeout
	MaxCatchUp      int           // 0: DefaultMaxCatchUp
	TickEvery       time.Duration // RunSchedules' real ticker; 0: one second
	AccountID       string        // "": DefaultAccountID
	Region          string        // "": DefaultRegion
	APIID           string        // "": "local"
	// Unthrottled turns off the route throttles and reserved concurrency
	// (concurrency.go), for load reports that measure past them.
	Unthrottled bool
}

// Emulator serves the route table over HTTP (it is an http.Handler), fires
// the schedule table's jobs and sweeps expired items. Safe for concurrent use.
type Emulator struct {
	cfg        Config
	clock      clock.Clock
	log        *slog.Logger
	router     *router
	schedules  []routes.Schedule
	functions  map[string]*instances
	authorizer *instances // nil when every route is public
	fallback   *instances // the $default route's function; nil: the gateway's bare 404

	cacheMu sync.Mutex
	cache   map[string]cachedAuth

	schedMu  sync.Mutex
	lastTick time.Time

	queues    *LocalQueues // queue.go
	advanceMu sync.Mutex   // testclock.go

	stats  counters
	limits *limits // route throttles and reserved concurrency (concurrency.go)
}

// New checks the tables against the handlers and builds an Emulator. Every
// route's and schedule's function needs a handler, non-public routes need
// the authorizer, and every schedule must have a valid expression.
func New(c Config) (*Emulator, error) {
	if c.Clock == nil || c.Log == nil {
		return nil, errors.New("emulator: Config.Clock and Config.Log are required")
	}
	c.defaults()
	e := &Emulator{
		cfg:       c,
		clock:     c.Clock,
		log:       c.Log,
		schedules: append([]routes.Schedule(nil), c.Schedules...),
		functions: map[string]*instances{},
		cache:     map[string]cachedAuth{},
		lastTick:  c.Clock.Now(),
		limits:    newLimits(c.Routes, c.Unthrottled, c.Clock.Now()),
	}
	e.stats.invocations = map[string]int64{}
	var err error
	if e.router, err = newRouter(c.Routes); err != nil {
		return nil, err
	}
	if err := e.bindRoutes(c.Routes); err != nil {
		return nil, err
	}
	if err := e.bindSchedules(c.Schedules); err != nil {
		return nil, err
	}
	if err := e.bindQueues(c.Queues, e.need); err != nil {
		return nil, err
	}
	if h := c.Handlers[routes.Fallback.Function]; h != nil {
		e.fallback = newInstances(h)
		e.functions[routes.Fallback.Function] = e.fallback
	}
	// Functions only invoke can reach still get a handler.
	for name, h := range c.Handlers {
		if _, ok := e.functions[name]; !ok && h != nil {
			e.functions[name] = newInstances(h)
		}
	}
	return e, nil
}

// defaults fills in what the configuration leaves zero.
func (c *Config) defaults() {
	if c.AuthorizerTTL == 0 {
		c.AuthorizerTTL = DefaultAuthorizerTTL
	}
	if c.FunctionTimeout <= 0 {
		c.FunctionTimeout = DefaultFunctionTimeout
	}
	if c.MaxCatchUp <= 0 {
		c.MaxCatchUp = DefaultMaxCatchUp
	}
	if c.TickEvery <= 0 {
		c.TickEvery = time.Second
	}
	if c.AccountID == "" {
		c.AccountID = DefaultAccountID
	}
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.APIID == "" {
		c.APIID = "local"
	}
}

// need makes sure function has a handler (what needs it says who asks, for
// the error) and gives it its instances once.
// SetFunctionTimeout changes the functions' timeout, before the first
// request (tests of what a request that runs out of time answers).
func (e *Emulator) SetFunctionTimeout(d time.Duration) { e.cfg.FunctionTimeout = d }

func (e *Emulator) need(function, what string) error {
	h, ok := e.cfg.Handlers[function]
	if !ok || h == nil {
		return fmt.Errorf("emulator: %s needs function %q, which has no handler", what, function)
	}
	if _, done := e.functions[function]; !done {
		e.functions[function] = newInstances(h)
	}
	return nil
}

// bindRoutes gives every route its function, and the authorizer to the
// first route that needs one.
func (e *Emulator) bindRoutes(rs []routes.Route) error {
	for _, r := range rs {
		if err := e.need(r.Function, "route "+r.Method+" "+r.Path); err != nil {
			return err
		}
		if r.BehindAuthorizer() && e.authorizer == nil {
			if err := e.need(routes.AuthorizerFunction, "route "+r.Method+" "+r.Path+" (auth "+string(r.Auth)+")"); err != nil {
				return err
			}
			e.authorizer = e.functions[routes.AuthorizerFunction]
		}
	}
	return nil
}

// bindSchedules checks every schedule (listed once, an expression, a next
// time from now) and gives it its function.
func (e *Emulator) bindSchedules(ss []routes.Schedule) error {
	seen := map[string]bool{}
	for _, s := range ss {
		if seen[s.Name] {
			return fmt.Errorf("emulator: schedule %q is listed twice", s.Name)
		}
		seen[s.Name] = true
		if _, err := s.Expression(); err != nil {
			return fmt.Errorf("emulator: %w", err)
		}
		if _, err := s.Next(e.lastTick); err != nil {
			return fmt.Errorf("emulator: %w", err)
		}
		if err := e.need(s.Function, "schedule "+s.Name); err != nil {
			return err
		}
	}
	return nil
}

// Functions lists the functions the emulator can invoke, sorted.
func (e *Emulator) Functions() []string {
	out := make([]string, 0, len(e.functions))
	for f := range e.functions {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Invoke runs one function once with a JSON event, the way the Lambda
// runtime does, and returns its JSON response. A function error (or panic)
// is returned as an error.
func (e *Emulator) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	h, ok := e.functions[function]
	if !ok {
		return nil, fmt.Errorf("emulator: no function %q (have %v)", function, e.Functions())
	}
	return e.invoke(ctx, function, h, payload)
}

// FunctionError is a handler's error (or panic), as Lambda reports it.
type FunctionError struct {
	Function string
	Err      error
}

func (f *FunctionError) Error() string { return "function " + f.Function + ": " + f.Err.Error() }
func (f *FunctionError) Unwrap() error { return f.Err }

// instances are a function's warm execution environments. Like Lambda, an
// instance serves one request at a time: aws-lambda-go's handler reuses its
// response buffer between invocations, so sharing one instance across
// concurrent requests would mix their responses.
type instances struct {
	handler any
	pool    sync.Pool
}

func newInstances(h any) *instances {
	in := &instances{handler: h}
	in.pool.New = func() any { return lambda.NewHandler(h) }
	return in
}

func (in *instances) invoke(ctx context.Context, payload []byte) ([]byte, error) {
	h := in.pool.Get().(lambda.Handler)
	defer in.pool.Put(h)
	out, err := h.Invoke(ctx, payload)
	// Copy before the instance (and its buffer) serves another request.
	return append([]byte(nil), out...), err
}

func (e *Emulator) invoke(ctx context.Context, function string, h *instances, payload []byte) (out []byte, err error) {
	release, err := e.reserve(function)
	if err != nil {
		return nil, err
	}
	defer release()
	e.stats.invoked(function)
	lc := &lambdacontext.LambdaContext{
		AwsRequestID:       newUUID(),
		InvokedFunctionArn: fmt.Sprintf("arn:aws:lambda:%s:%s:function:minipay-%s", e.cfg.Region, e.cfg.AccountID, function),
	}
	ctx = lambdacontext.NewContext(ctx, lc)
	defer func() {
		if p := recover(); p != nil {
			e.log.ErrorContext(ctx, "emulator: function panicked", "function", function, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			out, err = nil, &FunctionError{Function: function, Err: fmt.Errorf("panic: %v", p)}
		}
	}()
	out, err = h.invoke(ctx, payload)
	if err != nil {
		return nil, &FunctionError{Function: function, Err: err}
	}
	return out, nil
}

// ---- counters ----

// Stats are counters for benchmarks and tests.
type Stats struct {
	Requests              int64            // HTTP requests served (any status)
	AuthorizerInvocations int64            // authorizer runs (cache misses)
	AuthorizerCacheHits   int64            // requests answered from the authorizer cache
	Invocations           map[string]int64 // function runs, by function (authorizer included)
	ScheduledRuns         int64            // schedule runs fired by Tick
	ScheduledFailures     int64            // of which failed
	Swept                 int64            // items deleted by the TTL sweeper
}

type counters struct {
	requests, authInvocations, authHits, scheduled, scheduledFailed, swept atomic.Int64

	mu          sync.Mutex
	invocations map[string]int64
}

func (c *counters) invoked(function string) {
	c.mu.Lock()
	c.invocations[function]++
	c.mu.Unlock()
}

// Stats returns a snapshot of the counters.
func (e *Emulator) Stats() Stats {
	s := Stats{
		Requests:              e.stats.requests.Load(),
		AuthorizerInvocations: e.stats.authInvocations.Load(),
		AuthorizerCacheHits:   e.stats.authHits.Load(),
		ScheduledRuns:         e.stats.scheduled.Load(),
		ScheduledFailures:     e.stats.scheduledFailed.Load(),
		Swept:                 e.stats.swept.Load(),
		Invocations:           map[string]int64{},
	}
	e.stats.mu.Lock()
	for k, v := range e.stats.invocations {
		s.Invocations[k] = v
	}
	e.stats.mu.Unlock()
	return s
}

// ResetStats zeroes the counters (between benchmark phases).
func (e *Emulator) ResetStats() {
	e.stats.requests.Store(0)
	e.stats.authInvocations.Store(0)
	e.stats.authHits.Store(0)
	e.stats.scheduled.Store(0)
	e.stats.scheduledFailed.Store(0)
	e.stats.swept.Store(0)
	e.stats.mu.Lock()
	e.stats.invocations = map[string]int64{}
	e.stats.mu.Unlock()
}

// ---- ids ----

// newRequestID looks like an API Gateway request id (16 characters).
func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func newTraceID(now time.Time) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return fmt.Sprintf("Root=1-%08x-%s", now.Unix(), hex.EncodeToString(b))
}
