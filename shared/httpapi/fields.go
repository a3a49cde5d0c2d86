package httpapi

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode"

	"minipay/shared/ddb"
	"minipay/shared/domainerr"
	"minipay/shared/money"
	"minipay/shared/strictjson"
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
