package ddb

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Encoders.

// S is a string attribute.
func S(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

// SetStrings sets item's optional string attributes: each non-empty value
// under its name; an empty one is left out (absent, not "").
func SetStrings(item Item, attrs map[string]string) {
	for name, v := range attrs {
		if v != "" {
			item[name] = S(v)
		}
	}
}

// Merge is a new item with the attributes of each item in turn (a later
// item's value wins on a shared name); the items are left as they are.
func Merge(items ...Item) Item {
	out := Item{}
	for _, item := range items {
		for k, v := range item {
			out[k] = v
		}
	}
	return out
}

// N is a number attribute.
func N(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// B is a binary attribute.
func B(b []byte) types.AttributeValue { return &types.AttributeValueMemberB{Value: b} }

// Bool is a boolean attribute.
func Bool(b bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: b} }

// Time is an instant as an RFC 3339 string in UTC (nanoseconds kept).
func Time(t time.Time) types.AttributeValue { return S(t.UTC().Format(time.RFC3339Nano)) }

// Millis is an instant as a number of Unix milliseconds (for conditions
// that compare times: a condition cannot parse strings).
func Millis(t time.Time) types.AttributeValue { return N(t.UnixMilli()) }

// Epoch is an instant as Unix seconds (the TTL attribute's format).
func Epoch(t time.Time) types.AttributeValue { return N(t.Unix()) }

// Ints is a list of numbers.
func Ints(ns []int64) types.AttributeValue {
	l := make([]types.AttributeValue, len(ns))
	for i, n := range ns {
		l[i] = N(n)
	}
	return &types.AttributeValueMemberL{Value: l}
}

// Decoder reads attributes of one item and remembers the first thing that
// was wrong (a malformed number, a bad time, a missing required attribute),
// so a corrupt item is an error, never a silent zero.
type Decoder struct {
	item Item
	err  error
}

// Decode starts reading item.
func Decode(item Item) *Decoder { return &Decoder{item: item} }

// Err is the first problem met, naming the item's key and the attribute.
func (d *Decoder) Err() error { return d.err }

func (d *Decoder) fail(name, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("ddb: item %s/%s: attribute %s %s", str(d.item, AttrPK), str(d.item, AttrSK), name, fmt.Sprintf(format, args...))
	}
}

// Has reports whether the attribute is present.
func (d *Decoder) Has(name string) bool { _, ok := d.item[name]; return ok }

// S is an optional string ("" if absent).
func (d *Decoder) S(name string) string {
	v, ok := d.item[name]
	if !ok {
		return ""
	}
	s, ok := v.(*types.AttributeValueMemberS)
	if !ok {
		d.fail(name, "is %T, not a string", v)
		return ""
	}
	return s.Value
}

// MustS is a required string.
func (d *Decoder) MustS(name string) string {
	if !d.Has(name) {
		d.fail(name, "is missing")
	}
	return d.S(name)
}

// N is an optional integer (0 if absent).
func (d *Decoder) N(name string) int64 {
	v, ok := d.item[name]
	if !ok {
		return 0
	}
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		d.fail(name, "is %T, not a number", v)
		return 0
	}
	x, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		d.fail(name, "%q is not an int64", n.Value)
	}
	return x
}

// MustN is a required integer.
func (d *Decoder) MustN(name string) int64 {
	if !d.Has(name) {
		d.fail(name, "is missing")
	}
	return d.N(name)
}

// Bool is an optional boolean (false if absent).
func (d *Decoder) Bool(name string) bool {
	v, ok := d.item[name]
	if !ok {
		return false
	}
	b, ok := v.(*types.AttributeValueMemberBOOL)
	if !ok {
		d.fail(name, "is %T, not a boolean", v)
		return false
	}
	return b.Value
}

// Bytes is an optional binary attribute.
func (d *Decoder) Bytes(name string) []byte {
	v, ok := d.item[name]
	if !ok {
		return nil
	}
	b, ok := v.(*types.AttributeValueMemberB)
	if !ok {
		d.fail(name, "is %T, not binary", v)
		return nil
	}
	return b.Value
}

// Time is an optional RFC 3339 instant (zero if absent), in UTC.
func (d *Decoder) Time(name string) time.Time {
	s := d.S(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		d.fail(name, "%q is not an RFC 3339 time", s)
	}
	return t.UTC()
}

// MustTime is a required RFC 3339 instant.
func (d *Decoder) MustTime(name string) time.Time {
	if !d.Has(name) {
		d.fail(name, "is missing")
	}
	return d.Time(name)
}

// Millis is an optional Unix-milliseconds instant (zero if absent), in UTC.
func (d *Decoder) Millis(name string) time.Time {
	if !d.Has(name) {
		return time.Time{}
	}
	return time.UnixMilli(d.N(name)).UTC()
}

// Ints is an optional list of numbers.
func (d *Decoder) Ints(name string) []int64 {
	v, ok := d.item[name]
	if !ok {
		return nil
	}
	l, ok := v.(*types.AttributeValueMemberL)
	if !ok {
		d.fail(name, "is %T, not a list", v)
		return nil
	}
	out := make([]int64, 0, len(l.Value))
	for i, e := range l.Value {
		n, ok := e.(*types.AttributeValueMemberN)
		if !ok {
			d.fail(name, "element %d is %T, not a number", i, e)
			return nil
		}
		x, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			d.fail(name, "element %d %q is not an int64", i, n.Value)
			return nil
		}
		out = append(out, x)
	}
	return out
}

// str reads a string attribute for messages (never fails).
func str(item Item, name string) string {
	if s, ok := item[name].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// ErrNotFound is returned by helpers that require an item.
var ErrNotFound = errors.New("ddb: item not found")
