// Command create-room is the create-room Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/sprinkle"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(sprinkle.CreateRoom(app.MustServices())) }
