// Command get-account is the get-account Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/accounts"
	"minipay/shared/app"
)

func main() { lambda.Start(accounts.GetAccount(app.MustDeps())) }
