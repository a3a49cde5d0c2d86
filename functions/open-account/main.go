// Command open-account is the open-account Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/app"
	"minipay/shared/savings"
)

func main() { lambda.Start(savings.Open(app.MustDeps())) }
