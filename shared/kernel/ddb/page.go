package ddb

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/kernel/domainerr"
)

// Listing is one paged listing: a partition of the table or of an index,
// an inclusive range of the table's sort key (SK), newest or oldest first.
// Every list endpoint is one Listing, so paging, the TTL filter and the
// cursor rules live here once.
type Listing struct {
	// Name and Bind identify the listing for its cursors: what is listed
	// and every request fact that shapes it (owner, filters). A cursor
	// from another listing is refused.
	Name string
	Bind []string
	// Index is "" for the table; PartitionAttr/Partition its partition key.
	Index         string
	PartitionAttr string
	Partition     string
	// Fixed holds the table-key attributes an index page's start key also
	// needs (the items' PK), constant over the listing.
	Fixed Item
	// Lower and Upper bound SK, inclusive ("~" sorts above every id character).
	Lower, Upper string
	NewestFirst  bool
	// Now: items whose TTL attribute is at or before Now are never returned,
	// whether or not DynamoDB has deleted them yet.
	Now time.Time
}

// PageRequest is what a client asks for.
type PageRequest struct {
	Limit  int32
	Cursor string
}

// MaxPageSize caps every page.
const MaxPageSize = 100

// cursorHashLen is how much of the listing's hash a cursor carries.
const cursorHashLen = 8

// badCursor is a cursor this listing did not issue.
func badCursor() error {
	return domainerr.Field("cursor", "cursor is not one this listing returned; start again without it")
}

// QueryPage returns one page of l and the cursor of the next ("" at the
// end): one Query. Reads of the table are strongly consistent; an index
// read cannot be (DynamoDB offers none), so an item may appear there a
// moment after its commit.
//
// A cursor from another listing (another account, other filters) is a
// 400; a cursor whose position lies past the listing's range (its window
// moved on, e.g. the one-year history window) ends the listing: an empty
// page. So is a range that is empty (Lower above Upper).
func (t *Table) QueryPage(ctx context.Context, l Listing, p PageRequest) ([]Item, string, error) {
	limit, lower, upper, start, ended, err := l.window(p)
	if err != nil || ended {
		return []Item{}, "", err
	}
	in := l.pageQuery(t.Name, Shard{Partition: l.Partition, Fixed: l.Fixed}, lower, upper, start, limit)
	out, err := t.Client.Query(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("ddb: list %s: %w", l.Name, err)
	}
	next := ""
	if len(out.LastEvaluatedKey) > 0 {
		next = l.encodeCursor(str(out.LastEvaluatedKey, AttrSK))
	}
	if out.Items == nil {
		out.Items = []Item{}
	}
	return out.Items, next, nil
}

// pageQuery is the Query of one page of the listing in one partition:
// lower..upper, from after start, unexpired items only (reads filter what
// TTL has not deleted yet), strongly consistent on the table.
func (l Listing) pageQuery(table string, s Shard, lower, upper, start string, limit int32) *dynamodb.QueryInput {
	in := &dynamodb.QueryInput{
		TableName:                aws.String(table),
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk BETWEEN :lo AND :hi"),
		FilterExpression:         aws.String("attribute_not_exists(#ttl) OR #ttl > :now"),
		ExpressionAttributeNames: map[string]string{"#pk": l.PartitionAttr, "#sk": AttrSK, "#ttl": AttrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": S(s.Partition), ":lo": S(lower), ":hi": S(upper), ":now": Epoch(l.Now),
		},
		ScanIndexForward: aws.Bool(!l.NewestFirst),
		Limit:            aws.Int32(limit),
	}
	if l.Index == "" {
		in.ConsistentRead = aws.Bool(true)
	} else {
		in.IndexName = aws.String(l.Index)
	}
	if start != "" {
		in.ExclusiveStartKey = Item{l.PartitionAttr: S(s.Partition), AttrSK: S(start)}
		for k, v := range s.Fixed {
			in.ExclusiveStartKey[k] = v
		}
	}
	return in
}

// window is a page request's bounds: the page size, the key range and
// where after a cursor the page starts. ended: the page is empty (the
// range is, or the cursor lies past it: the listing ended or its window
// moved on); a cursor before the listing's first page is not ours (400).
func (l Listing) window(p PageRequest) (limit int32, lower, upper, start string, ended bool, err error) {
	limit = p.Limit
	if limit <= 0 || limit > MaxPageSize {
		limit = MaxPageSize
	}
	lower, upper = l.Lower, l.Upper
	if upper == "" {
		upper = "~"
	}
	if p.Cursor != "" {
		pos, err := l.decodeCursor(p.Cursor)
		if err != nil {
			return 0, "", "", "", false, err
		}
		// The next page lies strictly beyond pos in reading order.
		switch {
		case l.NewestFirst && pos > upper, !l.NewestFirst && pos < lower:
			return 0, "", "", "", false, badCursor()
		case l.NewestFirst && pos <= lower, !l.NewestFirst && pos >= upper:
			return 0, "", "", "", true, nil
		}
		start = pos
	}
	return limit, lower, upper, start, lower > upper, nil
}

func (l Listing) hash() []byte {
	h := sha256.New()
	for _, part := range append([]string{l.Name, l.Index, l.Partition}, l.Bind...) {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return h.Sum(nil)[:cursorHashLen]
}

func (l Listing) encodeCursor(sk string) string {
	return base64.RawURLEncoding.EncodeToString(append(l.hash(), sk...))
}

func (l Listing) decodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) <= cursorHashLen || string(b[:cursorHashLen]) != string(l.hash()) {
		return "", badCursor()
	}
	pos := string(b[cursorHashLen:])
	if !utf8.ValidString(pos) || strings.ContainsRune(pos, 0) || len(pos) > 1024 {
		return "", badCursor()
	}
	return pos, nil
}
