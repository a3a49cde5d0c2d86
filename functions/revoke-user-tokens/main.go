// Command revoke-user-tokens is the revoke-user-tokens Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/app"
	"minipay/shared/users"
)

func main() { lambda.Start(users.OperatorRevokeTokens(app.MustDeps())) }
