// Command reject-transfer is the reject-transfer Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/transfers"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(transfers.Reject(app.MustServices())) }
