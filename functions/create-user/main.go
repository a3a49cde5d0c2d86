// Command create-user is the create-user Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/users"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(users.Register(app.MustServices())) }
