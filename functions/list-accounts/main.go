// Command list-accounts is the list-accounts Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/accounts"
	"minipay/shared/app"
)

func main() { lambda.Start(accounts.ListAccounts(app.MustDeps())) }
