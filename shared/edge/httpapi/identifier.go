package httpapi

import (
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"minipay/shared/kernel/domainerr"
)

// Identifier validates an identifier another system hands us (an operator
// deposit's reference, a verified person's id) and returns its canonical
// form, the one stored, compared and answered: Text's rules, then NFKC and
// Unicode full case folding, then NFKC again (Unicode's caseless identifier
// matching). So the same identifier in NFC, NFD, fullwidth forms or any
// case is ONE identifier: "PG-7781", "pg-7781" and "ｐｇ－７７８１" are the
// same reference. Code points unassigned in this Unicode version are
// refused: Unicode keeps normalization and case folding stable only for
// assigned characters, so the canonical form of anything accepted cannot
// change when a later Go or x/text release brings a newer Unicode.
func Identifier(field, s string, max int, required bool) (string, error) {
	s, err := Text(field, s, max, required)
	if err != nil || s == "" {
		return s, err
	}
	for _, r := range s {
		if !assigned(r) {
			return "", domainerr.Field(field, "%s must not contain unassigned code points (U+%04X)", field, r)
		}
	}
	c := strings.TrimSpace(CanonicalIdentifier(s))
	switch {
	case c == "" && required:
		return "", domainerr.Field(field, "%s is required", field)
	case len([]rune(c)) > max:
		return "", domainerr.Field(field, "%s must be at most %d characters once normalized", field, max)
	}
	return c, nil
}

// CanonicalIdentifier is NFKC(casefold(NFKC(s))): no validation.
func CanonicalIdentifier(s string) string {
	return norm.NFKC.String(cases.Fold().String(norm.NFKC.String(s)))
}

func assigned(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.C)
}
