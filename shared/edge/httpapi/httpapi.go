// Package httpapi turns API Gateway HTTP API (payload 2.0) events into
// requests and responses: strict JSON decoding, the caller from the
// authorizer context, ONE table from domain error codes to problem+json
// (problems.go), and idempotent money commits (money.go).
package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"minipay/shared/edge/routes"
	"minipay/shared/edge/strictjson"
	"minipay/shared/kernel/clock"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// Services are what every function is built from, an API handler or a
// scheduled job or queue worker alike: the ledger, the table, the clock,
// the log, the configuration and the work queues.
type Services struct {
	Ledger *ledger.Ledger
	Table  *ddb.Table
	Clock  clock.Clock
	Log    *slog.Logger
	Config config.Config
	// Queue sends messages to the work queues of routes.Queues: SQS in the
	// cloud, the emulator's in-process queue locally; nil when neither is
	// wired (a job then does its work in the one invocation).
	Queue Sender
	// Authorize is the authorizer's decision for an Authorization header
	// (an authorizer context). A handler calls it for a request the
	// authorizer deferred (RoleDeferred); nil answers such a request 503.
	Authorize func(ctx context.Context, authorization string) (map[string]any, error)
}

// Sender sends one message body to the named work queue (routes.Queues).
type Sender interface {
	Send(ctx context.Context, queue, body string) error
}

// Authorizer context keys and roles, shared by the authorizer and handlers.
const (
	CtxRole      = "role"
	CtxUserID    = "userId"
	CtxName      = "name"      // the user's real name, from the token item
	CtxTokenHash = "tokenHash" // which token the request came with (rotation, revocation)
	CtxRefusal   = "refusal"   // why an anonymous token was refused: "expired", "revoked"

	RoleUser      = "user"
	RoleOperator  = "operator"
	RoleAnonymous = "anonymous" // bad token: the handler answers 401 as problem+json
	// RoleDeferred: the authorizer could not look the token up in time
	// (a slow or throttled table). API Gateway answers an authorizer that
	// fails or runs out of time with a bare 500, and caches an answer for
	// routes.AuthorizerCacheTTL, so the authorizer passes the request on
	// with nothing granted and the handler decides (Services.Authorize):
	// its own answer is the request's, 503 + Retry-After if it cannot
	// decide either.
	RoleDeferred = "deferred"
)

// MaxBodyBytes caps request bodies.
const MaxBodyBytes = 16 << 10

// Request is one API call.
type Request struct {
	Event  events.APIGatewayV2HTTPRequest
	Route  routes.Route
	Caller string // user id, or "operator"
	// CallerName is the user's real name from the authorizer context.
	CallerName string
	TokenHash  string
	Body       []byte
}

// PathParam returns a path parameter.
func (r *Request) PathParam(name string) string { return r.Event.PathParameters[name] }

// QueryParam returns a query string parameter.
func (r *Request) QueryParam(name string) string { return r.Event.QueryStringParameters[name] }

// Header returns a header (API Gateway lower-cases names in payload 2.0).
func (r *Request) Header(name string) string { return r.Event.Headers[strings.ToLower(name)] }

// HasBody reports whether the request has a non-blank body.
func (r *Request) HasBody() bool { return len(bytes.TrimSpace(r.Body)) > 0 }

// Decode reads the JSON body into v strictly: one object, no unknown or
// duplicate fields, names matched exactly, valid UTF-8, numbers kept exact.
func (r *Request) Decode(v any) error {
	if !r.HasBody() {
		return ErrBadRequest.With("the request body is empty; send a JSON object")
	}
	return decodeStrict(r.Body, v)
}

// Body is fn for a route whose request is a JSON body: the body is
// decoded into In (Decode: strictly, each self-checking field checked)
// before fn runs, so a handler's preamble is its request type.
func Body[In any](fn func(ctx context.Context, r *Request, in In) (*Response, error)) HandlerFunc {
	return func(ctx context.Context, r *Request) (*Response, error) {
		var in In
		if err := r.Decode(&in); err != nil {
			return nil, err
		}
		return fn(ctx, r, in)
	}
}

// DecodeOptional is Decode for routes whose body may be absent.
func (r *Request) DecodeOptional(v any) error {
	if !r.HasBody() {
		return nil
	}
	return decodeStrict(r.Body, v)
}

// EmptyBody is DecodeOptional for a route that takes no fields: the body
// is absent or an empty JSON object.
func (r *Request) EmptyBody() error {
	var empty struct{}
	return r.DecodeOptional(&empty)
}

// decodeStrict is shared/edge/strictjson's decoding: what every reader of the
// bytes sees is what we decode (no duplicate keys, exact names, valid UTF-8);
// then the request's self-checking members check themselves (Field).
func decodeStrict(body []byte, v any) error {
	if err := strictjson.Decode(body, v); err != nil {
		return ErrBadRequest.With("the body is not valid JSON for this endpoint: %s", err.Error())
	}
	return checkFields(v)
}

// Response is a handler's answer.
type Response struct {
	Status int
	Body   []byte // JSON
	// Replayed marks an idempotent replay of a stored response.
	Replayed bool
	Headers  map[string]string
}

// JSON builds a response from a value.
func JSON(status int, v any) (*Response, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &Response{Status: status, Body: b}, nil
}

// HandlerFunc is a minipay handler.
type HandlerFunc func(ctx context.Context, r *Request) (*Response, error)

// LambdaHandler is what a function hands to lambda.Start.
type LambdaHandler func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Handle wraps fn for the route served by function: it checks the caller
// against the route's Auth, reads the body, renders errors as problem+json
// (a 500 says nothing of the cause, which is logged) and logs one line per
// request.
func Handle(d Services, function string, fn HandlerFunc) LambdaHandler {
	route, ok := routes.ByFunction(function)
	if !ok {
		panic("httpapi: no route for function " + function)
	}
	return HandleRoute(d, route, fn)
}

// AnswerReserve is how long before its function's timeout a request still
// being worked on stops and answers 503 timed_out (with Retry-After). Cut
// off by the timeout, it would get API Gateway's 500 instead, which says
// neither "retry" nor when (a slow database under overload, the local
// stack's DynamoDB Local above all).
const AnswerReserve = time.Second

// HandleRoute is Handle for a route given directly (the fallback route).
func HandleRoute(d Services, route routes.Route, fn HandlerFunc) LambdaHandler {
	return func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		start := time.Now()
		r := &Request{Event: e, Route: route}
		work, cancel := AnswerBy(ctx)
		defer cancel()
		resp, err := serve(work, d, r, fn)
		if err != nil && work.Err() != nil && ctx.Err() == nil {
			if p, _ := ProblemOf(err); p.Status == http.StatusInternalServerError {
				err = fmt.Errorf("%w (%w)", context.DeadlineExceeded, err) // out of time, whatever the call said
			}
		}
		if err != nil {
			resp = errorResponse(r, err)
		}
		level := slog.LevelInfo
		if resp.Status >= 500 {
			level = slog.LevelError
		}
		if d.Log.Enabled(ctx, level) {
			attrs := []any{"requestId", e.RequestContext.RequestID, "route", e.RouteKey, "status", resp.Status,
				"caller", r.Caller, "ms", time.Since(start).Milliseconds()}
			if err != nil && resp.Status >= 500 {
				attrs = append(attrs, "error", err.Error())
			}
			if resp.Replayed {
				attrs = append(attrs, "replayed", true)
			}
			d.Log.Log(ctx, level, "request", attrs...)
		}
		return toEvent(resp), nil
	}
}

// AnswerBy is a request's work context: it ends AnswerReserve before
// ctx's deadline (the function's timeout), if ctx has one.
func AnswerBy(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, dl.Add(-AnswerReserve))
}

func serve(ctx context.Context, d Services, r *Request, fn HandlerFunc) (*Response, error) {
	if err := authenticate(ctx, d, r); err != nil {
		return nil, err
	}
	body := []byte(r.Event.Body)
	if r.Event.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(r.Event.Body)
		if err != nil {
			return nil, ErrBadRequest.With("the body is not valid base64")
		}
		body = b
	}
	if len(body) > MaxBodyBytes {
		return nil, ErrTooLarge.With("at most %d bytes", MaxBodyBytes)
	}
	r.Body = body
	if r.HasBody() && r.Route.Function != routes.Fallback.Function {
		if err := checkContentType(r.Header("content-type")); err != nil {
			return nil, err
		}
	}
	return fn(ctx, r)
}

// checkContentType is the one rule for bodies: a request with a body says
// it is JSON (Content-Type: application/json, charset utf-8 if any). A
// body without a Content-Type is refused like any other type: 415.
func checkContentType(ct string) error {
	if ct == "" {
		return ErrUnsupportedMedia.With("the request has a body but no Content-Type; send Content-Type: application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return ErrUnsupportedMedia.With("Content-Type %q is not application/json", ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return ErrUnsupportedMedia.With("charset %q is not utf-8", cs)
	}
	return nil
}

// authenticate checks the caller against the route's Auth, from the
// authorizer's context or, where the authorizer deferred, from the
// handler's own decision.
func authenticate(ctx context.Context, d Services, r *Request) error {
	if r.Route.Auth == routes.Public || r.Route.Auth == routes.Registration { // Registration: the handler checks the policy
		return nil
	}
	var lambda map[string]any
	if a := r.Event.RequestContext.Authorizer; a != nil {
		lambda = a.Lambda
	}
	if role, _ := lambda[CtxRole].(string); role == RoleDeferred {
		if d.Authorize == nil {
			return ErrTimedOut.With("the token could not be checked in time; retry shortly")
		}
		decided, err := d.Authorize(ctx, r.Header("authorization"))
		if err != nil {
			return fmt.Errorf("the deferred token lookup: %w", err)
		}
		lambda = decided
	}
	role, _ := lambda[CtxRole].(string)
	user, _ := lambda[CtxUserID].(string)
	refusal, _ := lambda[CtxRefusal].(string)
	switch r.Route.Auth {
	case routes.User:
		if role == RoleUser && user != "" {
			r.Caller = user
			r.CallerName, _ = lambda[CtxName].(string)
			r.TokenHash, _ = lambda[CtxTokenHash].(string)
			return nil
		}
		if role == RoleOperator {
			return ErrForbidden.With("the operator token cannot act for a user")
		}
	case routes.Operator:
		if role == RoleOperator {
			r.Caller = RoleOperator
			return nil
		}
		if role == RoleUser {
			return ErrForbidden.With("this endpoint is for the external payment system's operator token")
		}
	}
	switch refusal {
	case "expired":
		return ErrTokenExpired.With("the token expired; rotate before it expires (POST /me/token), or get a new one from the operator (POST /operator/users/{id}/tokens)")
	case "revoked":
		return ErrTokenRevoked.With("the token was revoked; use the token that replaced it, or get a new one from the operator (POST /operator/users/{id}/tokens)")
	}
	return ErrUnauthorized.With("send Authorization: Bearer <token> with a valid token")
}

func errorResponse(r *Request, err error) *Response {
	p, _ := ProblemOf(err)
	if p.Code == ErrInternal.Code {
		p.Detail = fmt.Sprintf("request %s failed; it has been logged", r.Event.RequestContext.RequestID)
	}
	return &Response{Status: p.Status, Body: p.Body(r.Event.RawPath), Headers: retryAfter(p)}
}

// retryAfter is the Retry-After header of a 503 or 429: the problem's
// retryAfterSeconds member if it has one (a rate limit says how long),
// else 1 second.
func retryAfter(p Problem) map[string]string {
	if p.Status != http.StatusServiceUnavailable && p.Status != http.StatusTooManyRequests {
		return nil
	}
	secs := int64(1)
	switch v := p.Members["retryAfterSeconds"].(type) {
	case int:
		secs = int64(v)
	case int64:
		secs = v
	}
	return map[string]string{"retry-after": fmt.Sprint(max(secs, 1))}
}

func toEvent(resp *Response) events.APIGatewayV2HTTPResponse {
	ct := "application/json"
	if resp.Status >= 400 {
		ct = "application/problem+json"
	}
	headers := map[string]string{"content-type": ct}
	for k, v := range resp.Headers {
		headers[k] = v
	}
	if resp.Replayed {
		headers["idempotent-replayed"] = "true"
	}
	if resp.Status == http.StatusServiceUnavailable && headers["retry-after"] == "" {
		headers["retry-after"] = "1"
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: resp.Status, Headers: headers, Body: string(resp.Body)}
}

// NotFound is the fallback route's handler: 405 with Allow when the path
// exists with other methods, 404 otherwise; always problem+json.
func NotFound(d Services) LambdaHandler {
	return HandleRoute(d, routes.Fallback, func(ctx context.Context, r *Request) (*Response, error) {
		path := r.Event.RawPath
		if methods := routes.MethodsFor(path); len(methods) > 0 {
			p, _ := ProblemOf(ErrMethodNotAllowed.With("%s %s: this path takes %s", r.Event.RequestContext.HTTP.Method, path, strings.Join(methods, ", ")))
			return &Response{Status: p.Status, Body: p.Body(path), Headers: map[string]string{"allow": strings.Join(methods, ", ")}}, nil
		}
		return nil, ErrNotFound.With("no route %s %s; see /openapi.json", r.Event.RequestContext.HTTP.Method, path)
	})
}
