package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The published document as the tools users run on it see it: Redocly's
// recommended rules and Spectral's spectral:oas with zero errors and zero
// warnings, and a TypeScript client from openapi-typescript that
// type-checks. The tools are the versions package.json pins (make test
// installs them with npm ci); without npm the test skips with a message,
// like the cfn-lint check.

// npmTool is node_modules/.bin/<name>, or a skip when npm is missing.
func npmTool(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join("..", "..", "..", "node_modules", ".bin", name)
	if _, err := os.Stat(bin); err == nil {
		abs, _ := filepath.Abs(bin)
		return abs
	}
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skipf("npm is not installed: %s not run", name)
	}
	t.Fatalf("%s is missing: run `npm ci` (make test does)", bin)
	return ""
}

// publishedFile writes the published document to a file.
func publishedFile(t *testing.T) string {
	t.Helper()
	b, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func runTool(t *testing.T, dir, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func TestRedoclyRecommendedFindsNothing(t *testing.T) {
	redocly := npmTool(t, "redocly")
	doc := publishedFile(t)
	out, err := runTool(t, filepath.Dir(doc), redocly, "lint", "--extends=recommended", "--format=json", doc)
	var report struct {
		Totals struct{ Errors, Warnings, Ignored int }
	}
	// The JSON report is the first object of the output (a banner may
	// come before it, a summary after).
	start := strings.Index(out, "{\n")
	if start < 0 || json.NewDecoder(strings.NewReader(out[start:])).Decode(&report) != nil {
		t.Fatalf("redocly lint: %v\n%s", err, out)
	}
	if report.Totals.Errors+report.Totals.Warnings > 0 {
		human, _ := runTool(t, filepath.Dir(doc), redocly, "lint", "--extends=recommended", doc)
		t.Errorf("redocly recommended: %d errors, %d warnings\n%s", report.Totals.Errors, report.Totals.Warnings, human)
	}
}

func TestSpectralOASFindsNothing(t *testing.T) {
	spectral := npmTool(t, "spectral")
	doc := publishedFile(t)
	ruleset := filepath.Join(filepath.Dir(doc), ".spectral.yaml")
	if err := os.WriteFile(ruleset, []byte("extends: [\"spectral:oas\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// --fail-severity=hint: any finding at all fails the run.
	if out, err := runTool(t, filepath.Dir(doc), spectral, "lint", "--ruleset", ruleset, "--fail-severity=hint", doc); err != nil {
		t.Errorf("spectral:oas: %v\n%s", err, out)
	}
}

// TestGeneratedTypeScriptClientTypeChecks: openapi-typescript's types for
// the document, used the way a client would, pass tsc --strict.
func TestGeneratedTypeScriptClientTypeChecks(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and type-checks a TypeScript client")
	}
	gen, tsc := npmTool(t, "openapi-typescript"), npmTool(t, "tsc")
	doc := publishedFile(t)
	dir := filepath.Dir(doc)
	if out, err := runTool(t, dir, gen, doc, "-o", filepath.Join(dir, "minipay.d.ts")); err != nil {
		t.Fatalf("openapi-typescript: %v\n%s", err, out)
	}
	use := `import type { components, paths } from "./minipay";
type Transfer = components["schemas"]["Transfer"];
type TransferBody = paths["/transfers"]["post"]["requestBody"]["content"]["application/json"];
type Problem = components["schemas"]["Problem"];
const body: TransferBody = { to: "u_1", amount: 12000 };
const charged = (t: Transfer): number => t.amount + t.autoCharged;
const refused = (p: Problem): string => p.code;
export { body, charged, refused };
`
	if err := os.WriteFile(filepath.Join(dir, "use.ts"), []byte(use), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runTool(t, dir, tsc, "--noEmit", "--strict", "--target", "es2022", "--module", "nodenext",
		"--moduleResolution", "nodenext", "use.ts", "minipay.d.ts"); err != nil {
		t.Errorf("tsc: %v\n%s", err, out)
	}
}
