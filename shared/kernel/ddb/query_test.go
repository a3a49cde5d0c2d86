package ddb_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/localstack/ddbtest"
	"minipay/shared/kernel/ddb"
)

// queryCounter counts the Queries sent and fails the one numbered failAt
// (1-based; 0: none).
type queryCounter struct {
	ddb.Client
	calls, failAt int
}

var errInjected = errors.New("injected query failure")

func (c *queryCounter) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.calls++
	if c.calls == c.failAt {
		return nil, errInjected
	}
	return c.Client.Query(ctx, in, o...)
}

// Table.Query reads a partition item by item, fetching a page only when
// the one held is used up: every item in order over several pages (small
// Limit), pages a filter empties read past, an early stop that sends no
// further Query, and a failing page's error from Err with the items before
// it delivered and no item after.
func TestQueryCursor(t *testing.T) {
	e := ddbtest.New(t)
	ctx := context.Background()
	const n = 10
	var all []string
	for i := range n {
		sk := fmt.Sprintf("i%02d", i)
		all = append(all, sk)
		item := ddb.Key("CURSOR", sk)
		item["n"] = ddb.N(int64(i))
		if _, err := ddbtest.Client().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.Name), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	query := func(limit int32, pk, filter string) *dynamodb.QueryInput {
		in := &dynamodb.QueryInput{
			KeyConditionExpression:    aws.String("PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(pk)},
			ConsistentRead:            aws.Bool(true),
			Limit:                     aws.Int32(limit),
		}
		if filter != "" {
			in.FilterExpression = aws.String(filter)
			in.ExpressionAttributeValues[":min"] = ddb.N(6)
		}
		return in
	}
	for _, tc := range []struct {
		name    string
		in      *dynamodb.QueryInput
		stop    int // stop after this many items (0: read to the end)
		failAt  int
		want    []string
		queries int
		err     error
	}{
		{name: "three pages and a last", in: query(3, "CURSOR", ""), want: all, queries: 4},
		{name: "pages that fill exactly, then an empty one", in: query(5, "CURSOR", ""), want: all, queries: 3},
		{name: "one page", in: query(100, "CURSOR", ""), want: all, queries: 1},
		{name: "filtered-out pages read past", in: query(3, "CURSOR", "n >= :min"), want: all[6:], queries: 4},
		{name: "empty partition", in: query(3, "NOTHING", ""), want: nil, queries: 1},
		{name: "early stop fetches no further page", in: query(3, "CURSOR", ""), stop: 4, want: all[:4], queries: 2},
		{name: "stop at a page's end fetches no further page", in: query(3, "CURSOR", ""), stop: 6, want: all[:6], queries: 2},
		{name: "error on the second page", in: query(3, "CURSOR", ""), failAt: 2, want: all[:3], queries: 2, err: errInjected},
		{name: "error on the first page", in: query(3, "CURSOR", ""), failAt: 1, want: nil, queries: 1, err: errInjected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &queryCounter{Client: e.DB, failAt: tc.failAt}
			q := ddb.NewTable(c, e.Name).Query(tc.in)
			var got []string
			for (tc.stop == 0 || len(got) < tc.stop) && q.Next(ctx) {
				got = append(got, ddb.Decode(q.Item()).S(ddb.AttrSK))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("items %v, want %v", got, tc.want)
			}
			if c.calls != tc.queries {
				t.Errorf("%d Queries, want %d", c.calls, tc.queries)
			}
			if err := q.Err(); !errors.Is(err, tc.err) {
				t.Errorf("Err %v, want %v", err, tc.err)
			}
			if tc.stop == 0 {
				// Ended: Next stays false, sends nothing more, holds no item.
				if q.Next(ctx) || q.Item() != nil || c.calls != tc.queries {
					t.Errorf("after the end: Next true or item %v or %d Queries", q.Item(), c.calls)
				}
			}
			if tc.in.ExclusiveStartKey != nil || tc.in.TableName != nil {
				t.Error("the caller's QueryInput was changed")
			}
		})
	}
}
