package stacktest_test

// Issue 22 items 6, 7 and 10, over HTTP through the emulator: a locked-out
// user gets a new token from the operator; token changes are notified,
// tokens have an absolute lifetime, the operator can revoke every token;
// operator references and person ids are compared in one canonical form.

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"minipay/localstack/stacktest"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/config"
)

func operatorStack(t *testing.T, cfg config.Config) *stacktest.Stack {
	cfg.Registration = config.RegistrationOperator
	return stacktest.New(t, cfg)
}

func inboxTypes(t *testing.T, s *stacktest.Stack, token string) []string {
	t.Helper()
	r := s.Get(t, "/me/notifications?limit=50", token)
	if r.Status != 200 {
		t.Fatalf("inbox: %s", r.Raw)
	}
	var out []string
	for _, n := range r.Body["notifications"].([]any) {
		out = append(out, n.(map[string]any)["type"].(string))
	}
	return out
}

func count(list []string, v string) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}

// Item 6: a user whose token was revoked, expired or rotated away gets a
// new one from the operator (every older one revoked); their money is there.
func TestOperatorIssuesATokenToALockedOutUser(t *testing.T) {
	s := operatorStack(t, config.Config{TokenTTL: 48 * time.Hour})
	kim := s.Register(t, "Kim")
	s.Fund(t, kim, 30_000)
	issue := func(who string) string {
		t.Helper()
		r := s.Post(t, "/operator/users/"+who+"/tokens", stacktest.OperatorToken, "")
		tok, _ := r.Body["token"].(string)
		if r.Status != 201 || tok == "" || r.Body["userId"] != who {
			t.Fatalf("operator issue: %s", r.Raw)
		}
		return tok
	}
	works := func(token string) {
		t.Helper()
		if r := s.Get(t, "/accounts", token); r.Status != 200 {
			t.Fatalf("the new token: %s", r.Raw)
		}
		if s.Available(t, stacktest.User{ID: kim.ID, Main: kim.Main, Token: token}) != 30_000 {
			t.Fatal("the money is not there")
		}
	}
	// Revoked: locked out, re-registering the person is refused; the operator issues one.
	if r := s.Do(t, req{Method: "DELETE", Path: "/me/token", Token: kim.Token}); r.Status != 200 {
		t.Fatalf("revoke: %s", r.Raw)
	}
	s.Emulator.FlushAuthorizerCache()
	if r := s.Get(t, "/accounts", kim.Token); r.Code() != "token_revoked" {
		t.Fatalf("revoked token: %s", r.Raw)
	}
	t1 := issue(kim.ID)
	works(t1)
	// Issuing again revokes the older token (after the authorizer's cache window).
	t2 := issue(kim.ID)
	if r := s.Get(t, "/accounts", t1); r.Status != 200 {
		t.Fatalf("inside the cache window the old token still answers: %s", r.Raw)
	}
	s.Clock.Advance(routes.AuthorizerCacheTTL)
	if r := s.Get(t, "/accounts", t1); r.Code() != "token_revoked" {
		t.Fatalf("an older token after an operator issue: %s", r.Raw)
	}
	works(t2)
	// Rotated away: the rotation's new token is revoked too by the next issue.
	rot := s.Post(t, "/me/token", t2, "")
	if rot.Status != 201 {
		t.Fatalf("rotate: %s", rot.Raw)
	}
	t3 := issue(kim.ID)
	s.Emulator.FlushAuthorizerCache()
	if r := s.Get(t, "/accounts", rot.Body["token"].(string)); r.Code() != "token_revoked" {
		t.Fatalf("the rotated token after an operator issue: %s", r.Raw)
	}
	works(t3)
	// Expired.
	s.Clock.Advance(48 * time.Hour)
	s.Emulator.FlushAuthorizerCache()
	if r := s.Get(t, "/accounts", t3); r.Code() != "token_expired" {
		t.Fatalf("expired: %s", r.Raw)
	}
	if r := s.Post(t, "/me/token", t3, ""); r.Status != 401 {
		t.Fatalf("rotating an expired token: %s", r.Raw)
	}
	works(issue(kim.ID))
	// Only the operator; only users that exist.
	if r := s.Post(t, "/operator/users/"+kim.ID+"/tokens", kim.Token, ""); r.Status != 401 && r.Status != 403 {
		t.Fatalf("a user token on the operator route: %s", r.Raw)
	}
	lee := s.Register(t, "Lee")
	if r := s.Post(t, "/operator/users/"+kim.ID+"/tokens", lee.Token, ""); r.Status != 403 {
		t.Fatalf("a live user token on the operator route: %s", r.Raw)
	}
	for _, id := range []string{"u_0000000000000000", "kim"} {
		if r := s.Post(t, "/operator/users/"+id+"/tokens", stacktest.OperatorToken, ""); r.Status != 404 || r.Code() != "user_not_found" {
			t.Fatalf("issue for %s: %s", id, r.Raw)
		}
		if r := s.Do(t, req{Method: "DELETE", Path: "/operator/users/" + id + "/tokens", Token: stacktest.OperatorToken}); r.Status != 404 {
			t.Fatalf("revoke all for %s: %s", id, r.Raw)
		}
	}
}

// Item 6: DELETE /me/tokens revokes every token of the caller, the one used
// included, and says so in the inbox.
func TestUserRevokesAllTheirTokens(t *testing.T) {
	s := operatorStack(t, config.Config{})
	kim := s.Register(t, "Kim")
	r := s.Do(t, req{Method: "DELETE", Path: "/me/tokens", Token: kim.Token})
	if r.Status != 200 || stacktest.Int(r.Body["revokedTokens"]) != 1 {
		t.Fatalf("revoke all: %s", r.Raw)
	}
	s.Emulator.FlushAuthorizerCache()
	if r := s.Get(t, "/accounts", kim.Token); r.Code() != "token_revoked" {
		t.Fatalf("after revoking all: %s", r.Raw)
	}
	fresh := s.Post(t, "/operator/users/"+kim.ID+"/tokens", stacktest.OperatorToken, "")
	if fresh.Status != 201 || stacktest.Int(fresh.Body["revokedTokens"]) != 0 {
		t.Fatalf("issue after revoke all: %s", fresh.Raw)
	}
	inbox := inboxTypes(t, s, fresh.Body["token"].(string))
	if count(inbox, "tokens_revoked") != 1 || count(inbox, "token_issued") != 1 {
		t.Fatalf("inbox %v", inbox)
	}
}

// Item 7: a thief holding the owner's token rotates it and locks the owner
// out; the rotation is in the owner's inbox; the operator revokes every
// token (the thief's too) and issues the owner a new one. The thief cannot
// keep a token alive by rotating past the absolute lifetime.
func TestAStolenTokenCannotLockTheOwnerOutForGood(t *testing.T) {
	s := operatorStack(t, config.Config{TokenTTL: 48 * time.Hour, TokenMaxLifetime: 100 * time.Hour})
	kim := s.Register(t, "Kim")
	s.Fund(t, kim, 10_000)
	start := s.Clock.Now()
	stolen := s.Post(t, "/me/token", kim.Token, "") // the thief rotates
	if stolen.Status != 201 {
		t.Fatalf("thief's rotation: %s", stolen.Raw)
	}
	thief := stolen.Body["token"].(string)
	s.Clock.Advance(routes.AuthorizerCacheTTL)
	if r := s.Get(t, "/accounts", kim.Token); r.Code() != "token_revoked" {
		t.Fatalf("the owner after the thief rotated: %s", r.Raw)
	}
	// The owner asks the payment system: every token revoked, a new one issued.
	if r := s.Do(t, req{Method: "DELETE", Path: "/operator/users/" + kim.ID + "/tokens", Token: stacktest.OperatorToken}); r.Status != 200 || stacktest.Int(r.Body["revokedTokens"]) != 1 {
		t.Fatalf("operator revokes all: %s", r.Raw)
	}
	// The authorizer cache is the window: within it the thief's token still
	// answers, after it not.
	s.Clock.Advance(routes.AuthorizerCacheTTL)
	if r := s.Get(t, "/accounts", thief); r.Code() != "token_revoked" {
		t.Fatalf("the thief after the operator revoked all: %s", r.Raw)
	}
	if r := s.Post(t, "/me/token", thief, ""); r.Status != 401 {
		t.Fatalf("the thief rotating after revoke all: %s", r.Raw)
	}
	owner := s.Post(t, "/operator/users/"+kim.ID+"/tokens", stacktest.OperatorToken, "").Body["token"].(string)
	inbox := inboxTypes(t, s, owner)
	for _, want := range []string{"token_rotated", "tokens_revoked", "token_issued"} {
		if count(inbox, want) != 1 {
			t.Fatalf("inbox %v lacks %s", inbox, want)
		}
	}
	if s.Available(t, stacktest.User{ID: kim.ID, Main: kim.Main, Token: owner}) != 10_000 {
		t.Fatal("the owner's money")
	}

	// Absolute lifetime: rotating every 40 h never reaches past 100 h from
	// the issue.
	issuedAt := s.Clock.Now()
	tok := owner
	var last time.Time
	for i := 0; i < 3; i++ {
		s.Clock.Advance(40 * time.Hour)
		s.Emulator.FlushAuthorizerCache()
		r := s.Post(t, "/me/token", tok, "")
		if i == 2 { // at 120 h: the family ended at 100 h
			if r.Status != 401 || r.Code() != "token_expired" {
				t.Fatalf("rotation past the absolute lifetime: %s", r.Raw)
			}
			break
		}
		if r.Status != 201 {
			t.Fatalf("rotation %d: %s", i, r.Raw)
		}
		tok = r.Body["token"].(string)
		last, _ = time.Parse(time.RFC3339Nano, r.Body["tokenExpiresAt"].(string))
	}
	if want := issuedAt.Add(100 * time.Hour); !last.Equal(want.UTC().Truncate(time.Millisecond)) && !last.Equal(want.UTC()) {
		t.Fatalf("the last rotation expires %v, want the absolute end %v (started %v)", last, want, start)
	}
}

// Item 7: a thief rotating in a tight chain while the operator revokes
// every token: when both are done, no token of the chain works.
func TestRevokeAllRacingRotationsLeavesNoLiveToken(t *testing.T) {
	s := operatorStack(t, config.Config{})
	kim := s.Register(t, "Kim")
	var mu sync.Mutex
	var chain []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		tok := kim.Token
		for i := 0; i < 30; i++ {
			r := s.Post(t, "/me/token", tok, "")
			if r.Status != 201 {
				if r.Status != 401 {
					t.Errorf("rotation: %s", r.Raw)
				}
				return
			}
			tok = r.Body["token"].(string)
			mu.Lock()
			chain = append(chain, tok)
			mu.Unlock()
		}
	}()
	burst(4, func(int) {
		if r := s.Do(t, req{Method: "DELETE", Path: "/operator/users/" + kim.ID + "/tokens", Token: stacktest.OperatorToken}); r.Status != 200 {
			t.Errorf("revoke all: %s", r.Raw)
		}
	})
	<-done
	// Whatever interleaving happened, one more revoke-all after the chain
	// ended must leave nothing, and the chain's tokens are all dead.
	if r := s.Do(t, req{Method: "DELETE", Path: "/operator/users/" + kim.ID + "/tokens", Token: stacktest.OperatorToken}); r.Status != 200 {
		t.Fatalf("final revoke all: %s", r.Raw)
	}
	s.Emulator.FlushAuthorizerCache()
	for _, tok := range append(chain, kim.Token) {
		if r := s.Get(t, "/accounts", tok); r.Status != 401 {
			t.Fatalf("a token of the chain still works: %s", r.Raw)
		}
	}
}

// Item 10: the same reference in NFC, NFD, upper case and fullwidth is
// credited once, also when the variants race; the same for person ids.
func TestOperatorReferencesAndPersonIDsAreCanonical(t *testing.T) {
	s := operatorStack(t, config.Config{})
	kim := s.Register(t, "Kim")
	variants := []string{
		"Café-7781",       // NFC
		"Cafe\u0301-7781", // NFD
		"CAFÉ-7781",       // upper case
		"ＣＡＦＥ\u0301－７７８１", // fullwidth, decomposed
		"  café-7781 ",    // surrounding spaces
	}
	var mu sync.Mutex
	outcomes := map[string]int{}
	var firstID any
	burst(4*len(variants), func(i int) {
		body := fmt.Sprintf(`{"userId":%q,"amount":10000,"reference":%q}`, kim.ID, variants[i%len(variants)])
		r := s.Do(t, req{Method: "POST", Path: "/operator/deposits", Token: stacktest.OperatorToken, Body: body, Key: stacktest.NewKey()})
		mu.Lock()
		defer mu.Unlock()
		outcomes[r.String()]++
		if r.Status == 201 {
			firstID = r.Body["id"]
		}
	})
	if outcomes["201"] != 1 || outcomes["409 reference_already_credited"] != 4*len(variants)-1 || s.Available(t, kim) != 10_000 {
		t.Fatalf("outcomes %v, balance %d", outcomes, s.Available(t, kim))
	}
	r := s.Do(t, req{Method: "POST", Path: "/operator/deposits", Token: stacktest.OperatorToken, Key: stacktest.NewKey(),
		Body: fmt.Sprintf(`{"userId":%q,"amount":10000,"reference":"CAFE\u0301-7781"}`, kim.ID)})
	if r.Status != 409 || r.Body["movementId"] != firstID || r.Body["reference"] != "café-7781" {
		t.Fatalf("the refusal names the canonical reference and the first movement: %s", r.Raw)
	}
	// Person ids: one person, whatever the form.
	persons := []string{"KR-Müller-01", "kr-mu\u0308ller-01", "KR-MÜLLER-01", "ＫＲ-Müller-01"}
	outcomes = map[string]int{}
	burst(3*len(persons), func(i int) {
		body := fmt.Sprintf(`{"name":"Müller","personId":%q}`, persons[i%len(persons)])
		r := s.Post(t, "/users", stacktest.OperatorToken, body)
		mu.Lock()
		outcomes[r.String()]++
		mu.Unlock()
	})
	if outcomes["201"] != 1 || outcomes["409 person_already_registered"] != 3*len(persons)-1 {
		t.Fatalf("registrations %v", outcomes)
	}
	// An unassigned code point has no stable canonical form: refused.
	if r := s.Post(t, "/users", stacktest.OperatorToken, `{"name":"X","personId":"p-`+"\U000E0080"+`"}`); r.Status != 400 || !strings.Contains(r.Raw, "personId") {
		t.Fatalf("an unassigned code point: %s", r.Raw)
	}
}
