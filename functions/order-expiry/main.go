// Command order-expiry is the order-expiry Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/merchant"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(merchant.ExpiryJob(app.MustServices()).Handler()) }
