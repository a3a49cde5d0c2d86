// Package auth is the Lambda authorizer (HTTP API, simple responses) for
// Authorization: Bearer <token>.
package auth

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"minipay/shared/capabilities/users"
	"minipay/shared/edge/httpapi"
)

// Handler is the authorizer. It always answers "authorized" with a role in
// the context: user (with userId, name and the token's hash), operator, or
// anonymous (with the reason, for an expired or revoked token) for a token
// that works for nothing. Handlers then answer a bad token with a 401
// problem+json instead of API Gateway's bare 403. API Gateway caches the
// answer per Authorization header for routes.AuthorizerCacheTTL, so a cached
// request costs no token lookup, and a revoked token works at most that
// long. A lookup that fails or is still running httpapi.AnswerReserve
// before the timeout answers deferred (httpapi.RoleDeferred): the handler
// decides with Decide, where a failure is its 503, never the gateway's 500.
func Handler(d httpapi.Services) func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	decide := Decide(d)
	return func(ctx context.Context, e events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		work, cancel := httpapi.AnswerBy(ctx)
		defer cancel()
		c, err := decide(work, e.Headers["authorization"])
		if err != nil {
			d.Log.WarnContext(ctx, "authorizer: token lookup failed; deferred to the handler", slog.String("error", err.Error()))
			c = map[string]any{httpapi.CtxRole: httpapi.RoleDeferred}
		}
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: c}, nil
	}
}

// Decide is the authorizer's decision for an Authorization header, as the
// authorizer context it passes on; the wiring gives it to handlers as
// httpapi.Services.Authorize for the requests the authorizer deferred.
func Decide(d httpapi.Services) func(ctx context.Context, authorization string) (map[string]any, error) {
	operator := []byte(strings.ToLower(d.Config.OperatorTokenSHA256))
	return func(ctx context.Context, authorization string) (map[string]any, error) {
		token := bearer(authorization)
		anonymous := func(reason string) map[string]any {
			c := map[string]any{httpapi.CtxRole: httpapi.RoleAnonymous}
			if reason != "" {
				c[httpapi.CtxRefusal] = reason
			}
			return c
		}
		if token == "" {
			return anonymous(""), nil
		}
		if len(operator) > 0 && subtle.ConstantTimeCompare([]byte(users.TokenHash(token)), operator) == 1 {
			return map[string]any{httpapi.CtxRole: httpapi.RoleOperator}, nil
		}
		if !strings.HasPrefix(token, users.TokenPrefix) || len(token) > 200 {
			return anonymous(""), nil
		}
		owner, err := users.Lookup(ctx, d.Table, token, d.Clock.Now())
		if err != nil {
			return nil, err
		}
		switch owner.State {
		case users.TokenUnknown:
			return anonymous(""), nil
		case users.TokenExpired:
			return anonymous("expired"), nil
		case users.TokenRevoked:
			return anonymous("revoked"), nil
		}
		c := map[string]any{httpapi.CtxRole: httpapi.RoleUser, httpapi.CtxUserID: owner.UserID, httpapi.CtxTokenHash: owner.Hash}
		if owner.Name != "" {
			c[httpapi.CtxName] = owner.Name
		}
		return c, nil
	}
}

func bearer(h string) string {
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return ""
	}
	return strings.TrimSpace(h[len(prefix):])
}
