package openapi

import (
	"context"

	"minipay/shared/edge/httpapi"
	"minipay/shared/edge/routes"
)

// Handler is the get-openapi function (routes.Document): the published
// document at GET /openapi.json in the deployed stack, without a token.
// The local emulator serves the same bytes itself.
func Handler(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.HandleRoute(d, routes.Document, func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		b, err := JSON()
		if err != nil {
			return nil, err // logged; a 500 that says nothing of it
		}
		return &httpapi.Response{Status: 200, Body: b, Headers: map[string]string{"cache-control": "public, max-age=300"}}, nil
	})
}
