// Command delete-webhook is the delete-webhook Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/app"
	"minipay/shared/merchant"
	"minipay/shared/webhooks"
)

func main() { lambda.Start(webhooks.Delete(app.MustDeps(), merchant.StoreOwner)) }
