package httpapi

import "testing"

// One identifier in every form has one canonical form, and the canonical
// form is its own canonical form (stored keys never drift).
func TestIdentifierCanonicalForm(t *testing.T) {
	groups := [][]string{
		{"Café-7781", "Cafe\u0301-7781", "CAFÉ-7781", "ＣＡＦＥ\u0301－７７８１", "  café-7781\t"},
		{"KR-Müller-01", "kr-mu\u0308ller-01", "KR-MÜLLER-01"},
		{"Straße 1", "STRASSE 1", "strasse 1"},
		{"ΣΊΣΥΦΟΣ", "σίσυφος", "σίσυφοσ"},
		{"PG-7781", "pg-7781", "ｐｇ－７７８１"},
	}
	for _, g := range groups {
		want, err := Identifier("reference", g[0], 200, true)
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := Identifier("reference", want, 200, true); again != want {
			t.Errorf("%q: canonical %q is not stable: %q", g[0], want, again)
		}
		for _, v := range g[1:] {
			if got, err := Identifier("reference", v, 200, true); err != nil || got != want {
				t.Errorf("%q: %q, %v; want %q", v, got, err, want)
			}
		}
	}
	for _, bad := range []string{"", "  ", "p-\U000E0080", "a\u200bb", "x\x01"} {
		if got, err := Identifier("reference", bad, 200, true); err == nil {
			t.Errorf("%q accepted as %q", bad, got)
		}
	}
	if _, err := Identifier("reference", "\uFDFA", 10, true); err == nil { // one character, 18 once normalized
		t.Error("a reference longer than max once normalized was accepted")
	}
}
