package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is how deeply arrays and objects may nest (encoding/json's limit).
const MaxDepth = 10000

// Decode checks data against the rules in the package documentation and
// then decodes it into v, a non-nil pointer, with encoding/json (UseNumber,
// DisallowUnknownFields). Any refusal is an *Error; v may have been partly
// filled only when the refusal comes from decoding a value (KindValue).
func Decode(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("strictjson: Decode needs a non-nil pointer, not %T", v)
	}
	d := decoder{data: data}
	if err := d.top(rv.Type()); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return d.valueError(err)
	}
	return nil
}

// seg is one step of the path to the value being checked: an array index,
// or an object key kept as its raw bytes (decoded only for messages).
type seg struct {
	idx    int // -1 for a key
	ks, ke int // the key's bytes inside its quotes
	esc    bool
}

// cand is a value whose decoding may fail without saying where.
type cand struct {
	typ        reflect.Type
	start, end int
	quoted     bool
}

type decoder struct {
	data  []byte
	pos   int
	depth int
	path  []seg
	keys  [][]byte // keys of the open generic objects, for duplicates
	cands []cand

	// Locate mode (error path only): find the innermost value or key whose
	// bytes end at or after loc and start before it.
	loc      int
	found    bool
	foundKey bool
	foundAt  []seg
}

func (d *decoder) top(t reflect.Type) error {
	d.skipWS()
	if d.pos == len(d.data) {
		if len(d.data) == 0 {
			return &Error{Kind: KindShape, Offset: 0, Msg: "the body is empty; send a JSON object"}
		}
		return &Error{Kind: KindShape, Offset: d.pos, Msg: "the body holds only whitespace; send a JSON object"}
	}
	if bytes.HasPrefix(d.data[d.pos:], []byte("\uFEFF")) {
		return &Error{Kind: KindEncoding, Offset: d.pos, Msg: "the body starts with a byte order mark (U+FEFF); send the JSON without it"}
	}
	et := t
	for et.Kind() == reflect.Pointer {
		et = et.Elem()
	}
	object := et.Kind() == reflect.Struct
	if c := d.data[d.pos]; object && c != '{' {
		if what := jsonKind(c); what != "" {
			return &Error{Kind: KindShape, Offset: d.pos, Msg: "the body must be one JSON object, not " + what}
		}
		return d.unexpected("the body must be one JSON object")
	}
	if err := d.value(t); err != nil {
		return err
	}
	d.skipWS()
	if d.pos != len(d.data) {
		what := "value"
		if object {
			what = "object"
		}
		return &Error{Kind: KindShape, Offset: d.pos, Msg: fmt.Sprintf("the body must be one JSON %s; more data follows it at offset %d", what, d.pos)}
	}
	return nil
}

func jsonKind(c byte) string {
	switch {
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == '-' || '0' <= c && c <= '9':
		return "a number"
	case c == 't' || c == 'f':
		return "true or false"
	case c == 'n':
		return "null"
	}
	return ""
}

func (d *decoder) skipWS() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// value checks one JSON value at d.pos (whitespace already skipped) meant
// for a Go value of type t (nil: anything, only generic rules apply).
func (d *decoder) value(t reflect.Type) error {
	if d.pos >= len(d.data) {
		return d.unexpected("")
	}
	start := d.pos
	var ti *tinfo
	if t != nil {
		ti = infoOf(t)
	}
	var err error
	switch c := d.data[d.pos]; {
	case c == '{':
		switch {
		case ti != nil && ti.class == classStruct:
			err = d.structObject(ti)
		case ti != nil && ti.class == classMap:
			err = d.object(ti.elem, ti.keyKind)
		default:
			err = d.object(nil, keyPlain)
		}
	case c == '[':
		var elem reflect.Type
		if ti != nil && ti.class == classList {
			elem = ti.elem
		}
		err = d.array(elem)
	case c == '"':
		_, _, _, err = d.str()
	case c == '-' || '0' <= c && c <= '9':
		err = d.number()
	case c == 't':
		err = d.literal("true")
	case c == 'f':
		err = d.literal("false")
	case c == 'n':
		err = d.literal("null")
	default:
		err = d.unexpected("expected a JSON value")
	}
	if err != nil {
		return err
	}
	if ti != nil && ti.rerun {
		d.cands = append(d.cands, cand{typ: t, start: start, end: d.pos})
	}
	d.noteLocation(start, false)
	return nil
}

func (d *decoder) noteLocation(start int, key bool) {
	if d.loc > 0 && !d.found && start < d.loc && d.loc <= d.pos {
		d.found, d.foundKey = true, key
		d.foundAt = append([]seg(nil), d.path...)
	}
}

// enter steps into an object or array (at its opening byte), one level
// deeper; empty is true when closing follows at once: the value is {} or
// [], consumed, and left again.
func (d *decoder) enter(closing byte) (empty bool, err error) {
	d.depth++
	if d.depth > MaxDepth {
		return false, &Error{Kind: KindSyntax, Path: pointer(d.data, d.path), Field: display(d.data, d.path), Offset: d.pos,
			Msg: fmt.Sprintf("the body nests arrays and objects more than %d deep", MaxDepth)}
	}
	d.pos++
	d.skipWS()
	if d.pos < len(d.data) && d.data[d.pos] == closing {
		d.pos++
		d.depth--
		return true, nil
	}
	return false, nil
}

// key reads an object key and the colon after it, pushing the key on the
// path; the caller pops it.
func (d *decoder) key() (name []byte, err error) {
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return nil, d.unexpected(`expected a field name in double quotes`)
	}
	start := d.pos
	ks, ke, esc, err := d.str()
	if err != nil {
		return nil, err
	}
	d.path = append(d.path, seg{idx: -1, ks: ks, ke: ke, esc: esc})
	d.noteLocation(start, true)
	d.skipWS()
	if d.pos >= len(d.data) || d.data[d.pos] != ':' {
		return nil, d.unexpected(`expected ':' after the field name`)
	}
	d.pos++
	d.skipWS()
	if esc {
		return unescape(d.data[ks:ke]), nil
	}
	return d.data[ks:ke], nil
}

// next consumes the ',' or closing byte after a member or element and
// reports whether another one follows.
func (d *decoder) next(closing byte) (bool, error) {
	d.skipWS()
	if d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ',':
			d.pos++
			d.skipWS()
			return true, nil
		case closing:
			d.pos++
			d.depth--
			return false, nil
		}
	}
	return false, d.unexpected(fmt.Sprintf("expected ',' or '%c'", closing))
}

func (d *decoder) structObject(ti *tinfo) error {
	if empty, err := d.enter('}'); err != nil || empty {
		return err
	}
	var seen uint64
	var seenBig []bool
	if len(ti.names) > 64 {
		seenBig = make([]bool, len(ti.names))
	}
	for {
		keyAt := d.pos
		name, err := d.key()
		if err != nil {
			return err
		}
		f, ok := ti.fields[string(name)]
		if !ok {
			return d.unknownField(ti, string(name), keyAt)
		}
		if seenBig != nil && seenBig[f.bit] || seenBig == nil && seen&(1<<f.bit) != 0 {
			return d.duplicate(keyAt)
		}
		if seenBig != nil {
			seenBig[f.bit] = true
		} else {
			seen |= 1 << f.bit
		}
		start := d.pos
		if err := d.value(f.typ); err != nil {
			return err
		}
		if f.quoted {
			d.cands = append(d.cands, cand{typ: f.typ, start: start, end: d.pos, quoted: true})
		}
		d.path = d.path[:len(d.path)-1]
		more, err := d.next('}')
		if err != nil || !more {
			return err
		}
	}
}

// object checks a map or generic object: no key twice, as the map would
// see the keys (so "1" and "01" collide in a map with integer keys).
func (d *decoder) object(elem reflect.Type, keyKind int) error {
	if empty, err := d.enter('}'); err != nil || empty {
		return err
	}
	base := len(d.keys)
	var big map[string]struct{}
	for {
		keyAt := d.pos
		name, err := d.key()
		if err != nil {
			return err
		}
		raw := name
		name = canonicalKey(name, keyKind)
		numeric := !bytes.Equal(raw, name)
		if big != nil {
			if _, dup := big[string(name)]; dup {
				return d.duplicateKey(keyAt, numeric)
			}
			big[string(name)] = struct{}{}
		} else {
			for _, k := range d.keys[base:] {
				if bytes.Equal(k, name) {
					return d.duplicateKey(keyAt, numeric)
				}
			}
			d.keys = append(d.keys, name)
			if len(d.keys)-base > 32 {
				big = make(map[string]struct{}, 64)
				for _, k := range d.keys[base:] {
					big[string(k)] = struct{}{}
				}
				d.keys = d.keys[:base]
			}
		}
		if err := d.value(elem); err != nil {
			return err
		}
		d.path = d.path[:len(d.path)-1]
		more, err := d.next('}')
		if err != nil {
			return err
		}
		if !more {
			d.keys = d.keys[:base]
			return nil
		}
	}
}

// canonicalKey is the key as a map with integer keys stores it (keys that
// do not parse are left alone: encoding/json refuses them later).
func canonicalKey(k []byte, kind int) []byte {
	switch kind {
	case keyInt:
		if n, err := strconv.ParseInt(string(k), 10, 64); err == nil {
			return strconv.AppendInt(nil, n, 10)
		}
	case keyUint:
		if n, err := strconv.ParseUint(string(k), 10, 64); err == nil {
			return strconv.AppendUint(nil, n, 10)
		}
	}
	return k
}

func (d *decoder) array(elem reflect.Type) error {
	if empty, err := d.enter(']'); err != nil || empty {
		return err
	}
	for i := 0; ; i++ {
		d.path = append(d.path, seg{idx: i})
		if err := d.value(elem); err != nil {
			return err
		}
		d.path = d.path[:len(d.path)-1]
		more, err := d.next(']')
		if err != nil || !more {
			return err
		}
	}
}

// str scans a string at d.pos and returns the bounds of its contents and
// whether it holds escapes. It refuses invalid UTF-8, raw control
// characters and escaped surrogates that do not form a pair.
func (d *decoder) str() (ks, ke int, esc bool, err error) {
	data := d.data
	start := d.pos
	i := start + 1
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return start + 1, i, esc, nil
		case c == '\\':
			esc = true
			if i+1 >= len(data) {
				d.pos = len(data)
				return 0, 0, false, d.unexpected("")
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				r, ok := hex4(data, i+2)
				if !ok {
					return 0, 0, false, d.syntaxAt(i, `invalid \u escape: it needs four hex digits`)
				}
				switch {
				case utf16.IsSurrogate(r) && r < 0xDC00:
					lo, ok := rune(0), i+12 <= len(data) && data[i+6] == '\\' && data[i+7] == 'u'
					if ok {
						lo, ok = hex4(data, i+8)
					}
					if !ok || lo < 0xDC00 || lo > 0xDFFF {
						return 0, 0, false, d.encodingAt(i, fmt.Sprintf(`invalid escape %s at offset %d: a high surrogate must be followed by a low surrogate escape (\udc00-\udfff)`, data[i:i+6], i))
					}
					i += 12
				case utf16.IsSurrogate(r):
					return 0, 0, false, d.encodingAt(i, fmt.Sprintf(`invalid escape %s at offset %d: a low surrogate without a high surrogate before it is not a character`, data[i:i+6], i))
				default:
					i += 6
				}
			default:
				return 0, 0, false, d.syntaxAt(i, fmt.Sprintf(`invalid escape "\%c" in a string`, data[i+1]))
			}
		case c < 0x20:
			return 0, 0, false, d.syntaxAt(i, fmt.Sprintf("control character U+%04X in a string; escape it", c))
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return 0, 0, false, d.encodingAt(i, fmt.Sprintf("invalid UTF-8 in a string at offset %d", i))
			}
			i += size
		}
	}
	d.pos = len(data)
	return 0, 0, false, d.unexpected("")
}

func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// unescape decodes the contents of a string already checked by str.
func unescape(s []byte) []byte {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		switch s[i+1] {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, _ := hex4(s, i+2)
			if utf16.IsSurrogate(r) {
				lo, _ := hex4(s, i+8)
				r = utf16.DecodeRune(r, lo)
				i += 6
			}
			b = utf8.AppendRune(b, r)
			i += 6
			continue
		default: // " \ /
			b = append(b, s[i+1])
		}
		i += 2
	}
	return b
}

func (d *decoder) number() error {
	data, i := d.data, d.pos
	digits := func() bool {
		j := i
		for i < len(data) && '0' <= data[i] && data[i] <= '9' {
			i++
		}
		return i > j
	}
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case !digits():
		return d.syntaxAt(i, "invalid number: expected a digit")
	}
	if i < len(data) && data[i] == '.' {
		i++
		if !digits() {
			return d.syntaxAt(i, "invalid number: expected a digit after the decimal point")
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if !digits() {
			return d.syntaxAt(i, "invalid number: expected a digit in the exponent")
		}
	}
	d.pos = i
	return nil
}

func (d *decoder) literal(lit string) error {
	if !bytes.HasPrefix(d.data[d.pos:], []byte(lit)) {
		return d.unexpected("expected a JSON value")
	}
	d.pos += len(lit)
	return nil
}

// valueError turns an error from encoding/json into an *Error that says
// which field, in JSON terms.
func (d *decoder) valueError(err error) error {
	var ie *json.InvalidUnmarshalError
	if errors.As(err, &ie) {
		return err
	}
	// A value that fails on its own the same way is the one at fault (its
	// error may carry no offset, or one inside the value).
	for _, c := range d.cands {
		if e := rerun(d.data[c.start:c.end], c); e != nil && sameError(e, err) {
			at, _ := locate(d.data, c.end)
			return candError(d.data, at, c, e, err)
		}
	}
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		at, key := locate(d.data, int(te.Offset))
		return typeError(d.data, at, key, te)
	case errors.As(err, &se):
		return &Error{Kind: KindSyntax, Offset: int(se.Offset), Msg: fmt.Sprintf("invalid JSON at offset %d: %s", se.Offset, stripJSON(se.Error())), Err: err}
	}
	return &Error{Kind: KindValue, Offset: -1, Msg: "the body is not valid for this endpoint: " + stripJSON(err.Error()), Err: err}
}

// sameError compares a rerun's error with the body's. encoding/json adds
// the path to type errors as they pass up, so those compare by what they
// describe.
func sameError(rerun, err error) bool {
	var a, b *json.UnmarshalTypeError
	if errors.As(rerun, &a) && errors.As(err, &b) {
		return a.Value == b.Value && a.Type == b.Type && a.Offset == b.Offset
	}
	return rerun.Error() == err.Error()
}

// rerun decodes one remembered value on its own, the way it was decoded
// inside the body.
func rerun(raw []byte, c cand) error {
	var v reflect.Value
	if c.quoted {
		wrapper := reflect.StructOf([]reflect.StructField{{Name: "V", Type: c.typ, Tag: `json:"v,string"`}})
		v = reflect.New(wrapper)
		raw = append(append([]byte(`{"v":`), raw...), '}')
	} else {
		v = reflect.New(c.typ)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	return dec.Decode(v.Interface())
}

// locate walks data (already checked) and returns the path of the
// innermost value or key that contains the byte before off.
func locate(data []byte, off int) (path []seg, key bool) {
	d := decoder{data: data, loc: off}
	d.skipWS()
	if d.value(nil) != nil || !d.found {
		return nil, false
	}
	return d.foundAt, d.foundKey
}
