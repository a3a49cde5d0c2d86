package strictjson

import (
	"errors"
	"testing"
	"unicode/utf8"
)

func TestCheckText(t *testing.T) {
	ok := []struct{ name, s string }{
		{"empty", ""},
		{"ASCII", "Kim Chul-soo, lunch #3"},
		{"Hangul", "김철수 점심값"},
		{"accents precomposed", "café Zoë"},
		{"accents combining", "cafe\u0301"},
		{"spaces", "a b\u00a0c\u3000d\u2009e"},
		{"emoji", "🍜🎉👍🏽"},
		{"variation selector", "❤️ ☺︎"},
		{"ZWJ family", "👨‍👩‍👧"},
		{"ZWJ with skin tones", "👩🏽‍💻"},
		{"ZWJ after variation selector", "🏳️‍🌈"},
		{"ZWJ to a BMP symbol", "🏃‍♀️"},
		{"ZWJ black cat", "🐈‍⬛"},
		{"flag of Scotland", "🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F"},
		{"regional indicator flag", "🇰🇷"},
		{"black flag alone", "🏴 go"},
		{"Arabic", "مرحبا"},
		{"Devanagari", "नमस्ते"},
		{"CJK", "中文 日本語"},
		{"replacement character itself", "\uFFFD"},
		{"emoji newer than Go's tables", "\U0001FAE9"},
	}
	for _, tc := range ok {
		t.Run("ok/"+tc.name, func(t *testing.T) {
			if err := CheckText(tc.s); err != nil {
				t.Errorf("CheckText(%q) = %v, want nil", tc.s, err)
			}
		})
	}

	bad := []struct {
		name  string
		s     string
		r     rune
		pos   int
		msg   string // exact, when set
		inval bool
	}{
		{name: "NUL", s: "a\x00", r: 0, pos: 2, msg: "character U+0000 (null) at position 2 is not allowed: it is a control character"},
		{name: "newline", s: "a\nb", r: '\n', pos: 2},
		{name: "tab", s: "\tx", r: '\t', pos: 1},
		{name: "DEL", s: "x\x7f", r: 0x7f, pos: 2},
		{name: "C1 control", s: "x\u0085", r: 0x85, pos: 2},
		{name: "zero width space", s: "김\u200B철수", r: 0x200B, pos: 2, msg: "character U+200B (zero width space) at position 2 is not allowed: it is an invisible formatting character"},
		{name: "ZWNJ", s: "a\u200Cb", r: 0x200C, pos: 2},
		{name: "LRM", s: "\u200Eabc", r: 0x200E, pos: 1},
		{name: "RLM", s: "abc\u200F", r: 0x200F, pos: 4},
		{name: "RLO", s: "invoice\u202Efdp.exe", r: 0x202E, pos: 8},
		{name: "LRE", s: "\u202Ax", r: 0x202A, pos: 1},
		{name: "PDF", s: "x\u202C", r: 0x202C, pos: 2},
		{name: "word joiner", s: "a\u2060b", r: 0x2060, pos: 2},
		{name: "invisible plus", s: "1\u20642", r: 0x2064, pos: 2},
		{name: "isolate", s: "\u2067abc\u2069", r: 0x2067, pos: 1},
		{name: "pop isolate", s: "abc\u2069", r: 0x2069, pos: 4},
		{name: "BOM", s: "\uFEFFname", r: 0xFEFF, pos: 1},
		{name: "soft hyphen", s: "ad\u00ADmin", r: 0xAD, pos: 3},
		{name: "Arabic letter mark", s: "\u061Cx", r: 0x61C, pos: 1},
		{name: "Mongolian vowel separator", s: "x\u180E", r: 0x180E, pos: 2},
		{name: "ZWJ between letters", s: "ad\u200Dmin", r: 0x200D, pos: 3, msg: "character U+200D (zero width joiner) at position 3 is not allowed: it is a zero width joiner outside an emoji sequence"},
		{name: "ZWJ leading", s: "\u200D👩", r: 0x200D, pos: 1},
		{name: "ZWJ trailing", s: "👩\u200D", r: 0x200D, pos: 2},
		{name: "ZWJ doubled", s: "👩\u200D\u200D👩", r: 0x200D, pos: 2},
		{name: "ZWJ emoji then letter", s: "👩\u200Da", r: 0x200D, pos: 2},
		{name: "ZWJ letter then emoji", s: "a\u200D👩", r: 0x200D, pos: 2},
		{name: "ZWJ after space after emoji", s: "👩 \u200D👩", r: 0x200D, pos: 3},
		{name: "ZWJ between regional indicators", s: "🇰\u200D🇷", r: 0x200D, pos: 2},
		{name: "tag alone", s: "x\U000E0041", r: 0xE0041, pos: 2},
		{name: "flag tags without cancel", s: "🏴\U000E0067\U000E0062", r: 0xE0067, pos: 2},
		{name: "cancel tag alone", s: "\U000E007F", r: 0xE007F, pos: 1},
		{name: "upper-case tags", s: "🏴\U000E0047\U000E007F", r: 0xE0047, pos: 2},
		{name: "line separator", s: "a\u2028b", r: 0x2028, pos: 2},
		{name: "paragraph separator", s: "a\u2029", r: 0x2029, pos: 2},
		{name: "private use BMP", s: "\uE000", r: 0xE000, pos: 1},
		{name: "Apple logo private use", s: "x\uF8FF", r: 0xF8FF, pos: 2},
		{name: "private use plane 15", s: "\U000F0000", r: 0xF0000, pos: 1},
		{name: "noncharacter FDD0", s: "\uFDD0", r: 0xFDD0, pos: 1},
		{name: "noncharacter FFFE", s: "\uFFFE", r: 0xFFFE, pos: 1},
		{name: "noncharacter 1FFFF", s: "\U0001FFFF", r: 0x1FFFF, pos: 1},
		{name: "Hangul filler", s: "\u3164", r: 0x3164, pos: 1, msg: "character U+3164 (hangul filler) at position 1 is not allowed: it is an invisible filler character"},
		{name: "halfwidth Hangul filler", s: "김\uFFA0", r: 0xFFA0, pos: 2},
		{name: "Hangul choseong filler", s: "\u115F", r: 0x115F, pos: 1},
		{name: "invalid UTF-8", s: "ab\xffc", r: utf8.RuneError, pos: 3, inval: true, msg: "invalid UTF-8 at position 3 (byte offset 2)"},
		{name: "UTF-8 surrogate", s: "김\xed\xa0\x80", r: utf8.RuneError, pos: 2, inval: true},
		{name: "truncated UTF-8", s: "\xe2\x82", r: utf8.RuneError, pos: 1, inval: true},
		{name: "position counts characters", s: "김철수\u200B", r: 0x200B, pos: 4},
	}
	for _, tc := range bad {
		t.Run("bad/"+tc.name, func(t *testing.T) {
			err := CheckText(tc.s)
			var e *TextError
			if !errors.As(err, &e) {
				t.Fatalf("CheckText(%q) = %v, want *TextError", tc.s, err)
			}
			if e.Rune != tc.r || e.Pos != tc.pos || e.Invalid != tc.inval {
				t.Errorf("got rune U+%04X pos %d invalid %v, want U+%04X pos %d invalid %v (%v)", e.Rune, e.Pos, e.Invalid, tc.r, tc.pos, tc.inval, e)
			}
			if want := len(string([]rune(tc.s)[:tc.pos-1])); !tc.inval && e.Offset != want {
				t.Errorf("offset = %d, want %d", e.Offset, want)
			}
			if tc.msg != "" && e.Error() != tc.msg {
				t.Errorf("msg = %q\nwant  %q", e.Error(), tc.msg)
			}
		})
	}
}
