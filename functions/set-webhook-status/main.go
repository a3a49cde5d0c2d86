// Command set-webhook-status is the set-webhook-status Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/app"
	"minipay/shared/merchant"
	"minipay/shared/webhooks"
)

func main() { lambda.Start(webhooks.SetStatus(app.MustDeps(), merchant.StoreOwner)) }
