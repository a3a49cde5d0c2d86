package strictjson

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind says which rule a body broke.
type Kind uint8

const (
	KindSyntax       Kind = iota + 1 // not JSON (or nested too deeply)
	KindEncoding                     // invalid UTF-8, a byte order mark, an unpaired surrogate escape
	KindShape                        // empty, not one object, or data after it
	KindDuplicate                    // a key twice in one object
	KindUnknownField                 // a key that is not exactly a field's JSON name
	KindValue                        // a value its field does not take
)

func (k Kind) String() string {
	switch k {
	case KindSyntax:
		return "syntax"
	case KindEncoding:
		return "encoding"
	case KindShape:
		return "shape"
	case KindDuplicate:
		return "duplicate"
	case KindUnknownField:
		return "unknown-field"
	case KindValue:
		return "value"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Error is a refused body. Error() is Msg: one sentence a client can act
// on, in JSON terms (field paths and JSON kinds, not Go types).
type Error struct {
	Kind Kind
	// Path is the JSON Pointer (RFC 6901) of the offending key or value,
	// e.g. "/items/0/amount"; "" for the body as a whole.
	Path string
	// Field is Path as the message writes it, e.g. "items[0].amount".
	Field string
	// Offset is the byte offset in the body, or -1 when unknown.
	Offset int
	Msg    string
	// Err is the underlying error from encoding/json or from a type's own
	// UnmarshalJSON, if any (so errors.Is finds custom sentinels).
	Err error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

func (d *decoder) newError(kind Kind, off int, msg string) *Error {
	return &Error{Kind: kind, Path: pointer(d.data, d.path), Field: display(d.data, d.path), Offset: off, Msg: msg}
}

func (d *decoder) syntaxAt(off int, what string) *Error {
	return d.newError(KindSyntax, off, fmt.Sprintf("invalid JSON at offset %d: %s", off, what))
}

func (d *decoder) encodingAt(off int, msg string) *Error {
	return d.newError(KindEncoding, off, msg)
}

// unexpected reports the byte at d.pos (or the end of the body).
func (d *decoder) unexpected(expect string) *Error {
	if expect != "" {
		expect = "; " + expect
	}
	if d.pos >= len(d.data) {
		return d.newError(KindSyntax, d.pos, fmt.Sprintf("invalid JSON: the body ends in the middle of a value (offset %d)%s", d.pos, expect))
	}
	c := d.data[d.pos]
	var what string
	switch {
	case c >= utf8.RuneSelf:
		r, size := utf8.DecodeRune(d.data[d.pos:])
		if r == utf8.RuneError && size == 1 {
			return d.encodingAt(d.pos, fmt.Sprintf("invalid UTF-8 at offset %d", d.pos))
		}
		what = fmt.Sprintf("U+%04X", r)
	case c < 0x20 || c == 0x7f:
		what = fmt.Sprintf("U+%04X", c)
	default:
		what = strconv.QuoteRune(rune(c))
	}
	return d.syntaxAt(d.pos, "unexpected character "+what+expect)
}

func (d *decoder) duplicate(off int) *Error {
	return d.newError(KindDuplicate, off, fmt.Sprintf("field %q appears twice", display(d.data, d.path)))
}

// duplicateKey reports a repeated map key; numeric says it only repeats
// an earlier key as the number a map with integer keys reads.
func (d *decoder) duplicateKey(off int, numeric bool) *Error {
	e := d.duplicate(off)
	if numeric {
		e.Msg += " (as a number it equals an earlier key)"
	}
	return e
}

func (d *decoder) unknownField(ti *tinfo, name string, off int) *Error {
	full := display(d.data, d.path)
	msg := fmt.Sprintf("unknown field %q", full)
	for _, n := range ti.names {
		if strings.EqualFold(n, name) {
			parent := display(d.data, d.path[:len(d.path)-1])
			if parent != "" {
				n = parent + "." + n
			}
			msg += fmt.Sprintf(" (field names are case-sensitive; did you mean %q?)", n)
			return d.newError(KindUnknownField, off, msg)
		}
	}
	switch n := len(ti.names); {
	case n == 0:
		msg += " (this object takes no fields)"
	case n == 1:
		msg += fmt.Sprintf(" (the only field here is %q)", ti.names[0])
	case n <= 12:
		q := make([]string, n)
		for i, name := range ti.names {
			q[i] = strconv.Quote(name)
		}
		msg += " (expected one of " + strings.Join(q, ", ") + ")"
	}
	return d.newError(KindUnknownField, off, msg)
}

func keyString(data []byte, s seg) string {
	if s.esc {
		return string(unescape(data[s.ks:s.ke]))
	}
	return string(data[s.ks:s.ke])
}

// pointer renders a path as a JSON Pointer.
func pointer(data []byte, path []seg) string {
	var b strings.Builder
	for _, s := range path {
		b.WriteByte('/')
		if s.idx >= 0 {
			b.WriteString(strconv.Itoa(s.idx))
			continue
		}
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(keyString(data, s)))
	}
	return b.String()
}

// display renders a path for messages: items[0].amount.
func display(data []byte, path []seg) string {
	var b strings.Builder
	for i, s := range path {
		if s.idx >= 0 {
			fmt.Fprintf(&b, "[%d]", s.idx)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(keyString(data, s))
	}
	return b.String()
}

func subject(field string) string {
	if field == "" {
		return "the body"
	}
	return fmt.Sprintf("field %q", field)
}

func typeError(data []byte, at []seg, key bool, te *json.UnmarshalTypeError) *Error {
	e := &Error{Kind: KindValue, Path: pointer(data, at), Field: display(data, at), Offset: int(te.Offset), Err: te}
	if key && len(at) > 0 {
		want, _ := describe(te.Type, "")
		name := keyString(data, at[len(at)-1])
		if parent := display(data, at[:len(at)-1]); parent != "" {
			e.Msg = fmt.Sprintf("key %q in field %q must be %s", name, parent, want)
		} else {
			e.Msg = fmt.Sprintf("key %q must be %s", name, want)
		}
		return e
	}
	want, got := describe(te.Type, te.Value)
	e.Msg = subject(e.Field) + " must be " + want
	if got != "" {
		e.Msg += ", not " + got
	}
	return e
}

// describe puts a Go type as the JSON it takes, and encoding/json's
// description of the value it got as something to show after "not".
func describe(t reflect.Type, value string) (want, got string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	num, isNum := strings.CutPrefix(value, "number ")
	switch value {
	case "string":
		got = "a string"
	case "bool":
		got = "a boolean"
	case "array":
		got = "an array"
	case "object":
		got = "an object"
	case "number":
		got = "a number"
	default:
		if isNum {
			got = num
		}
	}
	integer := isNum && !strings.ContainsAny(num, ".eE")
	if reflect.PointerTo(t).Implements(textUnmarshalerType) && !reflect.PointerTo(t).Implements(unmarshalerType) {
		return "a string", got
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if integer {
			bits := t.Bits()
			return fmt.Sprintf("an integer from %d to %d", int64(-1)<<(bits-1), int64(1)<<(bits-1)-1), got
		}
		return "an integer", got
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if integer {
			return fmt.Sprintf("an integer from 0 to %d", uint64(math.MaxUint64)>>(64-t.Bits())), got
		}
		return "a non-negative integer", got
	case reflect.Float32, reflect.Float64:
		if isNum {
			max := math.MaxFloat64
			if t.Kind() == reflect.Float32 {
				max = math.MaxFloat32
			}
			return fmt.Sprintf("a number no larger than %.2g in magnitude", max), got
		}
		return "a number", got
	case reflect.String:
		if t == numberType {
			return "a number", got
		}
		return "a string", got
	case reflect.Bool:
		return "true or false", got
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string", got
		}
		return "an array", got
	case reflect.Array:
		return "an array", got
	case reflect.Map, reflect.Struct:
		return "an object", got
	case reflect.Interface:
		if t.NumMethod() == 0 {
			return "a JSON value", got
		}
	}
	return "a value this endpoint supports", got
}

// candError reports a value that failed on its own with inner (err is the
// body's error, kept as Err).
func candError(data []byte, at []seg, c cand, inner, err error) *Error {
	e := &Error{Kind: KindValue, Path: pointer(data, at), Field: display(data, at), Offset: c.start, Err: err}
	subj := subject(e.Field)
	t := c.typ
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var b64 base64.CorruptInputError
	var te *json.UnmarshalTypeError
	switch {
	case c.quoted:
		want, _ := describe(c.typ, "")
		e.Msg = subj + " must be a string holding " + want
	case errors.As(err, &b64):
		e.Msg = subj + " must be a base64 string"
	case t == numberType:
		e.Msg = subj + " must be a number"
	case errors.As(inner, &te):
		// A custom UnmarshalJSON passing on encoding/json's error for a
		// part of the value.
		want, got := describe(te.Type, te.Value)
		e.Msg = subj + ": "
		if te.Field != "" {
			e.Msg += strconv.Quote(te.Field) + " "
		}
		e.Msg += "must be " + want
		if got != "" {
			e.Msg += ", not " + got
		}
	default:
		msg := stripJSON(inner.Error())
		if strings.HasPrefix(msg, "must ") {
			e.Msg = subj + " " + msg
		} else {
			e.Msg = subj + ": " + msg
		}
	}
	return e
}

func stripJSON(s string) string { return strings.TrimPrefix(s, "json: ") }
