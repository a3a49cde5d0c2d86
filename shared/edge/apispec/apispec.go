// Package apispec is where each capability describes its routes for the
// OpenAPI document: the request body, the success response, the query
// parameters. A capability registers its operations from its own package
// (an init function), so a new route lands with its description next to
// its handler; shared/wiring/openapi builds the document from the route table
// and this registry, and a test fails for a route without an entry.
package apispec

import (
	"fmt"
	"sort"
	"sync"
)

// Param is a query parameter.
type Param struct {
	Name        string
	Description string
	Type        string   // "string" or "integer"
	Enum        []string // optional
	Format      string   // optional, e.g. "date-time"
	// Min and Max bound an integer parameter (both 0: unbounded).
	Min, Max int64
}

// Op describes the operation a route's function serves.
type Op struct {
	// Function is the route's function (routes.Route.Function).
	Function string
	// Request is a value of the JSON body's Go type (nil: no body);
	// RequestOptional: the body may be absent.
	Request         any
	RequestOptional bool
	// Response is a value of the success body's Go type, sent with Status.
	Response any
	Status   int
	// OtherStatuses are further success statuses with the same body (e.g.
	// 200 for "already done" beside 201 "created").
	OtherStatuses []int
	Query         []Param
	// Path describes the path parameters by name (optional).
	Path map[string]string
	// Errors are the problem codes the operation itself may answer (rows of
	// httpapi.Problems), beside those of the edge that every route of its
	// kind may answer (bad_request, unauthorized, idempotency_key_*...).
	// nil: not listed (the document then has a "default" problem
	// response); the stack tests check every code a route answers is listed.
	Errors []string
}

var (
	mu  sync.Mutex
	ops = map[string]Op{}
)

// Register adds ops; registering a function twice panics (a bug).
func Register(list ...Op) {
	mu.Lock()
	defer mu.Unlock()
	for _, op := range list {
		if _, dup := ops[op.Function]; dup {
			panic(fmt.Sprintf("apispec: %s registered twice", op.Function))
		}
		if op.Status == 0 {
			op.Status = 200
		}
		ops[op.Function] = op
	}
}

// Get is the operation of a function.
func Get(function string) (Op, bool) {
	mu.Lock()
	defer mu.Unlock()
	op, ok := ops[function]
	return op, ok
}

// Functions lists the registered functions, sorted.
func Functions() []string {
	mu.Lock()
	defer mu.Unlock()
	out := make([]string, 0, len(ops))
	for f := range ops {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Paging is the ?limit=&cursor= pair of every list.
var Paging = []Param{
	{Name: "limit", Type: "integer", Min: 1, Max: 100, Description: "items per page, 1-100 (default 20)"},
	{Name: "cursor", Type: "string", Description: "nextCursor of the previous page of the same listing"},
}
