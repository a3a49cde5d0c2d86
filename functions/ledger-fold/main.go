// Command ledger-fold is the ledger-fold Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/wiring/app"
)

func main() { lambda.Start(app.FoldJob(app.MustServices())) }
