// Command set-webhook-status is the set-webhook-status Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/webhooks"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(webhooks.SetStatus(app.MustServices(), app.StoreOwner)) }
