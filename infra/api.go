package main

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"minipay/shared/edge/routes"
)

var httpMethods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "HEAD": true, "OPTIONS": true}

// Default-stage throttling: what a route without its own throttle gets
// (each route's own, derived in shared/edge/routes, overrides it).
const (
	throttleRate  = 100 // requests per second, steady
	throttleBurst = 200
)

// newAPI is the HTTP API: one route per routes.Served() row, each integrated
// with its function (payload format 2.0). Every non-public route sits behind
// the token authorizer; public routes have none. The stage writes a JSON
// access log line per request (accesslog.go).
func newAPI(stack awscdk.Stack, fns map[string]awslambda.Function, rs []routes.Route) (awsapigatewayv2.HttpApi, awsapigatewayv2.HttpStage, awslogs.LogGroup) {
	api := awsapigatewayv2.NewHttpApi(stack, jsii.String("Api"), &awsapigatewayv2.HttpApiProps{
		ApiName:     jsii.String("minipay"),
		Description: jsii.String("minipay HTTP API"),
		// The default stage is added below, because only AddStage takes throttling.
		CreateDefaultStage: jsii.Bool(false),
		// The $default route (routes.Fallback): whatever no route matches
		// gets the not-found function's problem+json 404 or 405, not the
		// gateway's bare {"message":"Not Found"}.
		DefaultIntegration: awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("Fallback"),
			fns[routes.Fallback.Function], &awsapigatewayv2integrations.HttpLambdaIntegrationProps{
				PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
			}),
	})
	suppress(api.Node().FindChild(jsii.String("DefaultRoute")).Node().DefaultChild(), "AwsSolutions-APIG4",
		"The $default route only answers problem+json 404/405 for paths no route matches; it reads nothing and moves no money.")
	accessLogGroup, accessLogSettings := newAccessLogs(stack)
	stage := api.AddStage(jsii.String("DefaultStage"), &awsapigatewayv2.HttpStageOptions{
		StageName:         jsii.String("$default"),
		AutoDeploy:        jsii.Bool(true),
		AccessLogSettings: accessLogSettings,
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(throttleRate),
			BurstLimit: jsii.Number(throttleBurst),
		},
	})

	// Simple responses; results cached per Authorization header for
	// routes.AuthorizerCacheTTL, so a cached request costs no token lookup
	// and a revoked token works at most that long.
	authorizer := awsapigatewayv2authorizers.NewHttpLambdaAuthorizer(jsii.String("TokenAuthorizer"),
		fns[routes.AuthorizerFunction], &awsapigatewayv2authorizers.HttpLambdaAuthorizerProps{
			AuthorizerName:  jsii.String("minipay-token"),
			ResponseTypes:   &[]awsapigatewayv2authorizers.HttpLambdaResponseType{awsapigatewayv2authorizers.HttpLambdaResponseType_SIMPLE},
			IdentitySource:  jsii.Strings("$request.header.Authorization"),
			ResultsCacheTtl: awscdk.Duration_Seconds(jsii.Number(routes.AuthorizerCacheTTL.Seconds())),
		})

	// Per-route throttles (derived for every route): the stage's RouteSettings,
	// keyed by route key. The stage must be created after those routes, or
	// CloudFormation cannot find them by key.
	cfnStage := stage.Node().DefaultChild().(awsapigatewayv2.CfnStage)
	settings := map[string]any{}
	for _, r := range rs {
		opts := &awsapigatewayv2.AddRoutesOptions{
			Path:    jsii.String(r.Path),
			Methods: &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod(r.Method)},
			Integration: awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String(constructID(r)),
				fns[r.Function], &awsapigatewayv2integrations.HttpLambdaIntegrationProps{
					PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
				}),
		}
		if r.BehindAuthorizer() {
			opts.Authorizer = authorizer
		}
		added := *api.AddRoutes(opts)
		if r.Throttle != nil {
			settings[r.Method+" "+r.Path] = map[string]any{"ThrottlingRateLimit": r.Throttle.Rate, "ThrottlingBurstLimit": r.Throttle.Burst}
			for _, route := range added {
				cfnStage.Node().AddDependency(route)
			}
		}
		for _, route := range added {
			if r.Auth == routes.Public || r.Auth == routes.Registration {
				suppress(route.Node().DefaultChild(), "AwsSolutions-APIG4",
					"No API Gateway authorizer by design (routes."+string(r.Auth)+" in the route table): "+r.Method+" "+r.Path+
						" is how a person gets a token; under the stack's default registration policy (operator) the function "+
						"itself requires the operator token, under open it is public and moves no money; the stage's throttling bounds abuse.")
			}
		}
	}
	if len(settings) > 0 {
		cfnStage.AddPropertyOverride(jsii.String("RouteSettings"), settings)
	}
	return api, stage, accessLogGroup
}

// constructID turns "POST /accounts/{id}/charges" into "POST-accounts-id-charges"
// (construct IDs may not contain "/").
func constructID(r routes.Route) string {
	return r.Method + strings.NewReplacer("/", "-", "{", "", "}", "").Replace(r.Path)
}
