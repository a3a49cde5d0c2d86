package httpapi

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// checkText refuses what can make a text read as something else: invalid
// UTF-8 and Unicode format characters (zero-width, bidi controls).
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("is not valid UTF-8")
	}
	for i, r := range s {
		if unicode.Is(unicode.Cf, r) {
			return fmt.Errorf("must not contain the invisible formatting character U+%04X (at byte %d)", r, i)
		}
	}
	return nil
}
