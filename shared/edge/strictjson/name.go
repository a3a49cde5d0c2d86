package strictjson

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxCombiningMarks is how many combining marks (Unicode category M) may
// follow one character in a name. Real writing needs at most three
// (Vietnamese stacks two accents in NFD, Thai a vowel and a tone mark,
// Devanagari a nukta, a vowel sign and a nasal sign); "Zalgo" text stacks
// dozens to bury the line above and below.
const MaxCombiningMarks = 3

// CheckName checks a name (of a user, a store, an account, a room): the
// free-text rules of CheckText, then two rules against look-alikes and
// unreadable names:
//
//   - at most MaxCombiningMarks combining marks (Mn, Mc, Me) in a row;
//   - Unicode TS #39's "highly restrictive" level (section 5.2): the name is
//     written in one script (section 5.1: characters of the Common and
//     Inherited scripts, i.e. digits, spaces, punctuation, symbols, emoji
//     and combining marks, go with any script), or in one of the scripts
//     combinations CJK writing uses: Latin + Han + Hiragana + Katakana,
//     Latin + Han + Bopomofo, Latin + Han + Hangul. So "Minji Kitchen",
//     "김밥천국", "Minji 김밥", "カフェ東京 Cafe" and "Кафе" pass; "Mіnji"
//     with a Cyrillic "і" does not.
//
// Scripts are Go's unicode.Scripts (the Script property; the
// Script_Extensions property is not in Go's tables, so the few characters
// with extensions count as their own script). Code points unassigned in
// Go's tables count as Common, as CheckText accepts them (new emoji).
// The refusal is a *TextError naming the character.
func CheckName(s string) error {
	if err := CheckText(s); err != nil {
		return err
	}
	marks := 0
	var seen []string // scripts met so far, in order
	for i, pos := 0, 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		pos++
		if unicode.Is(unicode.M, r) {
			marks++
			if marks > MaxCombiningMarks {
				return &TextError{Rune: r, Offset: i, Pos: pos, Reason: fmt.Sprintf(
					"combining mark number %d on one character (a name allows at most %d in a row)", marks, MaxCombiningMarks)}
			}
		} else {
			marks = 0
		}
		if sc := Script(r); sc != "" && !contains(seen, sc) {
			if !allowedScripts(append(seen, sc)) {
				return &TextError{Rune: r, Offset: i, Pos: pos, Reason: fmt.Sprintf(
					"a character of the %s script in a name written in %s: a name may not mix scripts "+
						"(except Latin with Han and Hangul, Hiragana and Katakana, or Bopomofo)", sc, strings.Join(seen, " and "))}
			}
			seen = append(seen, sc)
		}
		i += size
	}
	return nil
}

// Script is the Unicode script of r (Go's unicode.Scripts name, e.g.
// "Latin", "Cyrillic", "Hangul"), or "" for the Common and Inherited
// scripts and unassigned code points, which go with any script.
func Script(r rune) string {
	for _, c := range frequent {
		if unicode.Is(c.table, r) {
			return c.name
		}
	}
	if unicode.In(r, unicode.Common, unicode.Inherited) {
		return ""
	}
	for _, name := range scriptNames {
		if unicode.Is(unicode.Scripts[name], r) {
			return name
		}
	}
	return ""
}

// frequent are the scripts tried first (most names are in them).
var frequent = []struct {
	name  string
	table *unicode.RangeTable
}{
	{"Latin", unicode.Latin}, {"Hangul", unicode.Hangul}, {"Han", unicode.Han},
	{"Hiragana", unicode.Hiragana}, {"Katakana", unicode.Katakana}, {"Cyrillic", unicode.Cyrillic}, {"Greek", unicode.Greek},
}

// scriptNames are the other scripts, in a fixed order.
var scriptNames = func() []string {
	var out []string
	for name := range unicode.Scripts {
		switch name {
		case "Common", "Inherited", "Latin", "Hangul", "Han", "Hiragana", "Katakana", "Cyrillic", "Greek":
			continue
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}()

// cjk are TS #39's multi-script sets of the highly restrictive level.
var cjk = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

// allowedScripts: one script, or a subset of one of the CJK sets.
func allowedScripts(scripts []string) bool {
	if len(scripts) <= 1 {
		return true
	}
	for _, set := range cjk {
		all := true
		for _, sc := range scripts {
			if !contains(set, sc) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
