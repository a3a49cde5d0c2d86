package routes

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Route throttles and reserved concurrency are not chosen by hand: they
// are derived from the partition capacity model (localstack/capacity) and
// kept in limits.json, which this package embeds and applies to Routes
// at init, so the CDK stack, the emulator, the OpenAPI document and the
// README read them from this table like any other column.
// `go test ./localstack/capacity -run TestRouteLimits -update` writes the
// file from localstack/capacity/footprints.json; without -update that test
// fails when the footprints no longer give the committed figures.

// The account-level limits the derivation fits into (AWS defaults; raise
// the quota, change the constant and regenerate).
const (
	// LambdaAccountConcurrency is the account's concurrent executions in
	// the region (1,000 by default, a quota that can be raised).
	LambdaAccountConcurrency = 1_000
	// LambdaUnreservedMinimum is what Lambda keeps unreserved: functions
	// without a reservation (the authorizer, the jobs, the queue worker)
	// run in it.
	LambdaUnreservedMinimum = 100
	// GatewayAccountRate and GatewayAccountBurst are API Gateway's
	// account-level throttle in a region: no route can be set past them.
	GatewayAccountRate  = 10_000
	GatewayAccountBurst = 5_000
)

// HandlerLatency is the time one request holds its function's concurrency
// in the cloud (a warm invocation and its DynamoDB round trips, with room
// to spare): a route's reservation is Rate x HandlerLatency + Burst. It is
// not shorter than RefillMargin, so a derived row is OverloadSafe.
const HandlerLatency = 100 * time.Millisecond

// BurstWindow is a throttle's burst in seconds of its rate: a burst of
// requests at once is what the bucket admits in this long. A second's
// worth is no danger to a partition (DynamoDB banks up to 300 s of unused
// capacity for bursts), and the sustained rate stays the ceiling.
const BurstWindow = time.Second

// MinBurst is the least burst a derived throttle has: a hundred requests
// at once are nothing to a partition, and a smaller bucket would refuse an
// ordinary rush of people (and, on the local test clock, which stands
// still, the requests of one test).
const MinBurst = 100

// Limit is one route's derived throttle and reservation.
type Limit struct {
	Rate     float64 `json:"rate"`     // requests/s, the route's throttle (rounded down)
	Burst    int     `json:"burst"`    // the throttle's bucket
	Reserved int     `json:"reserved"` // the function's reserved concurrency
	// Ceiling is the highest rate the route alone sustains with every
	// partition at most 80 % of its limit, its traffic concentrated as
	// Concentrated says (Inf is written as 0: nothing binds).
	Ceiling      float64  `json:"ceiling"`
	Binding      string   `json:"binding,omitempty"`      // the partition that sets Ceiling
	Concentrated []string `json:"concentrated,omitempty"` // roles played by one actor
	// CappedBy says what the account's limits cut: "gateway" (Rate is the
	// account's API Gateway rate, below Ceiling), "concurrency" (the
	// reservation did not fit in the account's Lambda concurrency, so the
	// route reserves nothing), or both.
	CappedBy string `json:"cappedBy,omitempty"`
}

// Limits is limits.json.
type Limits struct {
	Note string `json:"note"`
	// Assumptions are the constants the figures were derived with; a test
	// checks they are this package's.
	Assumptions struct {
		HandlerLatencyMs         int `json:"handlerLatencyMs"`
		BurstWindowMs            int `json:"burstWindowMs"`
		MinBurst                 int `json:"minBurst"`
		LambdaAccountConcurrency int `json:"lambdaAccountConcurrency"`
		LambdaUnreservedMinimum  int `json:"lambdaUnreservedMinimum"`
		GatewayAccountRate       int `json:"gatewayAccountRate"`
		Reservable               int `json:"reservable"` // for the derived routes
	} `json:"assumptions"`
	Routes map[string]Limit `json:"routes"` // by "METHOD /path"
}

//go:embed limits.json
var limitsJSON []byte

// Derived is the committed limits.json.
var Derived Limits

func init() {
	if err := json.Unmarshal(limitsJSON, &Derived); err != nil {
		panic(fmt.Sprintf("routes: limits.json: %v", err))
	}
	for i, r := range Routes {
		if l, ok := Derived.Routes[r.Method+" "+r.Path]; ok {
			Routes[i] = l.Apply(r)
		}
	}
}

// Apply sets the route's throttle and reserved concurrency to l.
func (l Limit) Apply(r Route) Route {
	r.Throttle = &Throttle{Rate: l.Rate, Burst: l.Burst}
	r.ReservedConcurrency = l.Reserved
	return r
}

// Need is the reserved concurrency a throttle needs: what its rate keeps
// running at HandlerLatency, plus its burst.
func Need(rate float64, burst int) int {
	return int(math.Ceil(rate*HandlerLatency.Seconds()-1e-9)) + burst
}

// BurstFor is the burst of a throttle of this rate.
func BurstFor(rate float64) int {
	return min(GatewayAccountBurst, max(MinBurst, int(math.Ceil(rate*BurstWindow.Seconds()-1e-9))))
}
