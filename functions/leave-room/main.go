// Command leave-room is the leave-room Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/sprinkle"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(sprinkle.LeaveRoom(app.MustServices())) }
