// Command get-openapi is the get-openapi Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/app"
	"minipay/shared/openapi"
)

func main() { lambda.Start(openapi.Handler(app.MustDeps())) }
