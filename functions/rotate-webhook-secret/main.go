// Command rotate-webhook-secret is the rotate-webhook-secret Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/app"
	"minipay/shared/merchant"
	"minipay/shared/webhooks"
)

func main() { lambda.Start(webhooks.Rotate(app.MustDeps(), merchant.StoreOwner)) }
