// Command issue-token is the issue-token Lambda function: wiring only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"minipay/shared/capabilities/users"
	"minipay/shared/wiring/app"
)

func main() { lambda.Start(users.OperatorIssueToken(app.MustServices())) }
