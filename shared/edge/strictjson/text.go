package strictjson

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// TextError is a character CheckText refuses.
type TextError struct {
	Rune    rune   // the character (utf8.RuneError when Invalid)
	Invalid bool   // the bytes at Offset are not UTF-8
	Offset  int    // byte offset in the string
	Pos     int    // character position, counting from 1
	Reason  string // what kind of character it is, e.g. "an invisible formatting character"
}

func (e *TextError) Error() string {
	if e.Invalid {
		return fmt.Sprintf("invalid UTF-8 at position %d (byte offset %d)", e.Pos, e.Offset)
	}
	name := ""
	if n := runeNames[e.Rune]; n != "" {
		name = " (" + n + ")"
	}
	return fmt.Sprintf("character U+%04X%s at position %d is not allowed: it is %s", e.Rune, name, e.Pos, e.Reason)
}

const (
	zwj       = 0x200D
	blackFlag = 0x1F3F4
	cancelTag = 0xE007F
)

// CheckText checks free text (names, display names, memos) for characters
// that are invisible, reorder text or cannot be shown: it refuses invalid
// UTF-8 (which includes UTF-8-encoded surrogates), control characters
// (Cc: tab and newline too), format characters (Cf: zero-width
// characters, bidi embeddings, overrides and isolates, U+FEFF, soft
// hyphen...), line and paragraph separators (U+2028, U+2029), private-use
// characters (Co), noncharacters (U+FDD0..U+FDEF, U+xxFFFE, U+xxFFFF) and
// the other default-ignorable fillers (e.g. HANGUL FILLER U+3164, which
// renders as nothing).
//
// Two Cf cases are emoji and are allowed: U+200D ZERO WIDTH JOINER when
// the character before it (after any U+FE0F/U+FE0E variation selector or
// skin-tone modifier) and the character after it are both pictographic,
// so "👨‍👩‍👧" passes but "ad\u200dmin" does not; and the tag characters of
// a subdivision flag (U+1F3F4, 1-8 tags of lowercase letters or digits,
// U+E007F, e.g. the flag of Scotland).
//
// Code points unassigned in Go's Unicode tables are accepted: new emoji
// reach phones before they reach the Go release in use, and refusing
// them would refuse real users' text, while an unassigned code point has
// no invisible or reordering behaviour to abuse.
func CheckText(s string) error {
	emojiBefore := false // a pictographic character precedes, modifiers aside
	pos := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		pos++
		reason := ""
		switch {
		case r == utf8.RuneError && size == 1:
			return &TextError{Rune: r, Invalid: true, Offset: i, Pos: pos}
		case r == blackFlag:
			if n, tags := flagTags(s[i+size:]); n > 0 {
				i += size + n
				pos += tags
				emojiBefore = true
				continue
			}
		case r == zwj:
			after, _ := utf8.DecodeRuneInString(s[i+size:])
			if !emojiBefore || !pictographic(after) {
				reason = "a zero width joiner outside an emoji sequence"
			}
		case unicode.IsControl(r):
			reason = "a control character"
		case unicode.Is(unicode.Cf, r):
			reason = "an invisible formatting character"
		case unicode.In(r, unicode.Zl, unicode.Zp):
			reason = "a line or paragraph separator"
		case unicode.Is(unicode.Co, r):
			reason = "a private-use character"
		case r >= 0xFDD0 && r <= 0xFDEF || r&0xFFFE == 0xFFFE:
			reason = "a noncharacter"
		case unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r):
			reason = "an invisible filler character"
		}
		if reason != "" {
			return &TextError{Rune: r, Offset: i, Pos: pos, Reason: reason}
		}
		switch {
		case pictographic(r):
			emojiBefore = true
		case r == 0xFE0E || r == 0xFE0F || r >= 0x1F3FB && r <= 0x1F3FF:
			// variation selector or skin tone: still after the emoji
		default:
			emojiBefore = false
		}
		i += size
	}
	return nil
}

// flagTags returns the length in bytes and characters of the tag sequence
// that completes a subdivision flag at the start of s (0, 0 if none).
func flagTags(s string) (n, chars int) {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == cancelTag && chars > 0:
			return i + size, chars + 1
		case chars < 8 && (r >= 0xE0030 && r <= 0xE0039 || r >= 0xE0061 && r <= 0xE007A):
			chars++
			i += size
		default:
			return 0, 0
		}
	}
	return 0, 0
}

// pictographic approximates Unicode's Extended_Pictographic property
// (which Go's unicode package lacks): the emoji outside the symbol blocks,
// the "other symbol" characters of the BMP symbol blocks, and the emoji
// planes' symbols and reserved code points (future emoji), leaving out
// regional indicators and skin-tone modifiers.
func pictographic(r rune) bool {
	switch {
	case r < 0xA9:
		return false
	case r == 0xA9, r == 0xAE, r == 0x203C, r == 0x2049, r == 0x2122, r == 0x2139, r == 0x2194,
		r == 0x3030, r == 0x303D, r == 0x3297, r == 0x3299:
		return true
	case r >= 0x2100 && r <= 0x2BFF:
		return unicode.Is(unicode.So, r)
	case r >= 0x1F1E6 && r <= 0x1F1FF, r >= 0x1F3FB && r <= 0x1F3FF:
		return false
	case r >= 0x1F000 && r <= 0x1FAFF, r >= 0x1FC00 && r <= 0x1FFFD:
		return unicode.Is(unicode.So, r) || !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.C)
	}
	return false
}

var runeNames = map[rune]string{
	0x0000: "null",
	0x0009: "character tabulation",
	0x000A: "line feed",
	0x000D: "carriage return",
	0x007F: "delete",
	0x00AD: "soft hyphen",
	0x061C: "arabic letter mark",
	0x115F: "hangul choseong filler",
	0x1160: "hangul jungseong filler",
	0x180E: "mongolian vowel separator",
	0x200B: "zero width space",
	0x200C: "zero width non-joiner",
	0x200D: "zero width joiner",
	0x200E: "left-to-right mark",
	0x200F: "right-to-left mark",
	0x2028: "line separator",
	0x2029: "paragraph separator",
	0x202A: "left-to-right embedding",
	0x202B: "right-to-left embedding",
	0x202C: "pop directional formatting",
	0x202D: "left-to-right override",
	0x202E: "right-to-left override",
	0x2060: "word joiner",
	0x2061: "function application",
	0x2062: "invisible times",
	0x2063: "invisible separator",
	0x2064: "invisible plus",
	0x2066: "left-to-right isolate",
	0x2067: "right-to-left isolate",
	0x2068: "first strong isolate",
	0x2069: "pop directional isolate",
	0x3164: "hangul filler",
	0xFEFF: "zero width no-break space",
	0xFFA0: "halfwidth hangul filler",
}
