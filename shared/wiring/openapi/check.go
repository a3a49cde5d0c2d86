package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"minipay/shared/capabilities/users"
	"minipay/shared/edge/routes"
)

// DocumentPath is where the stack serves the document (routes.Document;
// not an operation of it).
const DocumentPath = routes.DocumentPath

// Checker validates real exchanges (a request and the response it got)
// against the Strict document. Its rules:
//
//   - a request the document accepts gets a response the document
//     describes: the status, the headers, the body's schema (closed: no
//     undocumented members), and for a problem a code the operation lists
//     for that status (ProblemCodesExtension);
//   - a request the document refuses (a missing Idempotency-Key or token, a
//     body that breaks its schema, a wrong Content-Type) must be refused
//     by the API too, with a documented 4xx: a request the document calls
//     invalid that the API takes is a mismatch;
//   - a request no operation matches gets the fallback's problem+json 404
//     or 405 (with Allow).
//
// The API Gateway's own {"message"} answers are documented responses
// (GatewayMessage), so they are checked like the others.
type Checker struct {
	doc    *openapi3.T
	router routers.Router

	mu    sync.Mutex
	stats Stats
}

// Stats counts what a Checker saw.
type Stats struct {
	Exchanges int // requests sent and responses got, each validated
	Refused   int // requests the document refuses, refused by the API as documented
	Unrouted  int // requests no operation matches (the fallback answered)
	Gateway   int // answers of the API Gateway itself ({"message"})
	// Seen counts exchanges by operationId and status.
	Seen map[string]map[int]int
}

// NewChecker validates exchanges with the API at serverURL.
func NewChecker(serverURL string) (*Checker, error) {
	d, err := Strict()
	if err != nil {
		return nil, err
	}
	cp := *d
	cp.Servers = openapi3.Servers{{URL: serverURL}}
	router, err := gorillamux.NewRouter(&cp)
	if err != nil {
		return nil, err
	}
	return &Checker{doc: &cp, router: router, stats: Stats{Seen: map[string]map[int]int{}}}, nil
}

// Stats is a copy of the counts so far.
func (c *Checker) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Seen = map[string]map[int]int{}
	for op, m := range c.stats.Seen {
		s.Seen[op] = map[int]int{}
		for st, n := range m {
			s.Seen[op][st] = n
		}
	}
	return s
}

// Exchange is one request with the response it got.
type Exchange struct {
	Request *http.Request // as sent (its body is read from Body)
	Body    []byte
	Status  int
	Header  http.Header
	Reply   []byte
}

// Check validates one exchange; the error says every mismatch found.
func (c *Checker) Check(ctx context.Context, ex Exchange) error {
	req := ex.Request.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(ex.Body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(ex.Body)), nil }
	req.ContentLength = int64(len(ex.Body))
	// Media types are case-insensitive (the API reads them so); kin-openapi
	// compares them as written.
	if mt, params, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err == nil {
		req.Header.Set("Content-Type", mime.FormatMediaType(strings.ToLower(mt), params))
	}
	if req.Method == http.MethodGet && req.URL.Path == DocumentPath {
		return nil // the local stack's own route
	}

	route, params, err := c.router.FindRoute(req)
	if err != nil {
		c.count("", ex.Status, func(s *Stats) { s.Unrouted++ })
		return c.checkUnrouted(req, ex, err)
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, SkipSettingDefaults: true, AuthenticationFunc: authenticate}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	// Validation may have read the body: give it back for the response's.
	req.Body = io.NopCloser(bytes.NewReader(ex.Body))

	var problems []string
	where := fmt.Sprintf("%s %s -> %d", req.Method, req.URL.RequestURI(), ex.Status)
	if reqErr != nil && (ex.Status < 400 || ex.Status >= 500) {
		problems = append(problems, fmt.Sprintf("the document refuses the request (%v), but the API answered %d", oneLine(reqErr), ex.Status))
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: ex.Status, Header: ex.Header,
		Body: io.NopCloser(bytes.NewReader(ex.Reply)), Options: opts}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		problems = append(problems, "the response does not match the document: "+oneLine(err))
	}
	mt := mediaType(ex.Header)
	if mt == ContentProblem {
		if code, err := problemCode(ex.Reply); err != nil {
			problems = append(problems, err.Error())
		} else if resp := route.Operation.Responses.Status(ex.Status); resp != nil && resp.Value != nil {
			if listed, ok := resp.Value.Extensions[ProblemCodesExtension].([]any); ok && !slices.Contains(listed, any(code)) {
				problems = append(problems, fmt.Sprintf("problem code %q is not one the document lists for %s %d (%v): "+
					"add it to the operation's apispec Errors", code, route.Operation.OperationID, ex.Status, listed))
			}
		}
	}
	c.count(route.Operation.OperationID, ex.Status, func(s *Stats) {
		if reqErr != nil {
			s.Refused++
		}
		if mt == ContentJSON && ex.Status >= 400 {
			s.Gateway++
		}
	})
	if len(problems) > 0 {
		return fmt.Errorf("openapi: %s: %s\n  response: %s", where, strings.Join(problems, "; "), truncate(ex.Reply, 300))
	}
	return nil
}

// checkUnrouted: what no operation matches is the fallback's 404 or 405.
func (c *Checker) checkUnrouted(req *http.Request, ex Exchange, routeErr error) error {
	where := fmt.Sprintf("%s %s -> %d", req.Method, req.URL.RequestURI(), ex.Status)
	var problems []string
	want := http.StatusNotFound
	if errors.Is(routeErr, routers.ErrMethodNotAllowed) {
		want = http.StatusMethodNotAllowed
	}
	if ex.Status != want {
		problems = append(problems, fmt.Sprintf("no operation matches (%v): want the fallback's %d", routeErr, want))
	}
	if want == http.StatusMethodNotAllowed && ex.Header.Get("Allow") == "" {
		problems = append(problems, "a 405 without Allow")
	}
	if mt := mediaType(ex.Header); mt != ContentProblem {
		problems = append(problems, fmt.Sprintf("Content-Type %q, want %s", mt, ContentProblem))
	}
	var v any
	if err := json.Unmarshal(ex.Reply, &v); err != nil {
		problems = append(problems, "the body is not JSON")
	} else if err := c.doc.Components.Schemas["Problem"].Value.VisitJSON(v, openapi3.VisitAsResponse()); err != nil {
		problems = append(problems, "the body is not a Problem: "+oneLine(err))
	}
	if code, _ := problemCode(ex.Reply); code != "not_found" && code != "method_not_allowed" {
		problems = append(problems, fmt.Sprintf("code %q, want not_found or method_not_allowed", code))
	}
	if len(problems) > 0 {
		return fmt.Errorf("openapi: %s: %s\n  response: %s", where, strings.Join(problems, "; "), truncate(ex.Reply, 300))
	}
	return nil
}

func (c *Checker) count(op string, status int, f func(*Stats)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.Exchanges++
	if op != "" {
		if c.stats.Seen[op] == nil {
			c.stats.Seen[op] = map[int]int{}
		}
		c.stats.Seen[op][status]++
	}
	f(&c.stats)
}

// authenticate is the document's security schemes as a client can check
// them: a user bearer token has the mp_ form, the operator's is any other
// bearer token. Whether a token is valid is the API's to say (401).
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return errors.New("no bearer token")
	}
	token := strings.TrimSpace(h[len(prefix):])
	isUser := strings.HasPrefix(token, users.TokenPrefix)
	switch in.SecuritySchemeName {
	case SchemeUser:
		if !isUser {
			return errors.New("not a user token")
		}
	case SchemeOperator:
		if isUser {
			return errors.New("a user token, not the operator's")
		}
	default:
		return fmt.Errorf("unknown scheme %q", in.SecuritySchemeName)
	}
	return nil
}

func mediaType(h http.Header) string {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return mt
}

func problemCode(body []byte) (string, error) {
	var p struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Code == "" {
		return "", fmt.Errorf("a problem+json body without a code: %s", truncate(body, 200))
	}
	return p.Code, nil
}

func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return s
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// Coverage lists, for every operation of the document, the statuses seen
// and whether its documented success statuses were among them.
func (s Stats) Coverage(d *openapi3.T) (lines []string, missing []string) {
	paths := d.Paths.Map()
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, p := range keys {
		for method, op := range paths[p].Operations() {
			seen := s.Seen[op.OperationID]
			var sts []int
			for st := range seen {
				sts = append(sts, st)
			}
			sort.Ints(sts)
			parts := make([]string, len(sts))
			success := false
			for i, st := range sts {
				parts[i] = fmt.Sprintf("%d×%d", st, seen[st])
				success = success || st < 300
			}
			lines = append(lines, fmt.Sprintf("%-7s %-40s %s", method, p, strings.Join(parts, " ")))
			if !success {
				missing = append(missing, method+" "+p)
			}
		}
	}
	sort.Strings(lines)
	return lines, missing
}
