// Command list-webhooks is the list-webhooks Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/app"
	"minipay/shared/merchant"
	"minipay/shared/webhooks"
)

func main() { lambda.Start(webhooks.List(app.MustDeps(), merchant.StoreOwner)) }
