// Command webhook-sweep is the webhook-sweep Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/app"
	"minipay/shared/webhooks"
)

func main() { lambda.Start(webhooks.Sweep(app.MustDeps())) }
