// Package auth is the Lambda authorizer (HTTP API, simple responses) for
// Authorization: Bearer <token>.
package auth

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"minipay/shared/api"
	"minipay/shared/store"
)

// Handler is the authorizer. It always answers "authorized" with a role in
// the context: user (with userId and name), operator, or anonymous for a token that
// matches nothing. Handlers then answer a bad token with a 401 problem+json
// instead of API Gateway's bare 403. API Gateway caches the answer per
// Authorization header, so a cached request costs no token lookup.
func Handler(d api.Deps) func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	operator := []byte(strings.ToLower(d.OperatorTokenSHA256))
	return func(ctx context.Context, e events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		token := bearer(e.Headers["authorization"])
		anonymous := events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: map[string]any{api.CtxRole: api.RoleAnonymous}}
		if token == "" {
			return anonymous, nil
		}
		hash := []byte(store.TokenHash(token))
		if len(operator) > 0 && subtle.ConstantTimeCompare(hash, operator) == 1 {
			return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: map[string]any{api.CtxRole: api.RoleOperator}}, nil
		}
		if !strings.HasPrefix(token, "mp_") {
			return anonymous, nil
		}
		owner, err := d.Store.TokenUser(ctx, token)
		if err != nil {
			// Returning the error makes API Gateway answer 500 and not cache it.
			d.Log.ErrorContext(ctx, "authorizer: token lookup failed", slog.String("error", err.Error()))
			return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, err
		}
		if owner.UserID == "" {
			return anonymous, nil
		}
		userCtx := map[string]any{api.CtxRole: api.RoleUser, api.CtxUserID: owner.UserID}
		if owner.Name != "" {
			userCtx[api.CtxName] = owner.Name
		}
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: userCtx}, nil
	}
}

func bearer(h string) string {
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return ""
	}
	return strings.TrimSpace(h[len(prefix):])
}
