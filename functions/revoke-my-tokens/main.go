// Command revoke-my-tokens is the revoke-my-tokens Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/app"
	"minipay/shared/users"
)

func main() { lambda.Start(users.RevokeMyTokens(app.MustDeps())) }
