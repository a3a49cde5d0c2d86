// Command accept-transfer is the accept-transfer Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/app"
	"minipay/shared/transfers"
)

func main() { lambda.Start(transfers.Accept(app.MustDeps())) }
