// Command get-settlement is the get-settlement Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/app"
	"minipay/shared/settlement"
)

func main() { lambda.Start(settlement.Get(app.MustDeps())) }
