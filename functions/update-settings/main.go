// Command update-settings is the update-settings Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/transfers"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(transfers.UpdateSettings(app.MustServices())) }
