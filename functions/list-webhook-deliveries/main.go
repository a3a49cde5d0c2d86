// Command list-webhook-deliveries is the list-webhook-deliveries Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/app"
	"minipay/shared/merchant"
	"minipay/shared/webhooks"
)

func main() { lambda.Start(webhooks.ListDeliveries(app.MustDeps(), merchant.StoreOwner)) }
