package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

type fuzzInner struct {
	Name string `json:"name"`
	V    []int  `json:"v,omitempty"`
}

type fuzzTarget struct {
	A  string         `json:"a"`
	N  json.Number    `json:"n"`
	Am AmountField    `json:"am"`
	I  int8           `json:"i"`
	P  *fuzzInner     `json:"p"`
	L  []fuzzInner    `json:"l"`
	M  map[string]any `json:"m"`
	K  map[int]bool   `json:"k"`
	X  any            `json:"x"`
	B  Blob           `json:"b"`
	Base
}

var decodeSeeds = []string{
	``, ` `, `null`, `{}`, `[]`, `{} {}`, "\xef\xbb\xbf{}",
	`{"a":"x","n":1.5,"am":100,"i":-8}`,
	`{"a":"x","a":"y"}`, `{"a":"x","A":"y"}`, `{"a":"x","\u0061":"y"}`,
	`{"p":{"name":"n","v":[1,2]},"l":[{"name":"a"},{"name":"b","name":"c"}]}`,
	`{"m":{"k":[{"z":1,"z":2}]},"x":{"q":{"r":null}}}`,
	`{"k":{"1":true,"01":false}}`, `{"k":{"x":true}}`,
	`{"b":{"s":1,"s":2}}`, `{"b":"anything"}`,
	`{"id":"i","shared":"s"}`, `{"ID":"i"}`,
	`{"a":"\ud800"}`, `{"a":"\udc00\ud800"}`, `{"a":"\ud83d\ude00"}`, "{\"a\":\"\xff\"}",
	`{"am":"1"}`, `{"am":null}`, `{"i":300}`, `{"i":1.5}`, `{"n":"12"}`, `{"n":"x"}`,
	`{"x":[1e400,-0,0.5e-3,true,false,null,"s",{},[]]}`, `{"a":1,}`, `{"a":"b"}x`,
}

func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got fuzzTarget
		err := Decode(data, &got)
		stdErr := stdDecodeOne(data, new(fuzzTarget))
		if err == nil {
			var want fuzzTarget
			if err := stdDecode(data, &want); err != nil {
				t.Fatalf("Decode accepts %q, encoding/json refuses: %v", data, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q: Decode %+v, encoding/json %+v", data, got, want)
			}
			if !utf8.Valid(data) {
				t.Fatalf("Decode accepts invalid UTF-8 %q", data)
			}
			if hasDuplicateKey(data) {
				t.Fatalf("Decode accepts a duplicate key: %q", data)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Decode(%q) = %v (%T), want *Error", data, err, err)
		}
		if e.Msg == "" || e.Kind < KindSyntax || e.Kind > KindValue {
			t.Fatalf("Decode(%q): bad error %+v", data, e)
		}
		for _, goName := range []string{"strictjson.", "fuzzInner", "fuzzTarget", "map[", "[]", "json.Number", "int8", "interface"} {
			if strings.Contains(e.Msg, goName) {
				t.Fatalf("Decode(%q): message leaks a Go type: %s", data, e.Msg)
			}
		}
		if stdErr == nil {
			// encoding/json takes the body: the refusal must be one of
			// the rules it does not have, never syntax or a value error.
			switch e.Kind {
			case KindSyntax, KindValue:
				t.Fatalf("Decode(%q) = %v (%v), but encoding/json accepts it", data, e.Kind, e)
			}
		}
	})
}

// stdDecodeOne is today's decoding: one value, then nothing.
func stdDecodeOne(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more data")
	}
	return nil
}

// hasDuplicateKey reports whether some object in data (as far as
// encoding/json's tokenizer reads it) has a key twice.
func hasDuplicateKey(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		keys    map[string]bool // nil for arrays
		wantKey bool
	}
	var stack []*frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].wantKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		top := (*frame)(nil)
		if n := len(stack); n > 0 {
			top = stack[n-1]
		}
		if s, ok := tok.(string); ok && top != nil && top.keys != nil && top.wantKey {
			if top.keys[s] {
				return true
			}
			top.keys[s] = true
			top.wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

func FuzzCheckText(f *testing.F) {
	for _, s := range []string{
		"", "Kim", "김철수", "café", "cafe\u0301", "👨‍👩‍👧", "👩🏽‍💻", "🏳️‍🌈", "ad\u200Dmin", "\u200D", "a\u200B",
		"\u202Eabc", "\uFEFF", "\u00AD", "\u3164", "\uE000", "\uFFFE", "a\nb", "\xff", "\xed\xa0\x80",
		"🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F", "🏴\U000E0067", "\U000E007F", "🇰🇷", "\U0001FAE9\u200D🔥",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := CheckText(s)
		if err == nil {
			if !utf8.ValidString(s) {
				t.Fatalf("CheckText accepts invalid UTF-8 %q", s)
			}
			rs := []rune(s)
			for k, r := range rs {
				switch {
				case unicode.IsControl(r):
					t.Fatalf("CheckText accepts control U+%04X in %q", r, s)
				case r == zwj:
					if !zwjInEmoji(rs, k) {
						t.Fatalf("CheckText accepts ZWJ outside emoji in %q", s)
					}
				case unicode.Is(unicode.Cf, r):
					if !tagInFlag(rs, k) {
						t.Fatalf("CheckText accepts format character U+%04X in %q", r, s)
					}
				}
			}
			return
		}
		var e *TextError
		if !errors.As(err, &e) {
			t.Fatalf("CheckText(%q) = %v (%T), want *TextError", s, err, err)
		}
		if e.Offset < 0 || e.Offset >= len(s) || utf8.RuneCountInString(s[:e.Offset])+1 != e.Pos {
			t.Fatalf("CheckText(%q): bad position %+v", s, e)
		}
		if e.Invalid {
			if r, size := utf8.DecodeRuneInString(s[e.Offset:]); r != utf8.RuneError || size != 1 {
				t.Fatalf("CheckText(%q): %+v but the text is valid there", s, e)
			}
			return
		}
		if r, _ := utf8.DecodeRuneInString(s[e.Offset:]); r != e.Rune {
			t.Fatalf("CheckText(%q): rune U+%04X at %d, error says U+%04X", s, r, e.Offset, e.Rune)
		}
		// Only the documented kinds of character are refused.
		r := e.Rune
		if !(unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Co, unicode.Zl, unicode.Zp, unicode.Other_Default_Ignorable_Code_Point) ||
			r >= 0xFDD0 && r <= 0xFDEF || r&0xFFFE == 0xFFFE) {
			t.Fatalf("CheckText(%q) refuses U+%04X: %v", s, r, e)
		}
		if !strings.Contains(e.Error(), "U+") {
			t.Fatalf("message does not name the character: %v", e)
		}
	})
}

// zwjInEmoji: the ZWJ at k has a pictographic character after it and one
// before it, variation selectors, skin tones and a flag's tags aside.
func zwjInEmoji(rs []rune, k int) bool {
	if k+1 >= len(rs) || !pictographic(rs[k+1]) {
		return false
	}
	for j := k - 1; j >= 0; j-- {
		switch r := rs[j]; {
		case r == 0xFE0E || r == 0xFE0F || r >= 0x1F3FB && r <= 0x1F3FF || r >= 0xE0020 && r <= 0xE007F:
		default:
			return pictographic(r)
		}
	}
	return false
}

// tagInFlag: the tag character at k belongs to U+1F3F4 tag... U+E007F.
func tagInFlag(rs []rune, k int) bool {
	isTag := func(r rune) bool { return r >= 0xE0030 && r <= 0xE0039 || r >= 0xE0061 && r <= 0xE007A }
	if rs[k] != cancelTag && !isTag(rs[k]) {
		return false
	}
	j := k
	for j > 0 && isTag(rs[j-1]) {
		j--
	}
	if rs[k] == cancelTag && j == k || j == 0 || rs[j-1] != blackFlag {
		return false
	}
	for ; k < len(rs); k++ {
		if rs[k] == cancelTag {
			return true
		}
		if !isTag(rs[k]) {
			return false
		}
	}
	return false
}
