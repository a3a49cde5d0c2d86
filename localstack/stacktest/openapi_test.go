package stacktest_test

// The OpenAPI document over HTTP (issue 11): served by the emulator, and
// the API Gateway's own answers are documented responses too. (Every
// exchange of every stack test is validated against the document by
// stacktest.Do itself.)

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"minipay/localstack/stacktest"
	"minipay/shared/wiring/openapi"
)

func TestTheEmulatorServesTheDocument(t *testing.T) {
	s := newStack(t)
	r := s.Get(t, "/openapi.json", "")
	want, err := openapi.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/json" || !bytes.Equal([]byte(r.Raw), want) {
		t.Fatalf("GET /openapi.json: %d %s, %d bytes", r.Status, r.Header.Get("Content-Type"), len(r.Raw))
	}
	d, err := openapi3.NewLoader().LoadFromData([]byte(r.Raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Any other method is no route of the API.
	if r := s.Do(t, req{Method: "POST", Path: "/openapi.json", Body: "{}"}); r.Status != 404 || r.Code() != "not_found" {
		t.Fatalf("POST /openapi.json: %s", r.Raw)
	}
}

func TestTheGatewaysOwnAnswersAreDocumented(t *testing.T) {
	s := newStack(t)
	kim := s.Register(t, "Kim")
	before := s.OpenAPI.Stats().Gateway
	// No Authorization header: API Gateway answers without the authorizer.
	if r := s.Get(t, "/accounts", ""); r.Status != 401 || r.Raw != `{"message":"Unauthorized"}` {
		t.Fatalf("no token: %d %s", r.Status, r.Raw)
	}
	// Above API Gateway's 10 MB payload limit: its own 413; above the
	// function's 16 KB: the problem.
	huge := `{"to":"` + kim.ID + `","amount":1,"memo":"` + strings.Repeat("x", 10<<20) + `"}`
	if r := s.Post(t, "/transfers", kim.Token, huge); r.Status != 413 || !strings.Contains(r.Raw, `"message"`) {
		t.Fatalf("10 MB: %d %.200s", r.Status, r.Raw)
	}
	big := `{"to":"` + kim.ID + `","amount":1,"memo":"` + strings.Repeat("x", 20<<10) + `"}`
	if r := s.Post(t, "/transfers", kim.Token, big); r.Status != 413 || r.Code() != "body_too_large" {
		t.Fatalf("20 KB: %d %.200s", r.Status, r.Raw)
	}
	if got := s.OpenAPI.Stats().Gateway - before; got != 2 {
		t.Fatalf("%d gateway answers validated, want 2", got)
	}
}

// Every operation of the document is exercised with a success somewhere:
// TestGrantedActionsAreTheActionsUsed drives every route; this names what
// the whole run validated.
func requireEveryOperation(t *testing.T, s *stacktest.Stack) {
	t.Helper()
	d, err := openapi.Strict()
	if err != nil {
		t.Fatal(err)
	}
	if _, missing := s.OpenAPI.Stats().Coverage(d); len(missing) > 0 {
		t.Errorf("operations without a validated 2xx exchange: %v", missing)
	}
}
