package ddb_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/localstack/ddbtest"
	"minipay/shared/kernel/ddb"
)

// A sharded kind's items spread over its buckets by their ids, and one
// pass over Kinds() hands every due item once, oldest first across the
// shards, with the whole item when Fetch asks for it (the index itself
// projects only keys and ddb.DueInclude); EarliestDue over Kinds() sees
// every shard.
func TestDueKindShardsAndReadersFanOut(t *testing.T) {
	e := ddbtest.New(t)
	ctx := context.Background()
	now := e.Clock.Now()
	kind := ddb.DueKind{Name: "spread", Shards: 8}
	const n = 48
	buckets := map[string]int{}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("id%03d", i)
		item := ddb.Key("WORK#"+id, "WORK")
		item["payload"] = ddb.S("big " + id)
		kind.Set(item, now.Add(-time.Duration(n-i)*time.Second), id)
		buckets[ddb.Decode(item).S(ddb.AttrDuePK)]++
		if _, err := ddbtest.Client().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.Name), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	if len(buckets) < 6 {
		t.Fatalf("48 ids fell into %d of 8 buckets: %v", len(buckets), buckets)
	}
	for b := range buckets {
		if b[:len("DUE#spread#")] != "DUE#spread#" || len(b) != len("DUE#spread#00") {
			t.Fatalf("bucket %q is not DUE#<kind>#<nn>", b)
		}
	}
	got, ok, err := e.Table.EarliestDue(ctx, kind.Kinds())
	if err != nil || !ok || !got.Equal(now.Add(-n*time.Second)) {
		t.Fatalf("earliest %s %v %v", got, ok, err)
	}
	// The index holds no more than the keys and the ids.
	var order []string
	run, err := e.Table.ForEachDue(ctx, ddb.DueWork{Kinds: kind.Kinds(), Until: now, Page: 3}, func(_ context.Context, item ddb.Item) error {
		if _, has := item["payload"]; has {
			return fmt.Errorf("the due index projects payload: %v", item)
		}
		order = append(order, ddb.Decode(item).S(ddb.AttrPK))
		return nil
	})
	if err != nil || run.Err() != nil || !run.Done || run.Seen != n {
		t.Fatalf("run %+v: %v %v", run, err, run.Err())
	}
	for i := range order {
		if want := fmt.Sprintf("WORK#id%03d", i); order[i] != want {
			t.Fatalf("item %d is %s, want %s (oldest first across shards)", i, order[i], want)
		}
	}
	run, err = e.Table.ForEachDue(ctx, ddb.DueWork{Kinds: kind.Kinds(), Until: now, Fetch: true}, func(_ context.Context, item ddb.Item) error {
		if ddb.Decode(item).S("payload") == "" {
			return fmt.Errorf("fetched item without its payload: %v", item)
		}
		return nil
	})
	if err != nil || run.Err() != nil || run.Seen != n {
		t.Fatalf("fetch run %+v: %v %v", run, err, run.Err())
	}
}

// A one-bucket pass stopped by its budget reports a cursor; a pass given
// it as After goes on after the last item handed over, even though the
// items before it are still due (the savings worker's continuation).
func TestDueCursorResumesAfterTheLastItem(t *testing.T) {
	e := ddbtest.New(t)
	ctx := context.Background()
	now := e.Clock.Now()
	const n = 20
	for i := 0; i < n; i++ {
		item := ddb.Key(fmt.Sprintf("WORK#%03d", i), "WORK")
		ddb.SetDue(item, "cur#00", now.Add(-time.Duration(n-i)*time.Second), fmt.Sprint(i))
		if _, err := ddbtest.Client().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.Name), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	after := ""
	for passes := 0; ; passes++ {
		if passes > n {
			t.Fatal("the cursor never reached the end")
		}
		run, err := e.Table.ForEachDue(ctx, ddb.DueWork{Kind: "cur#00", Until: now, Page: 4, Budget: time.Nanosecond, After: after},
			func(_ context.Context, item ddb.Item) error {
				seen = append(seen, ddb.Decode(item).S(ddb.AttrPK)) // left due: only the cursor moves on
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		if run.Done {
			break
		}
		if run.Cursor == "" {
			t.Fatal("a pass stopped by its budget without a cursor")
		}
		after = run.Cursor
	}
	if len(seen) != n {
		t.Fatalf("saw %d items, want each of %d once: %v", len(seen), n, seen)
	}
	for i, pk := range seen {
		if want := fmt.Sprintf("WORK#%03d", i); pk != want {
			t.Fatalf("item %d is %s, want %s", i, pk, want)
		}
	}
	if _, err := e.Table.ForEachDue(ctx, ddb.DueWork{Kinds: []string{"a", "b"}, Until: now, After: after},
		func(context.Context, ddb.Item) error { return nil }); err == nil {
		t.Fatal("a cursor over several buckets was taken")
	}
}

// The table the local stack and the tests create projects what ddb.GSIs
// says (the CDK stack's test checks the same list).
func TestIndexProjections(t *testing.T) {
	in := ddb.CreateTableInput("projections")
	for i, g := range ddb.GSIs {
		p := in.GlobalSecondaryIndexes[i].Projection
		want := g.Projection()
		if p.ProjectionType != want.ProjectionType || fmt.Sprint(p.NonKeyAttributes) != fmt.Sprint(want.NonKeyAttributes) {
			t.Errorf("%s: %+v, want %+v", g.Name, p, want)
		}
	}
	due := ddb.GSIs[0]
	if due.Name != ddb.IndexDue || due.All || string(due.Projection().ProjectionType) != "INCLUDE" {
		t.Fatalf("the due index projects %+v", due.Projection())
	}
	item := ddb.Key("P", "S")
	item["balance"] = ddb.N(5)
	if due.Projected(item) != nil {
		t.Fatal("an item without due attributes is in the sparse due index")
	}
	ddb.SetDue(item, "x#00", time.Unix(0, 0), "id")
	item["accountId"] = ddb.S("a1")
	got := due.Projected(item)
	if _, has := got["balance"]; has || len(got) != 5 {
		t.Fatalf("projected %v", got)
	}
}
