package capacity

// Each rule of the model beside the DynamoDB developer guide's statement
// of it (quoted from "Read and write operations"
// (read-write-operations.html), "Global secondary indexes" (GSI.html,
// "Provisioned throughput considerations ... Writes"), "Amazon DynamoDB
// Transactions: capacity management" (transaction-apis.html) and "Warm
// throughput" (warm-throughput-scenarios.html)).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// "One write capacity unit represents one write per second for an item up
// to 1 KB in size. If you need to write an item that is larger than 1 KB,
// DynamoDB needs to consume additional write capacity units."
func TestAStandardWriteIsOneUnitPerStartedKB(t *testing.T) {
	for size, want := range map[int]float64{0: 1, 1: 1, 1024: 1, 1025: 2, 3500: 4} {
		if got := WriteUnits(size, false); got != want {
			t.Errorf("%d bytes: %g units, want %g", size, got, want)
		}
	}
}

// "Transactional write requests require 2 write capacity units to perform
// one write per second for items up to 1 KB." and "DynamoDB performs two
// underlying reads or writes of every item in the transaction: one to
// prepare the transaction and one to commit the transaction."
func TestATransactionalWriteIsTwoUnitsPerStartedKBPerItem(t *testing.T) {
	for size, want := range map[int]float64{1: 2, 1024: 2, 1025: 4, 2500: 6} {
		if got := WriteUnits(size, true); got != want {
			t.Errorf("%d bytes: %g units, want %g", size, got, want)
		}
	}
}

// "UpdateItem: Modifies a single item in the table. DynamoDB considers the
// size of the item as it appears before and after the update. The
// provisioned throughput consumed reflects the larger of these item
// sizes." and "PutItem: ... If an item that has the same primary key
// exists in the table, the operation must consume write capacity units
// that match the larger of the two item sizes."
func TestAnUpdateCostsTheLargerOfTheItemBeforeAndAfter(t *testing.T) {
	r := NewRecorder(nil, nil, Schema{PartitionKey: "PK", SortKey: "SK"})
	key := Item{"PK": s("A"), "SK": s("B")}
	big := Item{"PK": s("A"), "SK": s("B"), "blob": s(strings.Repeat("x", 1500))}
	small := Item{"PK": s("A"), "SK": s("B"), "n": s("1")}
	for _, c := range []struct {
		name          string
		before, after Item
		tx            bool
		want          float64
	}{
		{"shrinking", big, small, false, 2},
		{"growing", small, big, false, 2},
		{"small both", small, small, false, 1},
		{"shrinking in a transaction", big, small, true, 4},
		{"deleting a big item", big, nil, false, 2},
		{"putting a new item", nil, small, false, 1},
	} {
		cs := r.writeCharges("op", key, c.before, c.after, c.tx)
		if cs[0].Units != c.want || cs[0].PK != "A" || cs[0].Index != "" {
			t.Errorf("%s: %+v, want %g units on A", c.name, cs[0], c.want)
		}
	}
}

var dueSchema = Schema{PartitionKey: "PK", SortKey: "SK", Indexes: []Index{
	{Name: "due", PartitionKey: "dueBucket", SortKey: "dueAt", Projection: types.ProjectionTypeAll},
	{Name: "narrow", PartitionKey: "dueBucket", SortKey: "dueAt", Projection: types.ProjectionTypeKeysOnly},
}}

func indexWrites(ws []IndexWrite, index string) (n int, parts []string) {
	for _, w := range ws {
		if w.Index == index {
			n++
			parts = append(parts, w.Partition)
		}
	}
	return n, parts
}

// GSI.html, "Writes to a global secondary index": each case below.
func TestIndexWritesFollowTheGuide(t *testing.T) {
	base := func(extra Item) Item {
		it := Item{"PK": s("ACC"), "SK": s("A"), "balance": s("10")}
		for k, v := range extra {
			it[k] = v
		}
		return it
	}
	due := func(bucket, at string) Item { return Item{"dueBucket": s(bucket), "dueAt": s(at)} }
	withBalance := func(it Item, b string) Item { it["balance"] = s(b); return it }
	cases := []struct {
		quote         string
		before, after Item
		all, keysOnly int
		parts         []string // partitions of the "due" index written
	}{
		{"If you write a new table item that defines an indexed attribute, or you update an existing item to define a previously undefined indexed attribute, one write operation is required to put the item into the index.",
			base(nil), base(due("DUE#x", "1")), 1, 1, []string{"DUE#x"}},
		{"If an update to the table changes the value of an indexed key attribute (from A to B), two writes are required, one to delete the previous item from the index and another write to put the new item into the index.",
			base(due("DUE#a", "1")), base(due("DUE#b", "1")), 2, 2, []string{"DUE#a", "DUE#b"}},
		{"If an item was present in the index, but a write to the table caused the indexed attribute to be deleted, one write is required to delete the old item projection from the index.",
			base(due("DUE#x", "1")), base(nil), 1, 1, []string{"DUE#x"}},
		{"If an item is not present in the index before or after the item is updated, there is no additional write cost for the index.",
			base(nil), withBalance(base(nil), "20"), 0, 0, nil},
		{"If an update to the table only changes the value of projected attributes in the index key schema, but does not change the value of any indexed key attribute, one write is required to update the values of the projected attributes into the index.",
			base(due("DUE#checkpoint", "1")), withBalance(base(due("DUE#checkpoint", "1")), "20"), 1, 0, []string{"DUE#checkpoint"}},
		{"(an item written with no attribute changed writes no index entry)",
			base(due("DUE#x", "1")), base(due("DUE#x", "1")), 0, 0, nil},
	}
	for _, c := range cases {
		ws := dueSchema.IndexWrites(c.before, c.after)
		n, parts := indexWrites(ws, "due")
		k, _ := indexWrites(ws, "narrow")
		if n != c.all || k != c.keysOnly || strings.Join(parts, ",") != strings.Join(c.parts, ",") {
			t.Errorf("%q: ALL index %d writes on %v, KEYS_ONLY %d; want %d on %v, %d", c.quote, n, parts, k, c.all, c.parts, c.keysOnly)
		}
	}
	// "All of these factors assume that the size of each item in the index
	// is less than or equal to the 1 KB item size for calculating write
	// capacity units. Larger index entries require additional write
	// capacity units."
	big := base(due("DUE#x", "1"))
	big["blob"] = s(strings.Repeat("x", 1500))
	ws := dueSchema.IndexWrites(base(nil), big)
	if ws[0].Units != 2 {
		t.Errorf("a 1.5 KB index entry: %g units, want 2", ws[0].Units)
	}
	if ws[1].Units != 1 { // the KEYS_ONLY entry holds only the keys
		t.Errorf("its KEYS_ONLY entry: %g units, want 1", ws[1].Units)
	}
}

// "A strongly consistent read request of an item up to 4 KB requires one
// read unit." "An eventually consistent read request of an item up to 4 KB
// requires one-half read unit." "Item sizes for reads are rounded up to the
// next 4 KB multiple." "If you perform a read operation on an item that
// doesn't exist, DynamoDB will still consume read throughput".
func TestReadsAreOneUnitPer4KBStrongAndHalfEventual(t *testing.T) {
	for _, c := range []struct {
		size   int
		strong bool
		want   float64
	}{{0, true, 1}, {3500, true, 1}, {4096, true, 1}, {4097, true, 2}, {8192, false, 1}, {3500, false, 0.5}, {0, false, 0.5}} {
		if got := ReadUnits(c.size, c.strong); got != c.want {
			t.Errorf("%d bytes strong=%v: %g, want %g", c.size, c.strong, got, c.want)
		}
	}
}

// fake is an in-memory table: GetItem, PutItem, Query on the table's
// partition key, and TransactWriteItems of Puts and ConditionChecks.
type fake struct {
	mu    sync.Mutex
	items map[string]Item
}

func (f *fake) k(it Item) string { return str(it["PK"]) + "\x00" + str(it["SK"]) }

func (f *fake) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	it := f.items[f.k(in.Key)]
	if in.ProjectionExpression != nil && it != nil {
		it = Item{"PK": it["PK"]}
	}
	return &dynamodb.GetItemOutput{Item: it}, nil
}

func (f *fake) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items[f.k(in.Item)] = in.Item
	return &dynamodb.PutItemOutput{}, nil
}

func (f *fake) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, errors.New("fake: no UpdateItem")
}

func (f *fake) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pk := str(in.ExpressionAttributeValues[":pk"])
	var out []Item
	for _, it := range f.items {
		if str(it["PK"]) == pk {
			if in.ProjectionExpression != nil {
				it = Item{"PK": it["PK"], "SK": it["SK"]}
			}
			out = append(out, it)
		}
	}
	return &dynamodb.QueryOutput{Items: out}, nil
}

func (f *fake) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, it := range in.TransactItems {
		if it.Put != nil {
			f.items[f.k(it.Put.Item)] = it.Put.Item
		}
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

// "Query: Reads multiple items that have the same partition key value. All
// items returned are treated as a single read operation, whereby DynamoDB
// computes the total size of all items and then rounds up to the next 4 KB
// boundary." and "you can request a subset of attributes to retrieve.
// However, doing so has no impact on the item size calculations."
func TestAQueryIsChargedByTheTotalSizeItReadWhateverTheProjection(t *testing.T) {
	db := &fake{items: map[string]Item{}}
	for i := 0; i < 3; i++ {
		it := Item{"PK": s("P"), "SK": s(string(rune('a' + i))), "blob": s(strings.Repeat("x", 1500))}
		db.items[db.k(it)] = it
	}
	r := NewRecorder(db, nil, Schema{PartitionKey: "PK", SortKey: "SK"})
	q := &dynamodb.QueryInput{TableName: aws.String("t"), KeyConditionExpression: aws.String("PK = :pk"),
		ExpressionAttributeValues: Item{":pk": s("P")}, ProjectionExpression: aws.String("SK"), ConsistentRead: aws.Bool(true)}
	if _, err := r.Query(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	c := r.Take()[0]
	if c.PK != "P" || c.Kind != Read || c.Bytes < 4500 || c.Units != 2 { // 3 x ~1.5 KB = one read of 4.5 KB: 2 units, not 3
		t.Fatalf("%+v", c)
	}
	g := &dynamodb.GetItemInput{TableName: aws.String("t"), Key: Item{"PK": s("P"), "SK": s("a")}, ProjectionExpression: aws.String("PK")}
	if _, err := r.GetItem(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	if c := r.Take()[0]; c.Bytes < 1500 || c.Units != 0.5 || c.Strong {
		t.Fatalf("an eventually consistent GetItem with a projection: %+v", c)
	}
}

// The model charges a ConditionCheck as a transactional write of its item
// (2 units per KB): it is one of the TransactWriteItems' items, of which
// "DynamoDB performs two underlying reads or writes of every item".
func TestAConditionCheckIsChargedAsATransactionalWrite(t *testing.T) {
	db := &fake{items: map[string]Item{}}
	db.items[db.k(Item{"PK": s("STORE#1"), "SK": s("META")})] = Item{"PK": s("STORE#1"), "SK": s("META"), "status": s("open")}
	r := NewRecorder(db, nil, dueSchema)
	_, err := r.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String("t"), Key: Item{"PK": s("STORE#1"), "SK": s("META")}, ConditionExpression: aws.String("x")}},
		{Put: &types.Put{TableName: aws.String("t"), Item: Item{"PK": s("ORDER#1"), "SK": s("META"), "dueBucket": s("DUE#order"), "dueAt": s("1")}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	cs := r.Take()
	want := []string{"write table STORE#1 2", "write table ORDER#1 2", "write due DUE#order 1", "write narrow DUE#order 1"}
	var got []string
	for _, c := range cs {
		got = append(got, fmt.Sprintf("%s %s %g", c.Kind, c.Partition(), c.Units))
	}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("charges:\n got %v\nwant %v", got, want)
	}
}

// "each individual partition is limited to 1,000 write units per second and
// 3,000 read units per second" and "For a table write to succeed, the
// provisioned throughput settings for the table and global secondary
// indexes must have enough write capacity to accommodate the write;
// otherwise, the write will be throttled." Many writers of distinct items
// that share one index partition are throttled by the index alone.
func TestAHotIndexPartitionThrottlesTableWrites(t *testing.T) {
	db := &fake{items: map[string]Item{}}
	e := Enforce(db, nil, dueSchema)
	now := time.Unix(0, 0)
	e.now = func() time.Time { return now }
	var mu sync.Mutex
	ok, throttled := 0, 0
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 100; i++ { // 1,600 writes of distinct items in one instant: 1,600 index units wanted, 1,000 there
				_, err := e.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String("t"), Item: Item{
					"PK": s(fmt.Sprintf("ACC#%d-%d", g, i)), "SK": s("A"), "dueBucket": s("DUE#checkpoint"), "dueAt": s("1")}})
				mu.Lock()
				var th *types.ThrottlingException
				switch {
				case err == nil:
					ok++
				case errors.As(err, &th):
					throttled++
					if !strings.Contains(aws.ToString(th.Message), "index due partition DUE#checkpoint") &&
						!strings.Contains(aws.ToString(th.Message), "index narrow partition DUE#checkpoint") {
						t.Errorf("throttle message: %s", aws.ToString(th.Message))
					}
				default:
					t.Error(err)
				}
				mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
	// A call is admitted while its partitions have units left and charged
	// when it answers, so writers racing the last units overshoot by at
	// most one call each.
	if ok < 1000 || ok > 1016 || ok+throttled != 1600 {
		t.Fatalf("%d admitted, %d throttled; want 1000 (+ up to 16 racing) admitted (the index partition's one second)", ok, throttled)
	}
	now = now.Add(time.Duration(ok-1000) * time.Millisecond) // repay the overshoot
	now = now.Add(500 * time.Millisecond)                    // half a second refills 500 units
	n := 0
	for i := 0; i < 600; i++ {
		if _, err := e.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String("t"), Item: Item{
			"PK": s(fmt.Sprintf("NEW#%d", i)), "SK": s("A"), "dueBucket": s("DUE#checkpoint"), "dueAt": s("1")}}); err == nil {
			n++
		}
	}
	if n != 500 {
		t.Fatalf("after 0.5 s: %d admitted, want 500", n)
	}
	// Reads have their own 3,000 units: a strongly consistent read of a
	// small item is one.
	reads := 0
	for i := 0; i < 3500; i++ {
		if _, err := e.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("t"),
			Key: Item{"PK": s("ROOM#1"), "SK": s("META")}, ConsistentRead: aws.Bool(true)}); err == nil {
			reads++
		}
	}
	if reads != 3000 {
		t.Fatalf("%d strong reads of one partition in an instant, want 3000", reads)
	}
}

// A throttled transaction is cancelled with "ThrottlingError" on the items
// whose partitions (or index partitions) are out of capacity.
func TestAThrottledTransactionIsCancelledOnTheHotItem(t *testing.T) {
	db := &fake{items: map[string]Item{}}
	e := Enforce(db, nil, dueSchema)
	e.now = func() time.Time { return time.Unix(0, 0) }
	tx := func(i int) error {
		_, err := e.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String("t"), Item: Item{"PK": s(fmt.Sprintf("E#%d", i)), "SK": s("A")}}},
			{Put: &types.Put{TableName: aws.String("t"), Item: Item{"PK": s("HOT"), "SK": s(fmt.Sprint(i))}}},
		}})
		return err
	}
	n := 0
	var last error
	for i := 0; i < 600; i++ {
		if last = tx(i); last == nil {
			n++
		}
	}
	if n != 500 { // 2 units per item on HOT
		t.Fatalf("%d transactions admitted, want 500", n)
	}
	var tc *types.TransactionCanceledException
	if !errors.As(last, &tc) || aws.ToString(tc.CancellationReasons[0].Code) != "None" || aws.ToString(tc.CancellationReasons[1].Code) != "ThrottlingError" {
		t.Fatalf("%v", last)
	}
}
