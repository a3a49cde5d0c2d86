package webhooks_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The README's receiver compiles, and its verify accepts what the worker
// signs (one secret, or two during a rotation) and refuses the rest.
func TestREADMEReceiverVerifiesRealSignatures(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the README's receiver")
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "<!-- webhookreceiver:begin -->")
	block, _, ok2 := strings.Cut(after, "<!-- webhookreceiver:end -->")
	if !ok || !ok2 {
		t.Fatal("README has no webhookreceiver block")
	}
	block = strings.TrimSpace(block)
	block = strings.TrimSuffix(strings.TrimPrefix(block, "```go"), "```")
	// A directory inside the module (the leading underscore keeps it out of ./...).
	dir, err := os.MkdirTemp(".", "_receiver")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	check := `package main

import (
	"testing"
	"time"

	"minipay/shared/capabilities/webhooks"
)

func TestVerify(t *testing.T) {
	body := []byte(` + "`" + `{"id":"evt_1","type":"order.placed"}` + "`" + `)
	now := time.Unix(1800000000, 0)
	one := webhooks.SignatureHeader(now.Unix(), body, "whsec_new")
	two := webhooks.SignatureHeader(now.Unix(), body, "whsec_new", "whsec_old")
	for _, c := range []struct {
		header, secret string
		body           []byte
		at             time.Time
		ok             bool
	}{
		{one, "whsec_new", body, now, true},
		{two, "whsec_new", body, now, true},
		{two, "whsec_old", body, now, true},
		{one, "whsec_old", body, now, false},
		{one, "whsec_new", append([]byte{' '}, body...), now, false},
		{one, "whsec_new", body, now.Add(10 * time.Minute), false},
		{"", "whsec_new", body, now, false},
	} {
		if err := verify(c.header, c.body, c.secret, c.at); (err == nil) != c.ok {
			t.Errorf("%q with %s: %v", c.header, c.secret, err)
		}
	}
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(strings.TrimSpace(block)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main_test.go"), []byte(check), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "./"+filepath.Base(dir))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the README's receiver: %v\n%s", err, out.String())
	}
}
