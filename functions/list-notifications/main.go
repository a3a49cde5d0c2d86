// Command list-notifications is the list-notifications Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/app"
	"minipay/shared/notify"
)

func main() { lambda.Start(notify.ListHandler(app.MustDeps())) }
