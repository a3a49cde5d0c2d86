// Command list-notifications is the list-notifications Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/notify"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(notify.ListHandler(app.MustServices())) }
