// Command fold-worker is the fold-worker Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/wiring/app"
)

func main() { lambda.Start(app.FoldWorker(app.MustServices())) }
