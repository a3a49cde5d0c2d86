// Command revoke-token is the revoke-token Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/users"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(users.RevokeToken(app.MustServices())) }
