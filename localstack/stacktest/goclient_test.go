package stacktest_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"minipay/shared/wiring/openapi"
)

// TestGeneratedGoClient generates a Go client from the document with
// oapi-codegen at its default settings (the version go.mod pins as a
// tool), and runs the README's example program with it against the stack:
// the document must generate a client that compiles, and the README's
// example must do what the README says it prints.
func TestGeneratedGoClient(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a generated client")
	}
	s := newStack(t)
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	program := readmeBlock(t, string(readme), "goclient")
	doc, err := openapi.JSON()
	if err != nil {
		t.Fatal(err)
	}
	// A directory inside the module (so go.mod's pinned runtime resolves);
	// the leading underscore keeps it out of ./... patterns.
	dir, err := os.MkdirTemp(".", "_goclient")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	spec := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(spec, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(program), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := func(env []string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Env = append(os.Environ(), env...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("go %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
		}
		return out.String()
	}
	run(nil, "tool", "oapi-codegen", "-generate", "types,client", "-package", "main", "-o", filepath.Join(dir, "client.gen.go"), spec)
	got := run([]string{"API=" + s.URL}, "run", "./"+filepath.Base(dir))
	want := "charged 5000\nsent 12000 autoCharged 10000\nreplayed true true\nrefused 422 daily_limit_exceeded\n"
	if got != want {
		t.Errorf("the README's client program printed\n%s\nwant\n%s", got, want)
	}
}

// readmeBlock is the fenced code between <!-- name:begin --> and
// <!-- name:end --> in the README.
func readmeBlock(t *testing.T, readme, name string) string {
	t.Helper()
	_, after, ok := strings.Cut(readme, "<!-- "+name+":begin -->")
	block, _, ok2 := strings.Cut(after, "<!-- "+name+":end -->")
	if !ok || !ok2 {
		t.Fatalf("README has no %s block", name)
	}
	block = strings.TrimSpace(block)
	block = strings.TrimPrefix(block, "```go")
	block = strings.TrimSuffix(block, "```")
	return strings.TrimSpace(block) + "\n"
}
