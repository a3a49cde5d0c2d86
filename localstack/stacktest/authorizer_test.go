package stacktest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/localstack/stacktest"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
)

// slowTokens fails or stalls the token lookups (GetItem of a TOKEN# item)
// of the authorizer, of the handlers, or both.
type slowTokens struct {
	ddb.Client
	authorizer, handlers atomic.Value // "" (works), "throttle", "stall" (until the caller's deadline)
}

func (c *slowTokens) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	pk, _ := in.Key["PK"].(*types.AttributeValueMemberS)
	if pk == nil || !strings.HasPrefix(pk.Value, "TOKEN#") {
		return c.Client.GetItem(ctx, in, o...)
	}
	mode := &c.handlers
	if lc, ok := lambdacontext.FromContext(ctx); ok && strings.HasSuffix(lc.InvokedFunctionArn, ":minipay-"+routes.AuthorizerFunction) {
		mode = &c.authorizer
	}
	switch m, _ := mode.Load().(string); m {
	case "throttle":
		return nil, &types.ThrottlingException{Message: aws.String("injected: the token lookup is throttled")}
	case "stall":
		<-ctx.Done()
		return nil, fmt.Errorf("operation error DynamoDB: GetItem: %w", ctx.Err())
	}
	return c.Client.GetItem(ctx, in, o...)
}

// An authorizer that cannot look a token up in time (throttled, or still
// waiting httpapi.AnswerReserve before its timeout) passes the request on
// as deferred instead of failing, which API Gateway would answer with a
// bare 500. The handler then decides the token itself: the same answers
// as the authorizer's (a revoked token is 401 token_revoked), and where
// its own lookup fails too, 503 with Retry-After, after which a retry
// with the same Idempotency-Key moves the money once.
func TestATokenLookupOutOfTimeIsDecidedByTheHandler(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		authorizer, handlers string
		revoked              bool
		status               int
		code                 string
	}{
		{name: "authorizer throttled", authorizer: "throttle", status: 201},
		{name: "authorizer out of time", authorizer: "stall", status: 201},
		{name: "authorizer throttled, revoked token", authorizer: "throttle", revoked: true, status: 401, code: "token_revoked"},
		{name: "both throttled", authorizer: "throttle", handlers: "throttle", status: 503, code: "contention"},
		{name: "both out of time", authorizer: "stall", handlers: "stall", status: 503, code: "timed_out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slow := &slowTokens{}
			s := stacktest.New(t, config.Config{}, func(c ddb.Client) ddb.Client { slow.Client = c; return slow })
			const timeout = 2 * time.Second
			s.Emulator.SetFunctionTimeout(timeout)
			u := s.Register(t, "late")
			token := u.Token
			if tc.revoked {
				// Issued and revoked by the operator: a token the authorizer never saw (no cached answer).
				token = s.Post(t, "/operator/users/"+u.ID+"/tokens", stacktest.OperatorToken, "").Body["token"].(string)
				if r := s.Do(t, stacktest.Request{Method: "DELETE", Path: "/operator/users/" + u.ID + "/tokens", Token: stacktest.OperatorToken}); r.Status != 200 {
					t.Fatalf("revoke: %d %s", r.Status, r.Raw)
				}
			}
			charge := stacktest.Request{Method: "POST", Path: "/accounts/" + u.Main + "/charges", Token: token,
				Body: `{"amount":10000}`, Key: stacktest.NewKey()}

			slow.authorizer.Store(tc.authorizer)
			slow.handlers.Store(tc.handlers)
			r := s.Do(t, charge)
			if r.Status != tc.status || r.Code() != tc.code {
				t.Fatalf("deferred: %d %s; want %d %q", r.Status, r.Raw, tc.status, tc.code)
			}
			if r.Status == 503 && r.Header.Get("Retry-After") == "" {
				t.Fatalf("503 without Retry-After: %v", r.Header)
			}
			slow.handlers.Store("")
			if r = s.Do(t, charge); !tc.revoked && r.Status != 201 {
				t.Fatalf("retry with the handler's lookup working (the authorizer's answer cached as deferred): %d %s", r.Status, r.Raw)
			}
			want := int64(10_000)
			if tc.revoked {
				want = 0
				u.Token = s.Post(t, "/operator/users/"+u.ID+"/tokens", stacktest.OperatorToken, "").Body["token"].(string)
			}
			if got := s.Available(t, u); got != want {
				t.Fatalf("available %d, want %d: the charge moved other than once", got, want)
			}
		})
	}
}

// Many requests at once while the authorizer defers every one: each
// handler decides its own token, and every charge lands exactly once.
func TestConcurrentRequestsDeferredByTheAuthorizer(t *testing.T) {
	slow := &slowTokens{}
	s := stacktest.New(t, config.Config{}, func(c ddb.Client) ddb.Client { slow.Client = c; return slow })
	users := make([]stacktest.User, 4)
	for i := range users {
		users[i] = s.Register(t, fmt.Sprint("u", i))
	}
	slow.authorizer.Store("throttle")
	const each = 8
	var wg sync.WaitGroup
	for _, u := range users {
		for i := 0; i < each; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := stacktest.Request{Method: "POST", Path: "/accounts/" + u.Main + "/charges", Token: u.Token, Body: `{"amount":10000}`, Key: stacktest.NewKey()}
				for try := 0; try < 20; try++ {
					r := s.Do(t, req)
					if r.Status == 201 {
						return
					}
					if r.Status != 503 {
						t.Errorf("%s: %d %s", u.Name, r.Status, r.Raw)
						return
					}
				}
				t.Errorf("%s: still 503 after 20 tries", u.Name)
			}()
		}
	}
	wg.Wait()
	for _, u := range users {
		if got := s.Available(t, u); got != each*10_000 {
			t.Errorf("%s: available %d, want %d", u.Name, got, each*10_000)
		}
	}
}
