package emulator

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"minipay/shared/edge/routes"
)

// OpenAPIPath is where the emulator serves Config.OpenAPI: local only (in
// the cloud no route serves it; the document names the deployed server).
const OpenAPIPath = routes.DocumentPath

// MaxPayloadBytes is API Gateway's request payload limit.
const MaxPayloadBytes = 10 << 20

// maxAuthCache bounds the authorizer cache (expired entries are dropped first).
const maxAuthCache = 10000

// Gateway answers, as API Gateway HTTP APIs phrase them. A function that
// errors, panics or returns a malformed response gets 500 Internal Server
// Error (HTTP APIs answer 500 here; REST APIs answer 502).
var (
	msgNotFound     = gatewayMessage{http.StatusNotFound, "Not Found"}
	msgUnauthorized = gatewayMessage{http.StatusUnauthorized, "Unauthorized"}
	msgForbidden    = gatewayMessage{http.StatusForbidden, "Forbidden"}
	msgTooLarge     = gatewayMessage{http.StatusRequestEntityTooLarge, "Request Entity Too Large"}
	msgInternal     = gatewayMessage{http.StatusInternalServerError, "Internal Server Error"}
	msgUnavailable  = gatewayMessage{http.StatusServiceUnavailable, "Service Unavailable"}
)

type gatewayMessage struct {
	status  int
	message string
}

func (m gatewayMessage) write(w http.ResponseWriter) int {
	b, _ := json.Marshal(map[string]string{"message": m.message})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(m.status)
	_, _ = w.Write(b)
	return m.status
}

// ServeHTTP serves the route table the way API Gateway does.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.stats.requests.Add(1)
	start := time.Now()
	reqID := newRequestID()
	w.Header().Set("Apigw-Requestid", reqID)
	status, function := e.serve(w, r, reqID)
	e.log.DebugContext(r.Context(), "emulator: request", "requestId", reqID, "method", r.Method, "path", r.URL.Path,
		"status", status, "function", function, "ms", time.Since(start).Milliseconds())
}

func (e *Emulator) serve(w http.ResponseWriter, r *http.Request, reqID string) (status int, function string) {
	if e.cfg.OpenAPI != nil && r.URL.Path == OpenAPIPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(e.cfg.OpenAPI)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(e.cfg.OpenAPI)
		}
		return http.StatusOK, ""
	}
	rt, params, ok := e.router.match(r.Method, r.URL.EscapedPath())
	if !ok {
		if e.fallback == nil {
			return msgNotFound.write(w), ""
		}
		rt = &route{Route: routes.Fallback, key: "$default"}
	}
	if m := e.throttle(rt.Route); m != nil {
		return m.write(w), rt.Function
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPayloadBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return msgTooLarge.write(w), rt.Function
		}
		return msgInternal.write(w), rt.Function
	}
	ev := e.Event(r, rt.key, params, body, reqID)

	// Like a Lambda invocation, the work goes on if the client hangs up;
	// the authorizer and the function each have the function timeout.
	base := context.WithoutCancel(r.Context())
	if rt.Route.BehindAuthorizer() {
		actx, acancel := context.WithTimeout(base, e.cfg.FunctionTimeout)
		lambdaCtx, deny := e.authorize(actx, ev)
		acancel()
		if deny != nil {
			return deny.write(w), rt.Function
		}
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: lambdaCtx}
	}
	ctx, cancel := context.WithTimeout(base, e.cfg.FunctionTimeout)
	defer cancel()
	payload, err := json.Marshal(ev)
	if err != nil {
		e.log.ErrorContext(ctx, "emulator: marshal event", "requestId", reqID, "error", err.Error())
		return msgInternal.write(w), rt.Function
	}
	out, err := e.invoke(ctx, rt.Function, e.functions[rt.Function], payload)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// Lambda ends the invocation with "Task timed out"; API Gateway
		// answers a failed invocation with 500.
		e.log.ErrorContext(ctx, "emulator: function timed out", "requestId", reqID, "function", rt.Function, "timeout", e.cfg.FunctionTimeout.String())
		return msgInternal.write(w), rt.Function
	}
	if err != nil {
		e.log.ErrorContext(ctx, "emulator: function failed", "requestId", reqID, "function", rt.Function, "error", err.Error())
		return msgInternal.write(w), rt.Function
	}
	status, err = writeResponse(w, out)
	if err != nil {
		e.log.ErrorContext(ctx, "emulator: malformed function response", "requestId", reqID, "function", rt.Function, "error", err.Error())
		return msgInternal.write(w), rt.Function
	}
	return status, rt.Function
}

// Event builds the payload format 2.0 event API Gateway would build for r,
// matched to routeKey (e.g. "POST /accounts/{id}/charges") with the path
// parameters given. requestId "" picks a new one. Exported so tests and
// tools can produce real events (e.g. for events/ samples).
func (e *Emulator) Event(r *http.Request, routeKey string, pathParams map[string]string, body []byte, requestID string) events.APIGatewayV2HTTPRequest {
	if requestID == "" {
		requestID = newRequestID()
	}
	now := e.clock.Now()
	headers, cookies := gatewayHeaders(r)
	sourceIP := r.RemoteAddr
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		sourceIP = host
	}
	addProxyHeaders(headers, r, sourceIP, len(body), now)
	hostname := r.Host
	if h, _, err := net.SplitHostPort(r.Host); err == nil {
		hostname = h
	}
	domainPrefix, _, _ := strings.Cut(hostname, ".")

	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              routeKey,
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: queryParameters(r.URL.RawQuery),
		PathParameters:        pathParams,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			AccountID:    e.cfg.AccountID,
			Stage:        "$default",
			RequestID:    requestID,
			APIID:        e.cfg.APIID,
			DomainName:   hostname,
			DomainPrefix: domainPrefix,
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	switch {
	case len(body) == 0:
	case utf8.Valid(body):
		ev.Body = string(body)
	default:
		ev.Body = base64.StdEncoding.EncodeToString(body)
		ev.IsBase64Encoded = true
	}
	return ev
}

// gatewayHeaders are the request's headers as payload 2.0 carries them:
// lower-case names, repeated values joined by commas, and the cookies
// apart, one per cookie.
func gatewayHeaders(r *http.Request) (headers map[string]string, cookies []string) {
	headers = map[string]string{}
	for name, values := range r.Header {
		lname := strings.ToLower(name)
		if lname == "cookie" {
			for _, v := range values {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[lname] = strings.Join(values, ",")
	}
	return headers, cookies
}

// addProxyHeaders adds what API Gateway adds on the way: host, the
// x-forwarded-* headers, a trace id and, for a body, its length.
func addProxyHeaders(headers map[string]string, r *http.Request, sourceIP string, bodyLen int, now time.Time) {
	proto, port := "http", "80"
	if r.TLS != nil {
		proto, port = "https", "443"
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, p, err := net.SplitHostPort(a.String()); err == nil {
			port = p
		}
	}
	if r.Host != "" {
		headers["host"] = r.Host
	}
	if prev := headers["x-forwarded-for"]; prev != "" {
		headers["x-forwarded-for"] = prev + ", " + sourceIP
	} else {
		headers["x-forwarded-for"] = sourceIP
	}
	headers["x-forwarded-proto"] = proto
	headers["x-forwarded-port"] = port
	headers["x-amzn-trace-id"] = newTraceID(now)
	if _, ok := headers["content-length"]; !ok && bodyLen > 0 {
		headers["content-length"] = strconv.Itoa(bodyLen)
	}
}

// queryParameters are the query string's parameters, repeated values
// joined by commas (nil for none).
func queryParameters(rawQuery string) map[string]string {
	if rawQuery == "" {
		return nil
	}
	values, _ := url.ParseQuery(rawQuery)
	if len(values) == 0 {
		return nil
	}
	query := make(map[string]string, len(values))
	for k, vs := range values {
		query[k] = strings.Join(vs, ",")
	}
	return query
}

// ---- authorizer ----

type cachedAuth struct {
	allowed bool
	context map[string]any
	expires time.Time
}

// authorize runs the Lambda authorizer (simple responses) with identity
// source $request.header.Authorization, caching results by that header.
// It returns the context for requestContext.authorizer.lambda, or the
// gateway answer that ends the request.
func (e *Emulator) authorize(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (map[string]any, *gatewayMessage) {
	identity := ev.Headers["authorization"]
	if identity == "" {
		// A missing identity source: API Gateway answers without invoking.
		return nil, &msgUnauthorized
	}
	now := e.clock.Now()
	if e.cfg.AuthorizerTTL > 0 {
		e.cacheMu.Lock()
		c, ok := e.cache[identity]
		e.cacheMu.Unlock()
		if ok && now.Before(c.expires) {
			e.stats.authHits.Add(1)
			return c.result()
		}
	}
	e.stats.authInvocations.Add(1)
	req := events.APIGatewayV2CustomAuthorizerV2Request{
		Version:               "2.0",
		Type:                  "REQUEST",
		RouteArn:              "arn:aws:execute-api:" + e.cfg.Region + ":" + e.cfg.AccountID + ":" + e.cfg.APIID + "/$default/" + ev.RequestContext.HTTP.Method + ev.RawPath,
		IdentitySource:        []string{identity},
		RouteKey:              ev.RouteKey,
		RawPath:               ev.RawPath,
		RawQueryString:        ev.RawQueryString,
		Cookies:               ev.Cookies,
		Headers:               ev.Headers,
		QueryStringParameters: ev.QueryStringParameters,
		RequestContext:        ev.RequestContext,
		PathParameters:        ev.PathParameters,
		StageVariables:        ev.StageVariables,
	}
	payload, err := json.Marshal(req)
	if err != nil {
		e.log.ErrorContext(ctx, "emulator: marshal authorizer event", "error", err.Error())
		return nil, &msgInternal
	}
	out, err := e.invoke(ctx, routes.AuthorizerFunction, e.authorizer, payload)
	if err != nil {
		// Not cached: the next request tries again.
		e.log.ErrorContext(ctx, "emulator: authorizer failed", "requestId", ev.RequestContext.RequestID, "error", err.Error())
		return nil, &msgInternal
	}
	var resp struct {
		IsAuthorized *bool          `json:"isAuthorized"`
		Context      map[string]any `json:"context"`
	}
	if err := json.Unmarshal(out, &resp); err != nil || resp.IsAuthorized == nil {
		e.log.ErrorContext(ctx, "emulator: authorizer returned no simple response", "requestId", ev.RequestContext.RequestID, "response", truncate(out, 200))
		return nil, &msgInternal
	}
	c := cachedAuth{allowed: *resp.IsAuthorized, context: resp.Context, expires: now.Add(e.cfg.AuthorizerTTL)}
	if e.cfg.AuthorizerTTL > 0 {
		e.cacheMu.Lock()
		if len(e.cache) >= maxAuthCache {
			for k, v := range e.cache {
				if !now.Before(v.expires) {
					delete(e.cache, k)
				}
			}
			if len(e.cache) >= maxAuthCache {
				clear(e.cache)
			}
		}
		e.cache[identity] = c
		e.cacheMu.Unlock()
	}
	return c.result()
}

func (c cachedAuth) result() (map[string]any, *gatewayMessage) {
	if !c.allowed {
		return nil, &msgForbidden
	}
	// Each request gets its own copy of the context.
	m := make(map[string]any, len(c.context))
	for k, v := range c.context {
		m[k] = v
	}
	return m, nil
}

// FlushAuthorizerCache empties the authorizer cache.
func (e *Emulator) FlushAuthorizerCache() {
	e.cacheMu.Lock()
	clear(e.cache)
	e.cacheMu.Unlock()
}

// ---- responses ----

// writeResponse writes a function's payload format 2.0 response. Valid JSON
// without a statusCode is, as in the cloud, a 200 application/json body.
func writeResponse(w http.ResponseWriter, out []byte) (int, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(out, &probe); err != nil {
		if !json.Valid(out) {
			return 0, errors.New("response is not JSON: " + truncate(out, 200))
		}
		probe = nil // a JSON string, number, array...: an inferred body
	}
	if _, ok := probe["statusCode"]; !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(out)
		return http.StatusOK, nil
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return 0, err
	}
	if resp.StatusCode < 100 || resp.StatusCode > 599 {
		return 0, errors.New("statusCode " + strconv.Itoa(resp.StatusCode) + " is not an HTTP status")
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			return 0, errors.New("isBase64Encoded but the body is not base64")
		}
		body = b
	}
	h := w.Header()
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	// Format 2.0 has no multiValueHeaders; honoured anyway, as the v2
	// response type carries the field.
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	if h.Get("Content-Type") == "" {
		h["Content-Type"] = nil // no sniffing: send what the function said
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	return resp.StatusCode, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
