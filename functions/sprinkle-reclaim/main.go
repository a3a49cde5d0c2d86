// Command sprinkle-reclaim is the sprinkle-reclaim Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/sprinkle"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(sprinkle.ReclaimJob(app.MustServices()).Handler()) }
