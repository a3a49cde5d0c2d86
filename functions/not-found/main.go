// Command not-found is the not-found Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/app"
	"minipay/shared/httpapi"
)

func main() { lambda.Start(httpapi.NotFound(app.MustDeps())) }
