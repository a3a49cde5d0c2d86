// Command pay-settlement is the pay-settlement Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/settlement"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(settlement.Pay(app.MustServices())) }
