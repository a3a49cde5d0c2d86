package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// AmountField mirrors shared/edge/httpapi's: a number literal only.
type AmountField string

var errNotNumber = errors.New("must be a JSON number of won, e.g. 10000")

func (a *AmountField) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] == '"' || b[0] == '{' || b[0] == '[' || string(b) == "null" || string(b) == "true" || string(b) == "false" {
		return errNotNumber
	}
	*a = AmountField(b)
	return nil
}

// Blob keeps any JSON as it came (a custom unmarshaler that takes objects).
type Blob struct{ Raw string }

func (b *Blob) UnmarshalJSON(data []byte) error { b.Raw = string(data); return nil }

// Period decodes itself through an auxiliary struct and passes on
// encoding/json's errors, a common pattern.
type Period struct{ Start, End int }

func (p *Period) UnmarshalJSON(b []byte) error {
	var aux struct {
		Start int `json:"start"`
		End   int `json:"end"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	p.Start, p.End = aux.Start, aux.End
	return nil
}

type Base struct {
	ID     string `json:"id"`
	Shared string `json:"shared"`
}

type Meta struct {
	Note string `json:"note"`
}

type Payee struct {
	Name string `json:"name"`
	Bank string `json:"bank"`
}

type Item struct {
	SKU   string      `json:"sku"`
	Qty   int         `json:"qty"`
	Price AmountField `json:"price"`
}

type Transfer struct {
	To     string         `json:"to"`
	Amount AmountField    `json:"amount"`
	Memo   string         `json:"memo,omitempty"`
	Fee    json.Number    `json:"fee,omitempty"`
	Payee  *Payee         `json:"payee"`
	Items  []Item         `json:"items"`
	Tags   map[string]any `json:"tags"`
	Counts map[int]int    `json:"counts"`
	Extra  any            `json:"extra"`
	Blob   Blob           `json:"blob"`
	Bytes  []byte         `json:"bytes"`
	Count  int64          `json:"count,string"`
	Period Period         `json:"period"`
	Secret string         `json:"-"`
	Dash   string         `json:"-,"`
	Plain  string
	hidden string
	Base
	*Meta
}

// Untagged X fields (go vet frowns on repeated json tags, even ones that
// exercise encoding/json's rules).
type X1 struct{ X string }
type X2 struct{ X string }

// XTagged names its field "X" by tag.
type XTagged struct {
	Y string `json:"X"`
}

// Conflict has two promoted X at the same depth: encoding/json drops it.
type Conflict struct {
	X1
	X2
}

// Shadow's own X hides the promoted one.
type Shadow struct {
	X1
	X int
}

// TaggedWins has two promoted X at the same depth; the tagged one wins.
type TaggedWins struct {
	X1
	XTagged
}

func newTransfer() any { return new(Transfer) }

type decodeCase struct {
	name string
	body string
	into func() any // default newTransfer
	// For refusals: the kind, the exact message (if set) or a part of it,
	// and the path.
	kind    Kind
	msg     string
	contain string
	path    string
	// For acceptances: an optional check of the decoded value.
	check func(t *testing.T, v any)
}

func TestDecode(t *testing.T) {
	deep := func(n int) string {
		return `{"extra":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`
	}
	manyKeys := func(dup bool) string {
		var b strings.Builder
		b.WriteString(`{"tags":{`)
		for i := range 40 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"k`)
			b.WriteString(strings.Repeat("x", i))
			b.WriteString(`":1`)
		}
		if dup {
			b.WriteString(`,"kxxxxx":2`)
		}
		b.WriteString(`}}`)
		return b.String()
	}
	cases := []decodeCase{
		// The body as a whole.
		{name: "empty", body: ``, kind: KindShape, msg: "the body is empty; send a JSON object"},
		{name: "whitespace only", body: " \n\t\r", kind: KindShape, msg: "the body holds only whitespace; send a JSON object"},
		{name: "null", body: `null`, kind: KindShape, msg: "the body must be one JSON object, not null"},
		{name: "array", body: `[{"to":"a"}]`, kind: KindShape, msg: "the body must be one JSON object, not an array"},
		{name: "string", body: `"x"`, kind: KindShape, msg: "the body must be one JSON object, not a string"},
		{name: "number", body: ` 12`, kind: KindShape, msg: "the body must be one JSON object, not a number"},
		{name: "two objects", body: `{} {}`, kind: KindShape, msg: "the body must be one JSON object; more data follows it at offset 3"},
		{name: "trailing garbage", body: `{"to":"a"}x`, kind: KindShape, contain: "more data follows it at offset 10"},
		{name: "trailing brace", body: `{"to":"a"}}`, kind: KindShape},
		{name: "trailing invalid byte", body: "{}\xff", kind: KindShape},
		{name: "surrounding whitespace", body: " \r\n\t{\"to\" : \"a\" }\n "},
		{name: "empty object", body: `{}`},
		{name: "byte order mark", body: "\xef\xbb\xbf{}", kind: KindEncoding, msg: "the body starts with a byte order mark (U+FEFF); send the JSON without it"},
		{name: "byte order mark after space", body: " \xef\xbb\xbf{}", kind: KindEncoding},

		// UTF-8 and surrogates.
		{name: "invalid UTF-8 in a value", body: "{\"memo\":\"ab\xffc\"}", kind: KindEncoding, msg: "invalid UTF-8 in a string at offset 11", path: "/memo"},
		{name: "invalid UTF-8 in a key", body: "{\"me\xc3mo\":\"a\"}", kind: KindEncoding, contain: "offset 4"},
		{name: "invalid UTF-8 outside strings", body: "{\xff}", kind: KindEncoding, msg: "invalid UTF-8 at offset 1"},
		{name: "UTF-8 encoded surrogate", body: "{\"memo\":\"\xed\xa0\x80\"}", kind: KindEncoding},
		{name: "overlong UTF-8", body: "{\"memo\":\"\xc0\xaf\"}", kind: KindEncoding},
		{name: "truncated UTF-8", body: "{\"memo\":\"\xe2\x82\"}", kind: KindEncoding},
		{name: "invalid UTF-8 deep in any", body: "{\"extra\":[{\"a\":\"\xfe\"}]}", kind: KindEncoding, path: "/extra/0/a"},
		{name: "lone high surrogate", body: `{"memo":"\ud800"}`, kind: KindEncoding, contain: `invalid escape \ud800 at offset 9`, path: "/memo"},
		{name: "high surrogate then letter", body: `{"memo":"\ud800x"}`, kind: KindEncoding},
		{name: "high surrogate then non-surrogate escape", body: `{"memo":"\ud800\u0041"}`, kind: KindEncoding},
		{name: "two high surrogates", body: `{"memo":"\ud800\ud800"}`, kind: KindEncoding},
		{name: "lone low surrogate", body: `{"memo":"\udc00"}`, kind: KindEncoding, contain: "low surrogate"},
		{name: "reversed pair", body: `{"memo":"\udc00\ud800"}`, kind: KindEncoding},
		{name: "lone surrogate in a key", body: `{"tags":{"\ud800":1}}`, kind: KindEncoding},
		{name: "lone surrogate under a custom unmarshaler", body: `{"blob":["\udfff"]}`, kind: KindEncoding},
		{name: "surrogate pair", body: `{"memo":"\ud83d\ude00 \uD83D\uDE00"}`, check: func(t *testing.T, v any) {
			if got := v.(*Transfer).Memo; got != "😀 😀" {
				t.Errorf("memo = %q", got)
			}
		}},
		{name: "escapes", body: `{"memo":"\"\\\/\b\f\n\r\t\u00e9\u0000"}`, check: func(t *testing.T, v any) {
			if got := v.(*Transfer).Memo; got != "\"\\/\b\f\n\r\té\x00" {
				t.Errorf("memo = %q", got)
			}
		}},
		{name: "Korean and emoji", body: `{"memo":"점심 값 🍜 café"}`},

		// Duplicates, at any depth.
		{name: "duplicate top-level field", body: `{"amount":1,"amount":2000000}`, kind: KindDuplicate, msg: `field "amount" appears twice`, path: "/amount"},
		{name: "duplicate through an escape", body: `{"amount":1,"\u0061mount":2}`, kind: KindDuplicate, msg: `field "amount" appears twice`},
		{name: "duplicate in a nested struct", body: `{"payee":{"name":"a","bank":"b","name":"c"}}`, kind: KindDuplicate, msg: `field "payee.name" appears twice`, path: "/payee/name"},
		{name: "duplicate in an array of objects", body: `{"items":[{"sku":"a"},{"sku":"b","qty":1,"sku":"c"}]}`, kind: KindDuplicate, msg: `field "items[1].sku" appears twice`, path: "/items/1/sku"},
		{name: "duplicate in map[string]any", body: `{"tags":{"k":1,"j":2,"k":3}}`, kind: KindDuplicate, msg: `field "tags.k" appears twice`, path: "/tags/k"},
		{name: "duplicate deep in any", body: `{"extra":[[{"a":{"b":1,"b":2}}]]}`, kind: KindDuplicate, path: "/extra/0/0/a/b"},
		{name: "duplicate under a custom unmarshaler", body: `{"blob":{"x":1,"x":2}}`, kind: KindDuplicate, path: "/blob/x"},
		{name: "duplicate promoted field", body: `{"id":"a","id":"b"}`, kind: KindDuplicate},
		{name: "duplicate among many keys", body: manyKeys(true), kind: KindDuplicate, path: "/tags/kxxxxx"},
		{name: "many distinct keys", body: manyKeys(false)},
		{name: "integer map keys 1 and 01", body: `{"counts":{"1":1,"01":2}}`, kind: KindDuplicate, contain: "as a number it equals an earlier key"},
		{name: "duplicate key with pointer escapes", body: `{"tags":{"a/b~c":1,"a/b~c":2}}`, kind: KindDuplicate, path: "/tags/a~1b~0c"},
		{name: "duplicate through \\n and \\u000a", body: `{"tags":{"a\nb":1,"a\u000ab":2}}`, kind: KindDuplicate},
		{name: "duplicate through \\/", body: `{"tags":{"\/":1,"/":2}}`, kind: KindDuplicate, path: "/tags/~1"},
		{name: "duplicate through a surrogate pair", body: `{"tags":{"\ud83d\ude00":1,"😀":2}}`, kind: KindDuplicate, msg: `field "tags.😀" appears twice`},
		{name: "escaped keys that differ", body: `{"tags":{"\b\f\r\t\"\\":1,"\b\f\r\t\"":2}}`},
		{name: "same key in sibling objects", body: `{"items":[{"sku":"a"},{"sku":"b"}],"tags":{"sku":1,"x":{"sku":2}}}`},

		// Field names: exact, case-sensitive, as encoding/json names them.
		{name: "case variant beside the field", body: `{"amount":1,"AMOUNT":5000}`, kind: KindUnknownField, msg: `unknown field "AMOUNT" (field names are case-sensitive; did you mean "amount"?)`, path: "/AMOUNT"},
		{name: "case variant alone", body: `{"Amount":1}`, kind: KindUnknownField, contain: `did you mean "amount"?`},
		{name: "case variant nested", body: `{"items":[{"SKU":"a"}]}`, kind: KindUnknownField, msg: `unknown field "items[0].SKU" (field names are case-sensitive; did you mean "items[0].sku"?)`},
		{name: "Kelvin sign folding", body: `{"items":[{"s\u212au":"a"}]}`, kind: KindUnknownField, contain: `did you mean "items[0].sku"?`},
		{name: "unknown field", body: `{"payee":{"nmae":"a"}}`, kind: KindUnknownField, msg: `unknown field "payee.nmae" (expected one of "name", "bank")`, path: "/payee/nmae"},
		{name: "json dash field", body: `{"Secret":"x"}`, kind: KindUnknownField},
		{name: "json dash field lower case", body: `{"secret":"x"}`, kind: KindUnknownField},
		{name: "dash comma names a field -", body: `{"-":"x"}`, check: func(t *testing.T, v any) {
			if v.(*Transfer).Dash != "x" {
				t.Error("Dash not set")
			}
		}},
		{name: "untagged field name", body: `{"Plain":"x"}`},
		{name: "untagged field name in lower case", body: `{"plain":"x"}`, kind: KindUnknownField, contain: `did you mean "Plain"?`},
		{name: "unexported field", body: `{"hidden":"x"}`, kind: KindUnknownField},
		{name: "promoted fields", body: `{"id":"i","shared":"s","note":"n"}`, check: func(t *testing.T, v any) {
			tr := v.(*Transfer)
			if tr.ID != "i" || tr.Shared != "s" || tr.Meta == nil || tr.Note != "n" {
				t.Errorf("got %+v", tr)
			}
		}},
		{name: "embedded struct name is no field", body: `{"Base":{}}`, kind: KindUnknownField},
		{name: "ambiguous promoted field is dropped", body: `{"X":"a"}`, into: func() any { return new(Conflict) }, kind: KindUnknownField, msg: `unknown field "X" (this object takes no fields)`},
		{name: "outer field shadows promoted", body: `{"X":1}`, into: func() any { return new(Shadow) }, check: func(t *testing.T, v any) {
			if s := v.(*Shadow); s.X != 1 || s.X1.X != "" {
				t.Errorf("got %+v", s)
			}
		}},
		{name: "tagged promoted field wins", body: `{"X":"a"}`, into: func() any { return new(TaggedWins) }, check: func(t *testing.T, v any) {
			if s := v.(*TaggedWins); s.Y != "a" || s.X1.X != "" {
				t.Errorf("got %+v", s)
			}
		}},
		{name: "omitempty tag", body: `{"memo":"m"}`},

		// Custom unmarshalers still run, and their errors find their field.
		{name: "amount as string", body: `{"amount":"100"}`, kind: KindValue, msg: `field "amount" must be a JSON number of won, e.g. 10000`, path: "/amount"},
		{name: "amount as null", body: `{"amount":null}`, kind: KindValue, path: "/amount"},
		{name: "second price as string", body: `{"items":[{"price":1},{"price":"2"}]}`, kind: KindValue, msg: `field "items[1].price" must be a JSON number of won, e.g. 10000`, path: "/items/1/price"},
		{name: "custom unmarshaler passing on a type error", body: `{"to":"a","items":[{"qty":1}],"period":{"start":1,"end":"2"}}`, kind: KindValue,
			msg: `field "period": "end" must be an integer, not a string`, path: "/period"},
		{name: "custom unmarshaler duplicate inside", body: `{"period":{"start":1,"start":2}}`, kind: KindDuplicate, path: "/period/start"},
		{name: "custom unmarshaler", body: `{"period":{"start":1,"end":2}}`, check: func(t *testing.T, v any) {
			if p := v.(*Transfer).Period; p.Start != 1 || p.End != 2 {
				t.Errorf("period = %+v", p)
			}
		}},
		{name: "custom unmarshaler takes objects", body: `{"blob":{"a":[1,{"b":null}]}}`, check: func(t *testing.T, v any) {
			if got := v.(*Transfer).Blob.Raw; got != `{"a":[1,{"b":null}]}` {
				t.Errorf("blob = %s", got)
			}
		}},

		// Type mismatches, in JSON words.
		{name: "string field given a number", body: `{"to":1}`, kind: KindValue, msg: `field "to" must be a string, not a number`, path: "/to"},
		{name: "integer given a fraction", body: `{"items":[{"qty":1.5}]}`, kind: KindValue, msg: `field "items[0].qty" must be an integer, not 1.5`, path: "/items/0/qty"},
		{name: "integer out of range", body: `{"items":[{"qty":99999999999999999999}]}`, kind: KindValue, contain: "must be an integer from -9223372036854775808 to 9223372036854775807"},
		{name: "array given an object", body: `{"items":{}}`, kind: KindValue, msg: `field "items" must be an array, not an object`},
		{name: "object given a string", body: `{"payee":"bob"}`, kind: KindValue, msg: `field "payee" must be an object, not a string`},
		{name: "number given a boolean", body: `{"fee":true}`, kind: KindValue, msg: `field "fee" must be a number, not a boolean`},
		{name: "number given a non-number string", body: `{"fee":"abc"}`, kind: KindValue, msg: `field "fee" must be a number`},
		{name: "map key not an integer", body: `{"counts":{"x":1}}`, kind: KindValue, msg: `key "x" in field "counts" must be an integer`},
		{name: "bytes not base64", body: `{"bytes":"!!"}`, kind: KindValue, msg: `field "bytes" must be a base64 string`},
		{name: "quoted field", body: `{"count":"12"}`, check: func(t *testing.T, v any) {
			if v.(*Transfer).Count != 12 {
				t.Error("count not 12")
			}
		}},
		{name: "quoted field unquoted", body: `{"count":12}`, kind: KindValue, msg: `field "count" must be a string holding an integer`},
		{name: "array element", body: `{"items":[{"sku":"a"},{"sku":true}]}`, kind: KindValue, path: "/items/1/sku"},

		// Numbers stay exact.
		{name: "exact json.Number", body: `{"fee":12345678901234567890.123456789}`, check: func(t *testing.T, v any) {
			if got := v.(*Transfer).Fee; got != "12345678901234567890.123456789" {
				t.Errorf("fee = %s", got)
			}
		}},
		{name: "exact amount", body: `{"amount":100000000000000000001}`, check: func(t *testing.T, v any) {
			if got := v.(*Transfer).Amount; got != "100000000000000000001" {
				t.Errorf("amount = %s", got)
			}
		}},
		{name: "huge number in any", body: `{"extra":[1e400,-0.0]}`, check: func(t *testing.T, v any) {
			if got := v.(*Transfer).Extra; !reflect.DeepEqual(got, []any{json.Number("1e400"), json.Number("-0.0")}) {
				t.Errorf("extra = %#v", got)
			}
		}},
		{name: "json.Number from a string", body: `{"fee":"10"}`},

		// Nulls.
		{name: "nulls", body: `{"to":null,"payee":null,"items":null,"tags":null,"extra":null,"fee":null,"counts":null,"bytes":null}`},
		{name: "null inside arrays", body: `{"items":[null,{"sku":"a"}],"extra":[null]}`},

		// Syntax.
		{name: "trailing comma", body: `{"to":"a",}`, kind: KindSyntax, contain: "expected a field name"},
		{name: "single quotes", body: `{'to':1}`, kind: KindSyntax},
		{name: "missing colon", body: `{"to" "a"}`, kind: KindSyntax, contain: "expected ':'"},
		{name: "bad literal", body: `{"to":tru}`, kind: KindSyntax},
		{name: "literal with tail", body: `{"extra":truex}`, kind: KindSyntax},
		{name: "unterminated", body: `{"to":"a"`, kind: KindSyntax, contain: "ends in the middle"},
		{name: "unterminated string", body: `{"to":"a`, kind: KindSyntax},
		{name: "leading zero", body: `{"fee":01}`, kind: KindSyntax},
		{name: "bare minus", body: `{"fee":-}`, kind: KindSyntax},
		{name: "no fraction digits", body: `{"fee":1.}`, kind: KindSyntax},
		{name: "no integer digits", body: `{"fee":.5}`, kind: KindSyntax},
		{name: "no exponent digits", body: `{"fee":1e+}`, kind: KindSyntax},
		{name: "NaN", body: `{"fee":NaN}`, kind: KindSyntax},
		{name: "bad escape", body: `{"to":"\x"}`, kind: KindSyntax},
		{name: "short unicode escape", body: `{"to":"\u12"}`, kind: KindSyntax},
		{name: "raw control character", body: "{\"to\":\"a\x01\"}", kind: KindSyntax, contain: "control character U+0001"},
		{name: "raw newline in string", body: "{\"to\":\"a\nb\"}", kind: KindSyntax},
		{name: "missing comma in array", body: `{"extra":[1 2]}`, kind: KindSyntax, contain: "expected ',' or ']'"},
		{name: "max depth", body: deep(MaxDepth - 1)},
		{name: "too deep", body: deep(MaxDepth), kind: KindSyntax, contain: "nests"},

		// Targets other than structs.
		{name: "map target takes any value shape", body: `{"a":1,"A":2}`, into: func() any { return new(map[string]any) }},
		{name: "map target duplicate", body: `{"a":1,"a":2}`, into: func() any { return new(map[string]any) }, kind: KindDuplicate},
		{name: "slice target", body: `[{"sku":"a"},{"SKU":"b"}]`, into: func() any { return new([]Item) }, kind: KindUnknownField, path: "/1/SKU"},
		{name: "any target array", body: `[1,{"a":[]}]`, into: func() any { return new(any) }},
		{name: "any target trailing", body: `1 2`, into: func() any { return new(any) }, kind: KindShape, msg: "the body must be one JSON value; more data follows it at offset 2"},
		{name: "pointer to pointer to struct", body: `{"sku":"a"}`, into: func() any { p := new(*Item); return p }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			into := tc.into
			if into == nil {
				into = newTransfer
			}
			v := into()
			err := Decode([]byte(tc.body), v)
			if tc.kind == 0 {
				if err != nil {
					t.Fatalf("Decode(%q) = %v, want nil", tc.body, err)
				}
				want := into()
				if err := stdDecode([]byte(tc.body), want); err != nil {
					t.Fatalf("encoding/json refuses what Decode accepts: %v", err)
				}
				if !reflect.DeepEqual(v, want) {
					t.Fatalf("Decode = %+v, encoding/json = %+v", v, want)
				}
				if tc.check != nil {
					tc.check(t, v)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode(%q) = %v (%T), want *Error", tc.body, err, err)
			}
			if e.Kind != tc.kind {
				t.Errorf("kind = %v, want %v (%s)", e.Kind, tc.kind, e.Msg)
			}
			if tc.msg != "" && e.Msg != tc.msg {
				t.Errorf("msg = %q\nwant  %q", e.Msg, tc.msg)
			}
			if tc.contain != "" && !strings.Contains(e.Msg, tc.contain) {
				t.Errorf("msg = %q, want it to contain %q", e.Msg, tc.contain)
			}
			if tc.path != "" && e.Path != tc.path {
				t.Errorf("path = %q, want %q", e.Path, tc.path)
			}
			if e.Error() != e.Msg {
				t.Errorf("Error() = %q, Msg = %q", e.Error(), e.Msg)
			}
			for _, goName := range []string{"strictjson.", "main.", "*", "[]", "map[", "json.Number", "interface"} {
				if strings.Contains(e.Msg, goName) {
					t.Errorf("message leaks a Go type (%q): %s", goName, e.Msg)
				}
			}
		})
	}
}

func stdDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func TestDecodeCustomErrorUnwraps(t *testing.T) {
	var v Transfer
	err := Decode([]byte(`{"to":"u_1","amount":"5"}`), &v)
	if !errors.Is(err, errNotNumber) {
		t.Fatalf("errors.Is(%v, errNotNumber) = false", err)
	}
}

func TestDecodeNeedsPointer(t *testing.T) {
	for _, v := range []any{nil, Transfer{}, (*Transfer)(nil)} {
		err := Decode([]byte(`{}`), v)
		var e *Error
		if err == nil || errors.As(err, &e) {
			t.Errorf("Decode(%T) = %v, want a plain programming error", v, err)
		}
	}
}

// TestDecodeStaysLikeEncodingJSON decodes bodies both ways where the rules
// do not apply, so the values (and the errors' existence) agree.
func TestDecodeStaysLikeEncodingJSON(t *testing.T) {
	bodies := []string{
		`{"to":"u_1","amount":15000,"memo":"lunch"}`,
		`{"payee":{"name":"김철수","bank":"088"},"items":[{"sku":"a","qty":2,"price":500}]}`,
		`{"tags":{"a":[1,2,{"b":"c"}],"d":null},"extra":{"x":1.25e3},"counts":{"-3":4,"7":8}}`,
		`{"bytes":"aGVsbG8=","blob":[true,false,null]}`,
	}
	for _, b := range bodies {
		var got, want Transfer
		if err := Decode([]byte(b), &got); err != nil {
			t.Fatalf("Decode(%s): %v", b, err)
		}
		if err := stdDecode([]byte(b), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\nDecode        %+v\nencoding/json %+v", b, got, want)
		}
	}
}

// TestDecodeWideStruct covers structs with more than 64 fields.
func TestDecodeWideStruct(t *testing.T) {
	var fields []reflect.StructField
	for i := range 70 {
		fields = append(fields, reflect.StructField{
			Name: "F" + strconv.Itoa(i), Type: reflect.TypeFor[int](), Tag: reflect.StructTag(`json:"f` + strconv.Itoa(i) + `"`),
		})
	}
	typ := reflect.StructOf(fields)
	v := reflect.New(typ).Interface()
	if err := Decode([]byte(`{"f0":1,"f69":2,"f64":3}`), v); err != nil {
		t.Fatal(err)
	}
	if got := reflect.ValueOf(v).Elem().Field(69).Int(); got != 2 {
		t.Errorf("f69 = %d", got)
	}
	err := Decode([]byte(`{"f69":1,"f0":1,"f69":2}`), reflect.New(typ).Interface())
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindDuplicate || e.Path != "/f69" {
		t.Errorf("Decode = %v, want f69 twice", err)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindSyntax: "syntax", KindEncoding: "encoding", KindShape: "shape",
		KindDuplicate: "duplicate", KindUnknownField: "unknown-field", KindValue: "value", 0: "Kind(0)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}
