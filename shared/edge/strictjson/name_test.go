package strictjson

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestCheckName(t *testing.T) {
	ok := []struct{ name, s string }{
		{"ASCII", "Kim Minji"},
		{"Latin with digits and punctuation", "Park's Kitchen #2 (Gangnam)"},
		{"Hangul", "김밥천국"},
		{"Hangul and Latin", "Minji 김밥 Kitchen"},
		{"Hangul, Han and Latin", "서울 飯店 Seoul"},
		{"kana, Han and Latin", "カフェ東京 Cafe ひよこ"},
		{"Bopomofo, Han and Latin", "ㄅㄆ 台北 Taipei"},
		{"Cyrillic alone", "Кафе Москва 24"},
		{"Greek alone", "Ταβέρνα"},
		{"Arabic alone", "مطعم ٣"},
		{"Devanagari: nukta, vowel sign, nasal", "क़ीँ ढाबा"},
		{"Thai: vowel and tone mark", "ร้านอาหาร"},
		{"Vietnamese NFD: two marks", "Phở Vie\u0323\u0302t"},
		{"three combining marks", "e\u0301\u0302\u0303"},
		{"combining acute", "Cafe\u0301"},
		{"emoji", "Kim 🍜👍🏽 👨‍👩‍👧"},
		{"keycap", "1\uFE0F\u20E3 Pizza"},
		{"unassigned (new emoji)", "Kim \U0001FAE9"},
		{"empty", ""},
	}
	for _, tc := range ok {
		t.Run("ok/"+tc.name, func(t *testing.T) {
			if err := CheckName(tc.s); err != nil {
				t.Errorf("CheckName(%q) = %v", tc.s, err)
			}
		})
	}
	bad := []struct {
		name, s string
		r       rune
		pos     int
		msg     string
	}{
		{"Cyrillic i in a Latin name", "Mіnji Kitchen", 0x0456, 2,
			"character U+0456 at position 2 is not allowed: it is a character of the Cyrillic script in a name written in Latin: " +
				"a name may not mix scripts (except Latin with Han and Hangul, Hiragana and Katakana, or Bopomofo)"},
		{"Latin a in a Cyrillic name", "Кaфе", 'a', 2, ""},
		{"Greek omicron in a Latin name", "Mοnji", 0x03BF, 2, ""},
		{"Hangul and kana", "김밥 カフェ", 0x30AB, 4, ""},
		{"Latin, Hangul and Cyrillic", "Kim 김 Кim", 0x041A, 7, ""},
		{"Armenian in Latin", "Kim Հ", 0x0540, 5, ""},
		{"four combining marks", "e\u0301\u0302\u0303\u0304", 0x0304, 5,
			"character U+0304 at position 5 is not allowed: it is combining mark number 4 on one character (a name allows at most 3 in a row)"},
		{"ninety combining marks", "Z" + strings.Repeat("\u0336", 90) + "ed", 0x0336, 5, ""},
		{"marks with no base", "\u0301\u0301\u0301\u0301", 0x0301, 4, ""},
		{"text rules first", "Kim\u200B", 0x200B, 4, ""},
	}
	for _, tc := range bad {
		t.Run("bad/"+tc.name, func(t *testing.T) {
			var e *TextError
			if err := CheckName(tc.s); !errors.As(err, &e) {
				t.Fatalf("CheckName(%q) = %v, want *TextError", tc.s, err)
			}
			if e.Rune != tc.r || e.Pos != tc.pos {
				t.Errorf("got U+%04X at %d, want U+%04X at %d (%v)", e.Rune, e.Pos, tc.r, tc.pos, e)
			}
			if tc.msg != "" && e.Error() != tc.msg {
				t.Errorf("msg = %q\nwant  %q", e.Error(), tc.msg)
			}
		})
	}
}

func TestScript(t *testing.T) {
	for r, want := range map[rune]string{'a': "Latin", 'і': "Cyrillic", 'ο': "Greek", '김': "Hangul", '東': "Han", 'か': "Hiragana",
		'カ': "Katakana", 'ㄅ': "Bopomofo", 'Հ': "Armenian", '1': "", ' ': "", '!': "", '🍜': "", 0x0301: "", 0x3099: "", 0x1FAE9: ""} {
		if got := Script(r); got != want {
			t.Errorf("Script(%q) = %q, want %q", r, got, want)
		}
	}
}

func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"", "Kim Minji", "Mіnji", "김밥 Kitchen", "カフェ東京 Cafe", "Кафе", "e\u0301\u0302\u0303",
		"e\u0301\u0302\u0303\u0304", "ㄅ台北 김", "Phở", "👨‍👩‍👧 Kim", "a\u200Bb", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := CheckName(s)
		if err != nil {
			var e *TextError
			if !errors.As(err, &e) {
				t.Fatalf("CheckName(%q) = %v (%T), want *TextError", s, err, err)
			}
			if e.Offset < 0 || e.Offset >= len(s) || utf8.RuneCountInString(s[:e.Offset])+1 != e.Pos {
				t.Fatalf("CheckName(%q): bad position %+v", s, e)
			}
			if !e.Invalid && !strings.Contains(e.Error(), "U+") {
				t.Fatalf("message does not name the character: %v", e)
			}
			if CheckText(s) == nil && naiveNameOK(s) {
				t.Fatalf("CheckName(%q) = %v, but the name keeps every rule", s, err)
			}
			return
		}
		if CheckText(s) != nil {
			t.Fatalf("CheckName accepts %q, which CheckText refuses", s)
		}
		if !naiveNameOK(s) {
			t.Fatalf("CheckName accepts %q, which mixes scripts or stacks marks", s)
		}
	})
}

// naiveNameOK is the two name rules written the slow, obvious way: the
// longest run of marks, and the set of scripts against every allowed set.
func naiveNameOK(s string) bool {
	run, longest := 0, 0
	scripts := map[string]bool{}
	for _, r := range s {
		if unicode.In(r, unicode.Mn, unicode.Mc, unicode.Me) {
			run++
		} else {
			run = 0
		}
		longest = max(longest, run)
		for name, table := range unicode.Scripts {
			if name != "Common" && name != "Inherited" && unicode.Is(table, r) {
				scripts[name] = true
			}
		}
	}
	if longest > MaxCombiningMarks {
		return false
	}
	if len(scripts) <= 1 {
		return true
	}
	for _, set := range [][]string{{"Latin", "Han", "Hiragana", "Katakana"}, {"Latin", "Han", "Bopomofo"}, {"Latin", "Han", "Hangul"}} {
		in := map[string]bool{}
		for _, sc := range set {
			in[sc] = true
		}
		all := true
		for sc := range scripts {
			all = all && in[sc]
		}
		if all {
			return true
		}
	}
	return false
}
