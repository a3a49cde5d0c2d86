// Command savings-installments is the savings-installments Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/savings"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(savings.InstallmentJob(app.MustServices())) }
