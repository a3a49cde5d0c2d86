// Command pending-sweep is the pending-sweep Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/transfers"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(transfers.PendingJob(app.MustServices()).Handler()) }
