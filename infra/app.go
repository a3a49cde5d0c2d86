// Command infra is the minipay CDK app: one stack, derived from the route and
// schedule tables in shared/edge/routes and the table schema in shared/kernel/ddb.
//
//	cd infra && cdk synth                    # code from ../build/<function>/bootstrap
//	cd infra && cdk synth -c codeDir=/path   # code from elsewhere
//
// The stack is environment-agnostic (no account or region baked in), so it
// synthesizes offline and deploys to any account, or to LocalStack.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// defaultCodeDir is where `make build` leaves the functions, relative to
// infra/ (the directory cdk runs `go run .` in).
const defaultCodeDir = "../build"

func main() {
	app := awscdk.NewApp(nil)
	codeDir := defaultCodeDir
	if v, ok := app.Node().TryGetContext(jsii.String("codeDir")).(string); ok && v != "" {
		codeDir = v
	}
	if _, err := NewStack(app, "Minipay", &StackProps{CodeDir: codeDir}); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		jsii.Close()
		os.Exit(1)
	}
	app.Synth(nil)
	jsii.Close()
}
