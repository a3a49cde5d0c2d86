// Command deposit-savings is the deposit-savings Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/accounts"
	"minipay/shared/app"
)

func main() { lambda.Start(accounts.DepositSavings(app.MustDeps())) }
