// Command settlement-sweep is the settlement-sweep Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/settlement"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(settlement.SweepJob(app.MustServices()).Handler()) }
