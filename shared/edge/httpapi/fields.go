package httpapi

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"minipay/shared/edge/strictjson"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/money"
)

// AmountField is an amount as it arrives in JSON: only a number literal is
// accepted (json.Number alone would also take the string "100").
type AmountField string

func (a *AmountField) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] == '"' || b[0] == '{' || b[0] == '[' || string(b) == "null" || string(b) == "true" || string(b) == "false" {
		return errNotNumber
	}
	*a = AmountField(b)
	return nil
}

var errNotNumber = errors.New("must be a JSON number of won, e.g. 10000")

// Amount validates a JSON amount field.
func Amount(field string, a AmountField) (int64, error) {
	n := json.Number(a)
	if n == "" {
		return 0, domainerr.Field(field, "%s is required", field)
	}
	v, err := money.ParseAmount(n)
	if err != nil {
		return 0, domainerr.Field(field, "%s %s", field, err.Error())
	}
	return v, nil
}

// Int validates an optional JSON integer field in [lo, hi]; absent, it is
// def (0 def: required).
func Int(field string, raw AmountField, def, lo, hi int64) (int64, error) {
	if raw == "" {
		if def == 0 {
			return 0, domainerr.Field(field, "%s is required", field)
		}
		return def, nil
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, domainerr.Field(field, "%s must be a whole number from %d to %d", field, lo, hi)
	}
	return v, nil
}

// Text validates a free-text field: trimmed, at most max characters, no
// control or invisible formatting characters (zero-width spaces, bidi
// overrides: a name must read as what it is).
func Text(field, s string, max int, required bool) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" && required:
		return "", domainerr.Field(field, "%s is required", field)
	case len([]rune(s)) > max:
		return "", domainerr.Field(field, "%s must be at most %d characters", field, max)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", domainerr.Field(field, "%s must not contain control characters", field)
	}
	if err := strictjson.CheckText(s); err != nil {
		return "", domainerr.Field(field, "%s: %s", field, err.Error())
	}
	return s, nil
}

// Name validates a name (of a user, a store, an account, a room): Text's
// rules, then strictjson.CheckName's (at most three combining marks in a
// row; one script, or Latin with Han and Hangul, kana or Bopomofo).
func Name(field, s string, max int, required bool) (string, error) {
	s, err := Text(field, s, max, required)
	if err != nil || s == "" {
		return s, err
	}
	if err := strictjson.CheckName(s); err != nil {
		return "", domainerr.Field(field, "%s: %s", field, err.Error())
	}
	return s, nil
}

// Self-checking request fields: a request type declares its members with
// these types, and Decode checks each (in the struct's order, before the
// handler runs) with its JSON name as the field's name in the 400
// invalid_field, and required if its openapi tag says so. Each declares its
// bounds once, for the check and for the OpenAPI document (FieldSchema).
// A capability may declare its own (transfers.DisplayName).

// Field is a self-checking request member.
type Field interface {
	// CheckField validates (and may normalize) the decoded value of the
	// member name; required: absent or empty is refused.
	CheckField(name string, required bool) error
	// FieldSchema is the member's schema in the OpenAPI document.
	FieldSchema() FieldSchema
}

// FieldSchema is what a Field declares of itself: a JSON integer from Min
// to Max, or a string of at most MaxLength characters (0: unbounded; at
// least one character when the member is required).
type FieldSchema struct {
	Integer   bool
	Min, Max  int64
	MaxLength int
}

// Bounds of the fields declared here.
const (
	MaxMemo      = 200 // a note in history: memo, reason
	MaxName      = 100 // a name of a user, a store, an account
	MaxReference = 200 // an identifier another system hands us: a payment reference
)

// Won is an amount of whole won: a JSON integer literal from 1 to
// money.MaxAmount (Amount's rules).
type Won string

func (w *Won) UnmarshalJSON(b []byte) error { return (*AmountField)(w).UnmarshalJSON(b) }

func (w *Won) CheckField(name string, required bool) error {
	if *w == "" && !required {
		return nil
	}
	_, err := Amount(name, AmountField(*w))
	return err
}

func (Won) FieldSchema() FieldSchema { return FieldSchema{Integer: true, Min: 1, Max: money.MaxAmount} }

// Int64 is the amount (0 if absent); Decode checked it.
func (w Won) Int64() int64 {
	v, _ := money.ParseAmount(json.Number(w))
	return v
}

// Memo is a free-text note (Text's rules), trimmed, at most MaxMemo
// characters.
type Memo string

func (m *Memo) CheckField(name string, required bool) error {
	return checkText((*string)(m), name, MaxMemo, required, Text)
}

func (Memo) FieldSchema() FieldSchema { return FieldSchema{MaxLength: MaxMemo} }

// NameField is a name (Name's rules), trimmed, at most MaxName characters.
type NameField string

func (n *NameField) CheckField(name string, required bool) error {
	return checkText((*string)(n), name, MaxName, required, Name)
}

func (NameField) FieldSchema() FieldSchema { return FieldSchema{MaxLength: MaxName} }

// Reference is an identifier another system hands us (Identifier's rules),
// kept in its canonical form, at most MaxReference characters.
type Reference string

func (ref *Reference) CheckField(name string, required bool) error {
	return checkText((*string)(ref), name, MaxReference, required, Identifier)
}

func (Reference) FieldSchema() FieldSchema { return FieldSchema{MaxLength: MaxReference} }

// checkText checks *s with rule (Text or Name) and keeps its normal form.
func checkText(s *string, name string, max int, required bool, rule func(string, string, int, bool) (string, error)) error {
	v, err := rule(name, *s, max, required)
	if err == nil {
		*s = v
	}
	return err
}

// checkFields runs CheckField on each Field member of the struct v points
// to, in order; a member's name is its JSON name.
func checkFields(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return nil
	}
	rv = rv.Elem()
	for i := range rv.NumField() {
		sf := rv.Type().Field(i)
		if !sf.IsExported() {
			continue
		}
		f, ok := rv.Field(i).Addr().Interface().(Field)
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "" {
			name = sf.Name
		}
		if err := f.CheckField(name, FieldRequired(sf.Tag)); err != nil {
			return err
		}
	}
	return nil
}

// FieldRequired reports whether a member's openapi tag says required (the
// document's "required" and the check's are this one word).
func FieldRequired(tag reflect.StructTag) bool {
	for _, item := range strings.Split(tag.Get("openapi"), ",") {
		if item == "required" {
			return true
		}
	}
	return false
}

// QueryIn reads ?name=, def when it is absent; ok is false when the value
// is not one of allowed (the caller says what is).
func QueryIn(r *Request, name, def string, allowed ...string) (v string, ok bool) {
	if v = r.QueryParam(name); v == "" {
		v = def
	}
	return v, slices.Contains(allowed, v)
}

// DefaultPageSize is a list page's size when ?limit= is absent.
const DefaultPageSize = 20

// Page reads ?limit= and ?cursor=.
func Page(r *Request) (ddb.PageRequest, error) {
	p := ddb.PageRequest{Limit: DefaultPageSize, Cursor: r.QueryParam("cursor")}
	if s := r.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > ddb.MaxPageSize {
			return p, domainerr.Field("limit", "limit must be an integer from 1 to %d", ddb.MaxPageSize)
		}
		p.Limit = int32(n)
	}
	if len(p.Cursor) > 2048 {
		return p, domainerr.Field("cursor", "cursor is not one this listing returned")
	}
	return p, nil
}
