// Command revoke-user-tokens is the revoke-user-tokens Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/users"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(users.OperatorRevokeTokens(app.MustServices())) }
