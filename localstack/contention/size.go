package contention

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ItemSize is an item's size in bytes by DynamoDB's rules: the sum of its
// attribute names' lengths and its values' sizes.
func ItemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + ValueSize(v)
	}
	return n
}

// ValueSize is one attribute value's size in bytes: strings in UTF-8 bytes,
// binary in raw bytes, numbers about 1 byte per two significant digits plus
// 1, booleans and nulls 1, lists and maps 3 plus their elements (a map's
// element counts its name), sets the sum of their elements.
func ValueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return NumberSize(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range v.Value {
			n += NumberSize(s)
		}
		return n
	case *types.AttributeValueMemberBS:
		n := 0
		for _, b := range v.Value {
			n += len(b)
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += ValueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		return 3 + ItemSize(v.Value)
	}
	return 0
}

// NumberSize is a DynamoDB number's approximate size: 1 byte per two
// significant digits (leading and trailing zeros trimmed), plus 1.
func NumberSize(s string) int {
	s = strings.TrimLeft(s, "+-")
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		s = s[:i]
	}
	s = strings.Replace(s, ".", "", 1)
	s = strings.Trim(s, "0")
	return (len(s)+1)/2 + 1
}

// writeUnits is the WCU a write of size bytes costs: perKB for each started
// KB, at least one KB.
func writeUnits(size int, perKB float64) float64 {
	kb := (size + 1023) / 1024
	if kb < 1 {
		kb = 1
	}
	return float64(kb) * perKB
}
