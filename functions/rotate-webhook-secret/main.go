// Command rotate-webhook-secret is the rotate-webhook-secret Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/webhooks"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(webhooks.Rotate(app.MustServices(), app.StoreOwner)) }
