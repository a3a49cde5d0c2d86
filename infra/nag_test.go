package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"minipay/shared/edge/routes"
)

// addNag applies cdk-nag's AwsSolutions pack to everything in app; it runs
// when the app synthesizes. No report files: findings are annotations.
func addNag(app awscdk.App) {
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{
		Verbose: jsii.Bool(true),
		Reports: jsii.Bool(false),
		// Suppressed findings become info annotations: proof the pack ran.
		LogIgnores: jsii.Bool(true),
	}), nil)
}

// findings is every error and warning annotation on the stack after
// synthesis, as "path [level]: message": cdk-nag's unsuppressed findings
// (errors and warnings alike) and anything CDK itself warns about.
func findings(stack awscdk.Stack) []string {
	a := assertions.Annotations_FromStack(stack)
	var out []string
	for _, list := range []*[]*cxapi.SynthesisMessage{
		a.FindError(jsii.String("*"), assertions.Match_AnyValue()),
		a.FindWarning(jsii.String("*"), assertions.Match_AnyValue()),
	} {
		for _, m := range *list {
			out = append(out, fmt.Sprintf("%s [%s]: %v", *m.Id, strings.ToLower(string(m.Level)), m.Entry.Data))
		}
	}
	slices.Sort(out)
	return out
}

// TestCdkNag: the stack has no unsuppressed AwsSolutions finding, error or
// warning (and CDK warns about nothing).
func TestCdkNag(t *testing.T) {
	f := synth(t)
	for _, msg := range f.findings {
		t.Error(msg)
	}
	if len(f.findings) > 0 {
		t.Logf("%d findings: fix the stack, or suppress one rule on one resource with suppress() and a reason", len(f.findings))
	}
	// The pack did run on this stack: it logged the public route's suppression.
	ignored := assertions.Annotations_FromStack(f.stack.Stack).FindInfo(jsii.String("*"),
		assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-APIG4")))
	if len(*ignored) == 0 {
		t.Error("no suppressed AwsSolutions-APIG4 finding logged: did cdk-nag run on the fixture?")
	}
}

// TestCdkNagSeesFindings: the check above is not vacuous. A bare queue
// breaks AwsSolutions-SQS3 (no DLQ) and -SQS4 (TLS not enforced); a
// suppression made with suppress() silences exactly its rule.
func TestCdkNagSeesFindings(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	stack := awscdk.NewStack(app, jsii.String("Nag"), nil)
	awssqs.NewQueue(stack, jsii.String("Bare"), nil)
	suppressed := awssqs.NewQueue(stack, jsii.String("Suppressed"), nil)
	suppress(suppressed.Node().DefaultChild(), "AwsSolutions-SQS3", "test: this queue stands for a dead-letter queue")
	addNag(app)
	got := strings.Join(findings(stack), "\n")
	for _, want := range []string{"/Nag/Bare/Resource [error]: AwsSolutions-SQS3", "/Nag/Bare/Resource [error]: AwsSolutions-SQS4", "/Nag/Suppressed/Resource [error]: AwsSolutions-SQS4"} {
		if !strings.Contains(got, want) {
			t.Errorf("findings lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Suppressed/Resource [error]: AwsSolutions-SQS3") {
		t.Errorf("the suppressed rule is still reported:\n%s", got)
	}
}

// TestNagSuppressions: every suppression sits on one resource (none on the
// stack), names an AwsSolutions rule and gives a real reason; the only
// APIG4 suppressions are on the public routes of the route table.
func TestNagSuppressions(t *testing.T) {
	f := synth(t)
	raw, _ := json.Marshal(f.tpl.ToJSON())
	var doc struct {
		Metadata  map[string]any
		Resources map[string]struct {
			Type       string
			Properties map[string]any
			Metadata   struct {
				CdkNag struct {
					RulesToSuppress []struct {
						ID        string `json:"id"`
						Reason    string `json:"reason"`
						AppliesTo []any  `json:"applies_to"`
					} `json:"rules_to_suppress"`
				} `json:"cdk_nag"`
			}
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.Metadata["cdk_nag"]; ok {
		t.Errorf("stack-wide suppressions %v: suppress on the resource instead", doc.Metadata["cdk_nag"])
	}
	publicRoutes := map[string]bool{"$default": true} // routes.Fallback
	for _, r := range routes.Served() {
		if r.Auth == routes.Public || r.Auth == routes.Registration {
			publicRoutes[r.Method+" "+r.Path] = true
		}
	}
	apig4 := map[string]bool{}
	for id, r := range doc.Resources {
		for _, s := range r.Metadata.CdkNag.RulesToSuppress {
			t.Logf("%s %s: %s %v", id, s.ID, s.Reason, s.AppliesTo)
			if !strings.HasPrefix(s.ID, "AwsSolutions-") {
				t.Errorf("%s: suppression of %q, not an AwsSolutions rule", id, s.ID)
			}
			if len(s.Reason) < 40 {
				t.Errorf("%s: %s suppressed with reason %q; say why", id, s.ID, s.Reason)
			}
			if s.ID == "AwsSolutions-APIG4" {
				key, _ := r.Properties["RouteKey"].(string)
				if r.Type != "AWS::ApiGatewayV2::Route" || !publicRoutes[key] {
					t.Errorf("%s (%s %q): APIG4 suppressed, but it is not a public route", id, r.Type, key)
				}
				apig4[key] = true
			}
		}
	}
	for key := range publicRoutes {
		if !apig4[key] {
			t.Errorf("public route %s: no APIG4 suppression", key)
		}
	}
}

// TestCfnLint runs cfn-lint on the synthesized template: no errors, no
// warnings. Machines without cfn-lint skip it.
func TestCfnLint(t *testing.T) {
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint not found; skipping")
	}
	f := synth(t)
	raw, err := json.MarshalIndent(f.tpl.ToJSON(), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "minipay.template.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	// cfn-lint's default region and the business's (Asia/Seoul): the stack
	// is region-agnostic, so resource and property support is checked in both.
	cmd := exec.Command(bin, "--format", "parseable", "--regions", "us-east-1", "ap-northeast-2", "--", path)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || out.Len() > 0 {
		t.Errorf("cfn-lint %s: %v\n%s", path, err, out.String())
	}
}
