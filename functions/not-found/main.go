// Command not-found is the not-found Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/edge/httpapi"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(httpapi.NotFound(app.MustServices())) }
