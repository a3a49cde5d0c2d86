// Command get-account is the get-account Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/accounts"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(accounts.GetAccount(app.MustServices())) }
