package routes

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var updateREADME = flag.Bool("update", false, "rewrite README.md's route tables")

// README.md's API section is the route and schedule tables, rendered.
func TestREADMEListsTheTables(t *testing.T) {
	const path = "../../../README.md"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	begin, end := strings.Index(readme, MarkdownBegin), strings.Index(readme, MarkdownEnd)
	if begin < 0 || end < begin {
		t.Fatalf("README.md lacks the markers %q ... %q", MarkdownBegin, MarkdownEnd)
	}
	want := readme[:begin+len(MarkdownBegin)] + "\n" + Markdown() + readme[end:]
	if want == readme {
		return
	}
	if *updateREADME {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("README.md's route tables are stale; run: go test ./shared/edge/routes -run README -update\nwant:\n%s", Markdown())
}
