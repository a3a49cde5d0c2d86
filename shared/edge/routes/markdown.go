package routes

import (
	"fmt"
	"strings"
)

// Markdown renders the route and schedule tables for README.md, between
// the markers below; a test keeps the README equal to it
// (go test ./shared/edge/routes -run README -update rewrites it).
func Markdown() string {
	var b strings.Builder
	b.WriteString("| method | path | function | auth | Idempotency-Key | throttle (reserved) | what |\n|---|---|---|---|---|---|---|\n")
	for _, r := range Routes {
		idem := ""
		if r.MovesMoney {
			idem = "required"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", r.Method, r.Path, r.Function, r.Auth, idem, limitCell(r), strings.ReplaceAll(r.Summary, "|", `\|`))
	}
	b.WriteString("\n| scheduled job | function | when | what |\n|---|---|---|---|\n")
	for _, s := range Schedules {
		when, err := s.Expression()
		if err != nil {
			when = err.Error()
		}
		if s.TimeZone != "" {
			when += " " + s.TimeZone
		}
		fmt.Fprintf(&b, "| %s | %s | `%s` | %s |\n", s.Name, s.Function, when, s.Summary)
	}
	return b.String()
}

// Markers delimit the generated tables in README.md.
const (
	MarkdownBegin = "<!-- routes:begin (generated from shared/edge/routes; go test ./shared/edge/routes -run README -update) -->"
	MarkdownEnd   = "<!-- routes:end -->"
)

// limitCell is a route's throttle and reservation: "200/s, burst 50 (70)".
func limitCell(r Route) string {
	if r.Throttle == nil {
		return ""
	}
	s := fmt.Sprintf("%s/s, burst %s", thousands(int(r.Throttle.Rate)), thousands(r.Throttle.Burst))
	if r.ReservedConcurrency > 0 {
		s += fmt.Sprintf(" (%d)", r.ReservedConcurrency)
	}
	return s
}

func thousands(n int) string {
	if n < 1000 {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%s,%03d", thousands(n/1000), n%1000)
}
