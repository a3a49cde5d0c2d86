// Command list-webhook-deliveries is the list-webhook-deliveries Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/webhooks"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(webhooks.ListDeliveries(app.MustServices(), app.StoreOwner)) }
