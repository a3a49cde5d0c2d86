// Command update-settings is the update-settings Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/app"
	"minipay/shared/pending"
)

func main() { lambda.Start(pending.UpdateSettings(app.MustDeps())) }
