// Command list-accounts is the list-accounts Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/accounts"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(accounts.ListAccounts(app.MustServices())) }
