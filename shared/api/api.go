// Package api turns API Gateway HTTP API (payload 2.0) events into requests
// and responses: strict JSON decoding, problem+json errors, the caller from
// the authorizer context, and idempotent money commits.
package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"minipay/shared/clock"
	"minipay/shared/problem"
	"minipay/shared/routes"
	"minipay/shared/store"
)

// Deps is what every handler is built from.
type Deps struct {
	Store *store.Store
	Clock clock.Clock
	Log   *slog.Logger
	// OperatorTokenSHA256 is the hex sha256 of the operator token (authorizer only).
	OperatorTokenSHA256 string
}

// Authorizer context keys and roles, shared by the authorizer and handlers.
const (
	CtxRole   = "role"
	CtxUserID = "userId"
	CtxName   = "name" // the user's real name, from the token item

	RoleUser      = "user"
	RoleOperator  = "operator"
	RoleAnonymous = "anonymous" // bad token: the handler answers 401 as problem+json
)

// MaxBodyBytes caps request bodies.
const MaxBodyBytes = 16 << 10

// Request is one API call.
type Request struct {
	Event  events.APIGatewayV2HTTPRequest
	Route  routes.Route
	Caller string // user id, or "operator"
	// CallerName is the user's real name from the authorizer context ("" if
	// the context has none, e.g. a token issued before names were stored).
	CallerName string
	Body       []byte
}

// PathParam returns a path parameter.
func (r *Request) PathParam(name string) string { return r.Event.PathParameters[name] }

// QueryParam returns a query string parameter.
func (r *Request) QueryParam(name string) string { return r.Event.QueryStringParameters[name] }

// Header returns a header (API Gateway lower-cases names in payload 2.0).
func (r *Request) Header(name string) string { return r.Event.Headers[strings.ToLower(name)] }

// Decode reads the JSON body into v strictly: one object, no unknown
// fields, numbers kept exact (json.Number) for amount validation.
func (r *Request) Decode(v any) error {
	if len(bytes.TrimSpace(r.Body)) == 0 {
		return problem.BadRequest.With("the request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return problem.BadRequest.With("the body is not valid JSON for this endpoint: %s", jsonError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return problem.BadRequest.With("the body must hold exactly one JSON object")
	}
	return nil
}

func jsonError(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.Is(err, errNotNumber) {
		return err.Error()
	}
	if errors.As(err, &typeErr) {
		return fmt.Sprintf("field %q must be %s", typeErr.Field, typeErr.Type.String())
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// Response is a handler's answer.
type Response struct {
	Status int
	Body   []byte // JSON
	// Replayed marks an idempotent replay of a stored response.
	Replayed bool
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
func Handle(d Deps, function string, fn HandlerFunc) LambdaHandler {
	route, ok := routes.ByFunction(function)
	if !ok {
		panic("api: no route for function " + function)
	}
	return func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		start := time.Now()
		r := &Request{Event: e, Route: route}
		resp, err := serve(ctx, d, r, fn)
		if err != nil {
			resp = errorResponse(d, r, err)
		}
		level := slog.LevelInfo
		if resp.Status >= 500 {
			level = slog.LevelError
		}
		attrs := []any{"requestId", e.RequestContext.RequestID, "route", e.RouteKey, "status", resp.Status,
			"caller", r.Caller, "ms", time.Since(start).Milliseconds()}
		if err != nil && resp.Status >= 500 {
			attrs = append(attrs, "error", err.Error())
		}
		if resp.Replayed {
			attrs = append(attrs, "replayed", true)
		}
		d.Log.Log(ctx, level, "request", attrs...)
		return toEvent(resp), nil
	}
}

func serve(ctx context.Context, d Deps, r *Request, fn HandlerFunc) (*Response, error) {
	if err := authenticate(r); err != nil {
		return nil, err
	}
	body := []byte(r.Event.Body)
	if r.Event.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(r.Event.Body)
		if err != nil {
			return nil, problem.BadRequest.With("the body is not valid base64")
		}
		body = b
	}
	if len(body) > MaxBodyBytes {
		return nil, problem.TooLarge.With("at most %d bytes", MaxBodyBytes)
	}
	if ct := r.Header("content-type"); len(body) > 0 && ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return nil, problem.UnsupportedMedia.With("Content-Type %q is not application/json", ct)
	}
	r.Body = body
	return fn(ctx, r)
}

func authenticate(r *Request) error {
	lambdaCtx := r.Event.RequestContext.Authorizer
	var role, user string
	if lambdaCtx != nil {
		role, _ = lambdaCtx.Lambda[CtxRole].(string)
		user, _ = lambdaCtx.Lambda[CtxUserID].(string)
	}
	switch r.Route.Auth {
	case routes.Public:
		return nil
	case routes.User:
		if role == RoleUser && user != "" {
			r.Caller = user
			r.CallerName, _ = lambdaCtx.Lambda[CtxName].(string)
			return nil
		}
		if role == RoleOperator {
			return problem.Forbidden.With("the operator token cannot act for a user")
		}
	case routes.Operator:
		if role == RoleOperator {
			r.Caller = RoleOperator
			return nil
		}
		if role == RoleUser {
			return problem.Forbidden.With("this endpoint is for the external payment system's operator token")
		}
	}
	return problem.Unauthorized.With("send Authorization: Bearer <token> with a valid token")
}

func errorResponse(d Deps, r *Request, err error) *Response {
	p, ok := problem.As(err)
	if !ok || p.Status >= 500 && p.Code == problem.Internal.Code {
		p = problem.Internal.With("request %s failed; it has been logged", r.Event.RequestContext.RequestID)
	}
	return &Response{Status: p.Status, Body: ProblemBody(p, r.Event.RawPath)}
}

// ProblemBody renders RFC 9457 problem details with minipay's extension
// members (code, and any extras such as remainingToday).
func ProblemBody(p *problem.Problem, instance string) []byte {
	m := map[string]any{}
	for k, v := range p.Extra {
		m[k] = v
	}
	m["type"] = "urn:minipay:problem:" + p.Code
	m["title"] = p.Title
	m["status"] = p.Status
	m["code"] = p.Code
	if p.Detail != "" {
		m["detail"] = p.Detail
	}
	if instance != "" {
		m["instance"] = instance
	}
	b, _ := json.Marshal(m)
	return b
}

func toEvent(resp *Response) events.APIGatewayV2HTTPResponse {
	ct := "application/json"
	if resp.Status >= 400 {
		ct = "application/problem+json"
	}
	headers := map[string]string{"content-type": ct}
	if resp.Replayed {
		headers["idempotent-replayed"] = "true"
	}
	if resp.Status == http.StatusServiceUnavailable {
		headers["retry-after"] = "1"
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: resp.Status, Headers: headers, Body: string(resp.Body)}
}
