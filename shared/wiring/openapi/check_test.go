package openapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

const server = "http://127.0.0.1:1"

func exchange(method, path, token, key, body string, status int, ct, reply string, header ...string) Exchange {
	req, _ := http.NewRequest(method, server+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	h := http.Header{"Content-Type": {ct}}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return Exchange{Request: req, Body: []byte(body), Status: status, Header: h, Reply: []byte(reply)}
}

const (
	userToken = "mp_0123"
	movement  = `{"id":"01m","type":"transfer","from":"m_a","to":"u_b","toAccount":"m_b","amount":5,"autoCharged":0,"createdAt":"2026-11-22T01:00:00Z","status":"completed"}`
)

func problem(code string, status int, extra string) string {
	return `{"type":"urn:minipay:problem:` + code + `","title":"t","status":` + strconv.Itoa(status) + `,"code":"` + code + `"` + extra + `}`
}

func TestCheckerRules(t *testing.T) {
	c, err := NewChecker(server)
	if err != nil {
		t.Fatal(err)
	}
	transfer := `{"to":"u_b","amount":5}`
	tests := []struct {
		name string
		ex   Exchange
		want string // "" valid; else a part of the error
	}{
		{"a documented exchange", exchange("GET", "/accounts", userToken, "", "", 200, ContentJSON, `{"accounts":[]}`), ""},
		{"an undocumented response member", exchange("GET", "/accounts", userToken, "", "", 200, ContentJSON, `{"accounts":[],"extra":1}`),
			"does not match the document"},
		{"a wrong member type", exchange("POST", "/transfers", userToken, "k", transfer, 201, ContentJSON,
			strings.Replace(movement, `"amount":5`, `"amount":"5"`, 1)), "does not match the document"},
		{"a money movement", exchange("POST", "/transfers", userToken, "k", transfer, 201, ContentJSON, movement), ""},
		{"a replay", exchange("POST", "/transfers", userToken, "k", transfer, 201, ContentJSON, movement, "Idempotent-Replayed", "true"), ""},
		{"a listed refusal with its members", exchange("POST", "/transfers", userToken, "k", transfer, 422, ContentProblem,
			problem("insufficient_funds", 422, `,"available":3,"detail":"d","instance":"/transfers"`)), ""},
		{"a code the operation does not list", exchange("POST", "/transfers", userToken, "k", transfer, 422, ContentProblem,
			problem("room_full", 422, "")), "is not one the document lists"},
		{"an undocumented status", exchange("GET", "/accounts", userToken, "", "", 404, ContentProblem, problem("account_not_found", 404, "")),
			"status is not supported"},
		{"no Idempotency-Key, refused", exchange("POST", "/transfers", userToken, "", transfer, 400, ContentProblem,
			problem("idempotency_key_required", 400, "")), ""},
		{"no Idempotency-Key, yet taken", exchange("POST", "/transfers", userToken, "", transfer, 201, ContentJSON, movement),
			"the document refuses the request"},
		{"an unknown body member, yet taken", exchange("POST", "/transfers", userToken, "k", `{"to":"u_b","amount":5,"x":1}`, 201, ContentJSON, movement),
			"the document refuses the request"},
		{"a fractional amount, refused", exchange("POST", "/transfers", userToken, "k", `{"to":"u_b","amount":1.5}`, 400, ContentProblem,
			problem("invalid_field", 400, `,"field":"amount"`)), ""},
		{"the operator token on a user route, refused", exchange("GET", "/accounts", "operator-secret", "", "", 403, ContentProblem,
			problem("forbidden", 403, "")), ""},
		{"the gateway's 401 without a token", exchange("GET", "/accounts", "", "", "", 401, ContentJSON, `{"message":"Unauthorized"}`), ""},
		{"open registration without a token", exchange("POST", "/users", "", "", `{"name":"Kim"}`, 201, ContentJSON,
			`{"mainAccount":{"id":"m_a","kind":"main","balance":0,"held":0,"available":0,"createdAt":"2026-11-22T01:00:00Z"},`+
				`"token":"mp_x","tokenExpiresAt":"2026-11-22T01:00:00Z","tokenNote":"n","user":{"id":"u_a","name":"Kim","createdAt":"2026-11-22T01:00:00Z"}}`), ""},
		{"an empty query value", exchange("GET", "/transfers?cursor=&limit=", userToken, "", "", 200, ContentJSON, `{"transfers":[]}`), ""},
		{"a limit out of range, yet taken", exchange("GET", "/transfers?limit=500", userToken, "", "", 200, ContentJSON, `{"transfers":[]}`),
			"the document refuses the request"},
		{"a notification's data members", exchange("GET", "/me/notifications", userToken, "", "", 200, ContentJSON,
			`{"notifications":[{"id":"n","type":"transfer_accepted","at":"2026-11-22T01:00:00Z","amount":5,"from":"u_a"}]}`), ""},
		{"the fallback's 404", exchange("GET", "/nothing", "", "", "", 404, ContentProblem, problem("not_found", 404, `,"detail":"d","instance":"/nothing"`)), ""},
		{"the fallback's 405", exchange("PUT", "/transfers", "", "", "", 405, ContentProblem, problem("method_not_allowed", 405, ""), "Allow", "GET, POST"), ""},
		{"a 405 without Allow", exchange("PUT", "/transfers", "", "", "", 405, ContentProblem, problem("method_not_allowed", 405, "")), "without Allow"},
		{"an unknown path answered 200", exchange("GET", "/nothing", "", "", "", 200, ContentJSON, `{}`), "want the fallback's 404"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Check(context.Background(), tc.ex)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("want an error with %q, got %v", tc.want, err)
			}
		})
	}
	s := c.Stats()
	if s.Exchanges != len(tests) || s.Unrouted != 4 || s.Gateway != 1 || s.Seen["transfer"][201] == 0 {
		t.Fatalf("stats %+v", s)
	}
}

// What validating one exchange costs (the stack tests do it for every
// request).
func BenchmarkCheck(b *testing.B) {
	c, err := NewChecker(server)
	if err != nil {
		b.Fatal(err)
	}
	ex := exchange("POST", "/transfers", userToken, "k", `{"to":"u_b","amount":5}`, 201, ContentJSON, movement)
	for b.Loop() {
		if err := c.Check(context.Background(), ex); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	for b.Loop() {
		if _, err := Build(true); err != nil {
			b.Fatal(err)
		}
	}
}
