// Command withdraw is the withdraw Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/accounts"
	"minipay/shared/app"
)

func main() { lambda.Start(accounts.Withdraw(app.MustDeps())) }
