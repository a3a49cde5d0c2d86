// Command test-webhook is the test-webhook Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/app"
	"minipay/shared/merchant"
	"minipay/shared/webhooks"
)

func main() { lambda.Start(webhooks.SendTest(app.MustDeps(), merchant.StoreOwner)) }
