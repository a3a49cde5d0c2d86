// Command webhook-sweep is the webhook-sweep Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/webhooks"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(webhooks.SweepJob(app.MustServices()).Handler()) }
