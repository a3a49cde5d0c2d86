// Command due-worker is the due-worker Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/wiring/app"
)

func main() { lambda.Start(app.DueWorker(app.MustServices())) }
