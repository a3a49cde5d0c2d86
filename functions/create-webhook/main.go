// Command create-webhook is the create-webhook Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/app"
	"minipay/shared/merchant"
	"minipay/shared/webhooks"
)

func main() { lambda.Start(webhooks.Create(app.MustDeps(), merchant.StoreOwner)) }
