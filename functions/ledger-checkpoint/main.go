// Command ledger-checkpoint is the ledger-checkpoint Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/wiring/app"
)

func main() { lambda.Start(app.CheckpointJob(app.MustServices())) }
