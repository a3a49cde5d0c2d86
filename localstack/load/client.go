package load

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
	"strings"
	"sync/atomic"
	"time"

	"minipay/shared/edge/apispec"
	"minipay/shared/edge/routes"
	"minipay/shared/wiring/openapi"
)

// client sends the journeys' requests. A request names its route by the
// route table's function, so its method, path and Idempotency-Key come
// from routes.Routes and its expected statuses from the operation's
// apispec entry: a journey cannot drift from the API it loads.
type client struct {
	base  string
	http  *http.Client
	run   string // makes Idempotency-Keys unique to this run
	seq   atomic.Int64
	rec   *recorder
	check *openapi.Checker // nil: responses are not validated against the document
	// cut is set when the run cancels the journeys still running (the
	// knee's end): their requests' failures are the cut's, not recorded.
	cut atomic.Bool
}

// call is one request of a journey.
type call struct {
	step     int    // the Steps index it is recorded under; -1: setup (not recorded)
	function string // the route's function
	params   []string
	query    string
	token    string
	body     any
	out      any          // the success body is decoded into it
	verify   func() error // after out is decoded: the step's own checks
}

// errCheck marks a failed check (a response that was not the expected one).
var errCheck = errors.New("check failed")

// do sends c and checks its response: an expected status (the operation's
// documented success statuses), a JSON body that decodes into c.out, the
// document's schema when the client validates, and c.verify. Any failure
// is recorded against the step and returned.
func (cl *client) do(ctx context.Context, c call) error {
	r, ok := routes.ByFunction(c.function)
	if !ok {
		return fmt.Errorf("load: no route for function %q", c.function)
	}
	op, ok := apispec.Get(c.function)
	if !ok {
		return fmt.Errorf("load: no apispec entry for %q", c.function)
	}
	path, err := fill(r.Path, c.params)
	if err != nil {
		return err
	}
	if c.query != "" {
		path += "?" + c.query
	}
	var body []byte
	if c.body != nil {
		if body, err = json.Marshal(c.body); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, cl.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if r.MovesMoney {
		req.Header.Set("Idempotency-Key", fmt.Sprintf("load-%s-%d", cl.run, cl.seq.Add(1)))
	}

	var at time.Duration
	if c.step >= 0 {
		at = cl.rec.begin()
	}
	sent := time.Now()
	status, header, reply, err := cl.send(req)
	took := time.Since(sent)
	reason := ""
	if err != nil {
		reason = "transport: " + shorten(err.Error())
	} else {
		reason = cl.verify(ctx, req, body, status, header, reply, op, c)
	}
	if c.step >= 0 {
		if reason != "" && ctx.Err() != nil && cl.cut.Load() {
			cl.rec.abandon(at)
		} else {
			cl.rec.end(c.step, at, took, reason)
		}
	}
	if reason != "" {
		return fmt.Errorf("%w: %s %s: %s", errCheck, r.Method, path, reason)
	}
	return nil
}

func (cl *client) send(req *http.Request) (int, http.Header, []byte, error) {
	resp, err := cl.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, reply, nil
}

// verify returns "" or why the response is not the expected one.
func (cl *client) verify(ctx context.Context, req *http.Request, body []byte, status int, header http.Header, reply []byte, op apispec.Op, c call) string {
	if cl.check != nil {
		if err := cl.check.Check(ctx, openapi.Exchange{Request: req, Body: body, Status: status, Header: header, Reply: reply}); err != nil {
			return shorten(err.Error())
		}
	}
	want := append([]int{op.Status}, op.OtherStatuses...)
	if !slices.Contains(want, status) {
		return fmt.Sprintf("status %d%s (want %v)", status, problemCode(reply), want)
	}
	if mt, _, _ := mime.ParseMediaType(header.Get("Content-Type")); mt != "application/json" {
		return fmt.Sprintf("content-type %q", header.Get("Content-Type"))
	}
	if c.out != nil {
		if err := json.Unmarshal(reply, c.out); err != nil {
			return "body: " + shorten(err.Error())
		}
	}
	if c.verify != nil {
		if err := c.verify(); err != nil {
			return "check: " + err.Error()
		}
	}
	return ""
}

// problemCode is " <code>" of a problem+json body (or the gateway's message).
func problemCode(reply []byte) string {
	var p struct{ Code, Message string }
	if json.Unmarshal(reply, &p) != nil {
		return ""
	}
	if p.Code != "" {
		return " " + p.Code
	}
	if p.Message != "" {
		return fmt.Sprintf(" %q", p.Message)
	}
	return ""
}

// fill puts the parameters into the path's {placeholders}, in order.
func fill(path string, params []string) (string, error) {
	var b strings.Builder
	n := 0
	for rest := path; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("load: bad path %q", path)
		}
		if n == len(params) {
			return "", fmt.Errorf("load: path %s needs more than %d parameters", path, len(params))
		}
		b.WriteString(rest[:i])
		b.WriteString(params[n])
		n++
		rest = rest[i+j+1:]
	}
	if n != len(params) {
		return "", fmt.Errorf("load: path %s takes %d parameters, not %d", path, n, len(params))
	}
	return b.String(), nil
}

func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}

// expect is a check helper: an error unless ok.
func expect(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf(format, args...)
}
