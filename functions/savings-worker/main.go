// Command savings-worker is the savings-worker Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/savings"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(savings.Worker(app.MustServices())) }
