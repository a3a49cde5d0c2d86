// Command get-openapi is the get-openapi Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/wiring/app"
	"minipay/shared/wiring/openapi"
)

func main() { lambda.Start(openapi.Handler(app.MustServices())) }
