// Command authorizer is the authorizer Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/auth"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(auth.Handler(app.MustServices())) }
