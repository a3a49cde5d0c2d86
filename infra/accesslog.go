package main

import (
	"encoding/json"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"minipay/shared/edge/httpapi"
)

// accessLogRetention: access logs answer "who called what, when, with what
// result" for disputes and incidents; the stack's LogRetentionDays
// parameter sets the deployed value (logs.go).
const accessLogRetention = awslogs.RetentionDays_ONE_YEAR

// AccessLogFields is the $default stage's access log: one JSON object per
// request. requestId is $context.requestId, the id every function logs as
// requestId (shared/edge/httpapi), so a log line joins its function's lines;
// lambdaRequestId joins the Lambda platform's own lines. The authorizer's
// role and user id say who called; the user's name and the token never
// appear (no $context variable carries the Authorization header).
var AccessLogFields = map[string]string{
	"requestId":          "$context.requestId",
	"lambdaRequestId":    "$context.integration.requestId",
	"requestTime":        "$context.requestTime",
	"ip":                 "$context.identity.sourceIp",
	"method":             "$context.httpMethod",
	"path":               "$context.path",
	"routeKey":           "$context.routeKey",
	"protocol":           "$context.protocol",
	"status":             "$context.status",
	"responseLength":     "$context.responseLength",
	"latency":            "$context.responseLatency",
	"integrationLatency": "$context.integrationLatency",
	"integrationStatus":  "$context.integrationStatus",
	"integrationError":   "$context.integrationErrorMessage",
	"authorizerError":    "$context.authorizer.error",
	"error":              "$context.error.message",
	"role":               "$context.authorizer." + httpapi.CtxRole,
	"userId":             "$context.authorizer." + httpapi.CtxUserID,
}

// accessLogFormat is AccessLogFields as API Gateway's format string. Every
// value is quoted: a variable with no value renders as "-", which would not
// be a JSON number.
func accessLogFormat() string {
	b, _ := json.Marshal(AccessLogFields) // sorted keys: a stable template
	return string(b)
}

// accessLogs implements awsapigatewayv2.IAccessLogSettings.
type accessLogs struct {
	dest   awsapigatewayv2.IAccessLogDestination
	format awsapigateway.AccessLogFormat
}

func (a *accessLogs) Destination() awsapigatewayv2.IAccessLogDestination { return a.dest }
func (a *accessLogs) Format() awsapigateway.AccessLogFormat              { return a.format }

// newAccessLogs is the stage's access log group and settings. HTTP APIs log
// through a service-linked role, so no account-level CloudWatch role is needed.
func newAccessLogs(stack awscdk.Stack) (awslogs.LogGroup, awsapigatewayv2.IAccessLogSettings) {
	group := awslogs.NewLogGroup(stack, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     accessLogRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	return group, &accessLogs{
		dest:   awsapigatewayv2.NewLogGroupLogDestination(group),
		format: awsapigateway.AccessLogFormat_Custom(jsii.String(accessLogFormat())),
	}
}
