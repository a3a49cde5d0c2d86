package emulator_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/localstack/ddbtest"
	"minipay/localstack/emulator"
	"minipay/shared/capabilities/users"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
	"minipay/shared/wiring/app"
)

const operatorToken = "test-operator-token"

type stack struct {
	t   *testing.T
	env *ddbtest.Env
	em  *emulator.Emulator
	url string
}

// newStack is the real thing on a fresh table: app.Handlers, the real route
// and schedule tables, the emulator on an httptest server.
func newStack(t *testing.T) *stack {
	t.Helper()
	env := ddbtest.New(t)
	deps, err := app.NewServices(env.DB, config.Config{Table: env.Name, OperatorTokenSHA256: users.TokenHash(operatorToken)}, env.Clock, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	em, err := emulator.New(emulator.Config{
		Handlers: app.Handlers(deps), Routes: routes.Routes, Schedules: routes.Schedules,
		Clock: env.Clock, Log: quietLog(), Sweeper: env.TTLSweeper(),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(em)
	t.Cleanup(srv.Close)
	return &stack{t: t, env: env, em: em, url: srv.URL}
}

func (s *stack) call(method, path, token, body string, header ...string) (int, map[string]any) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		s.t.Fatalf("%s %s: %d %q is not a JSON object", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func TestEndToEnd(t *testing.T) {
	s := newStack(t)
	status, reg := s.call("POST", "/users", "", `{"name":"Kim"}`)
	if status != http.StatusCreated {
		t.Fatalf("register: %d %v", status, reg)
	}
	token, _ := reg["token"].(string)
	main, _ := reg["mainAccount"].(map[string]any)
	mainID, _ := main["id"].(string)
	if token == "" || mainID == "" {
		t.Fatalf("register answered %v", reg)
	}

	// Two reads with the token: one authorizer run, one cache hit.
	for i := 0; i < 2; i++ {
		status, out := s.call("GET", "/accounts", token, "")
		accts, _ := out["accounts"].([]any)
		if status != http.StatusOK || len(accts) != 1 {
			t.Fatalf("list accounts: %d %v", status, out)
		}
	}
	st := s.em.Stats()
	if st.AuthorizerInvocations != 1 || st.AuthorizerCacheHits != 1 {
		t.Errorf("authorizer runs %d, cache hits %d; want 1 and 1", st.AuthorizerInvocations, st.AuthorizerCacheHits)
	}

	tests := []struct {
		name         string
		method, path string
		token, body  string
		header       []string
		status       int
		field, value string // a field of the answer to check
	}{
		{"no token: the gateway answers", "GET", "/accounts", "", "", nil, 401, "message", "Unauthorized"},
		{"unknown token: the handler answers problem+json", "GET", "/accounts", "mp_0000", "", nil, 401, "code", ""},
		{"operator token on a user route", "GET", "/accounts", operatorToken, "", nil, 403, "status", ""},
		{"charge", "POST", "/accounts/" + mainID + "/charges", token, `{"amount":10000}`, []string{"Idempotency-Key", "k1"}, 201, "type", "charge"},
		{"charge replayed", "POST", "/accounts/" + mainID + "/charges", token, `{"amount":10000}`, []string{"Idempotency-Key", "k1"}, 201, "type", "charge"},
		{"balance", "GET", "/accounts/" + mainID, token, "", nil, 200, "id", mainID},
		{"unknown route: the $default route answers problem+json", "GET", "/nothing", token, "", nil, 404, "code", "not_found"},
		{"known path, other method: 405", "DELETE", "/accounts", token, "", nil, 405, "code", "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := s.call(tt.method, tt.path, tt.token, tt.body, tt.header...)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, out)
			}
			if v, ok := out[tt.field]; !ok || tt.value != "" && v != tt.value {
				t.Errorf("%s = %v, want %q", tt.field, v, tt.value)
			}
		})
	}
	_, acct := s.call("GET", "/accounts/"+mainID, token, "")
	if acct["balance"] != float64(10000) {
		t.Errorf("balance after one charge (and its replay): %v", acct["balance"])
	}
}

// TestSweeper checks that the TTL sweep deletes expired items and nothing
// else: a charge leaves a daily-limit counter (expires 3 days after the KST
// day) and an idempotency record (48 hours); history entries live a year.
func TestSweeper(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	_, reg := s.call("POST", "/users", "", `{"name":"Lee"}`)
	token := reg["token"].(string)
	mainID := reg["mainAccount"].(map[string]any)["id"].(string)
	if status, out := s.call("POST", "/accounts/"+mainID+"/charges", token, `{"amount":5000}`, "Idempotency-Key", "c1"); status != 201 {
		t.Fatalf("charge: %d %v", status, out)
	}
	before := s.sortKeys()

	if n, err := s.em.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep with nothing expired: %d %v", n, err)
	}
	s.env.Clock.Advance(49 * time.Hour) // the idempotency record has expired
	if n, err := s.em.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep after 49h: %d %v, want 1", n, err)
	}
	s.env.Clock.Advance(5 * 24 * time.Hour) // and now the daily-limit counter
	if n, err := s.em.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep after a week: %d %v, want 1", n, err)
	}
	if n, err := s.em.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep again: %d %v, want 0", n, err)
	}
	if st := s.em.Stats(); st.Swept != 2 {
		t.Errorf("Stats.Swept %d", st.Swept)
	}

	after := s.sortKeys()
	var gone []string
	kept := map[string]bool{}
	for _, k := range after {
		kept[k] = true
	}
	for _, k := range before {
		if !kept[k] {
			gone = append(gone, k)
		}
	}
	if len(gone) != 2 || !strings.HasPrefix(gone[0], "IDEM") || !strings.HasPrefix(gone[1], "LIMIT#") {
		t.Fatalf("swept %v; want the IDEM record and the LIMIT# counter only", gone)
	}
	if len(after) != len(before)-2 {
		t.Fatalf("%d items before, %d after", len(before), len(after))
	}
	// The user still works (token, accounts, history survive).
	s.em.FlushAuthorizerCache()
	status, out := s.call("GET", "/accounts/"+mainID+"/entries", token, "")
	if entries, _ := out["entries"].([]any); status != 200 || len(entries) != 1 {
		t.Fatalf("history after the sweep: %d %v", status, out)
	}
}

// sortKeys lists every item's SK (test-only inspection of the table).
func (s *stack) sortKeys() []string {
	s.t.Helper()
	out, err := ddbtest.Client().Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(s.env.Name), ConsistentRead: aws.Bool(true)})
	if err != nil {
		s.t.Fatal(err)
	}
	var keys []string
	for _, item := range out.Items {
		if sk, ok := item[ddb.AttrSK].(*types.AttributeValueMemberS); ok {
			keys = append(keys, sk.Value)
		}
	}
	sort.Strings(keys)
	return keys
}
