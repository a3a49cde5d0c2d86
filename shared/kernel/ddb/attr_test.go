package ddb_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/kernel/ddb"
)

// A corrupt attribute is an error naming the item and the attribute, never
// a silent zero.
func TestDecoderReportsWhatIsWrong(t *testing.T) {
	at := time.Date(2026, 11, 22, 1, 2, 3, 4, time.UTC)
	good := ddb.Item{ddb.AttrPK: ddb.S("P"), ddb.AttrSK: ddb.S("S"), "s": ddb.S("x"), "n": ddb.N(-42), "t": ddb.Time(at), "m": ddb.Millis(at), "b": ddb.Bool(true)}
	d := ddb.Decode(good)
	if d.MustS("s") != "x" || d.MustN("n") != -42 || !d.MustTime("t").Equal(at) || !d.Millis("m").Equal(at.Truncate(time.Millisecond)) || !d.Bool("b") || d.S("absent") != "" || d.Err() != nil {
		t.Fatalf("good item: %v", d.Err())
	}
	tests := []struct {
		name string
		read func(*ddb.Decoder)
		want string
	}{
		{"a missing required string", func(d *ddb.Decoder) { d.MustS("nope") }, "nope is missing"},
		{"a number that is not an int64", func(d *ddb.Decoder) { d.N("big") }, "big \"1e400\" is not an int64"},
		{"a string where a number belongs", func(d *ddb.Decoder) { d.N("s") }, "s is"},
		{"a time that does not parse", func(d *ddb.Decoder) { d.Time("badtime") }, "badtime \"yesterday\" is not an RFC 3339 time"},
		{"a list with a string in it", func(d *ddb.Decoder) { d.Ints("list") }, "list element 1"},
	}
	bad := ddb.Item{ddb.AttrPK: ddb.S("P"), ddb.AttrSK: ddb.S("S"), "s": ddb.S("x"), "big": &types.AttributeValueMemberN{Value: "1e400"},
		"badtime": ddb.S("yesterday"), "list": &types.AttributeValueMemberL{Value: []types.AttributeValue{ddb.N(1), ddb.S("2")}}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := ddb.Decode(bad)
			tc.read(d)
			if err := d.Err(); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "P/S") {
				t.Fatalf("got %v, want an error naming P/S and %q", err, tc.want)
			}
		})
	}
}

func TestIDs(t *testing.T) {
	now := time.Now()
	a, b := ddb.NewTimeID(now), ddb.NewTimeID(now.Add(time.Millisecond))
	if !ddb.ValidTimeID(a) || a >= b {
		t.Fatalf("time ids %s %s", a, b)
	}
	if id := ddb.NewID("u_"); !ddb.ValidID(id, "u_") || ddb.ValidID(id, "m_") || ddb.ValidID("u_0123456789abcdeI", "u_") {
		t.Fatalf("id %s", id)
	}
	if ddb.TimePrefix(time.Unix(-5, 0)) != "0000000000" {
		t.Fatal("instants before 1970 must map to the smallest prefix")
	}
}
