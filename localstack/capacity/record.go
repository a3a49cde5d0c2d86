package capacity

import (
	"context"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/kernel/ddb"
)

// Client is every DynamoDB call a request path makes.
type Client = ddb.Client

// Kinds of charge.
const (
	Read  = "read"
	Write = "write"
)

// Charge is what one request cost on one partition.
type Charge struct {
	Function string // the Lambda function that made the call ("" outside one)
	Op       string // GetItem, Query, PutItem, UpdateItem, TransactWriteItems/Update, .../ConditionCheck, index
	Index    string // "" for the table
	PK       string // the partition key's value
	SK       string // the item's sort key (charges of single items, and the index writes they cause)
	Kind     string // Read or Write
	Units    float64
	Bytes    int
	Strong   bool // a strongly consistent read
	Failed   bool // the call failed (a refused condition still costs its units)
}

// Partition names the partition a charge lands on: "table PK" or "index PK".
func (c Charge) Partition() string {
	if c.Index == "" {
		return "table " + c.PK
	}
	return c.Index + " " + c.PK
}

// Recorder wraps a client and charges every call (see Cost). Safe for
// concurrent use.
type Recorder struct {
	inner Client // the calls' path
	peek  Client // reads items before and after writes, unrecorded (the bare client)
	s     Schema

	mu      sync.Mutex
	charges []Charge
	// OnCharge, if set, sees every call's charges (the Enforcer's hook).
	OnCharge func([]Charge)
	// Admit, if set, is asked before each call with the partitions it will
	// touch (for a write: the items' table partitions and the index
	// partitions their current versions, or a put's new item, live on); an
	// error is answered instead of the call, which then costs nothing.
	Admit func(op string, touched []Touch) error
	// Done, if set, is told each admitted call's touches and charges.
	Done func(touched []Touch, cs []Charge)
}

// Touch is a partition a call is about to read or write; Item is its
// position in a transaction (-1 outside one).
type Touch struct {
	Index, PK, Kind string
	Item            int
}

func (r *Recorder) admit(op string, t []Touch) error {
	if r.Admit == nil {
		return nil
	}
	return r.Admit(op, t)
}

// writeTouches: the table partition of key and the index partitions of
// the item's versions.
func (r *Recorder) writeTouches(i int, key Item, versions ...Item) []Touch {
	t := []Touch{{PK: str(key[r.s.PartitionKey]), Kind: Write, Item: i}}
	for _, ix := range r.s.Indexes {
		for _, v := range versions {
			if ix.in(v) {
				t = append(t, Touch{Index: ix.Name, PK: str(v[ix.PartitionKey]), Kind: Write, Item: i})
			}
		}
	}
	return t
}

// NewRecorder charges the calls made on inner against tables whose schema
// is s (minipay has one table); peek is the bare client it reads items
// through (nil: inner).
func NewRecorder(inner, peek Client, s Schema) *Recorder {
	if peek == nil {
		peek = inner
	}
	return &Recorder{inner: inner, peek: peek, s: s}
}

// SetSchema sets the schema (before the first call: a harness that creates
// its table after wrapping the client).
func (r *Recorder) SetSchema(s Schema) { r.s = s }

// Charges returns the charges recorded since the last Take.
func (r *Recorder) Charges() []Charge {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Charge(nil), r.charges...)
}

// Take returns the charges recorded since the last Take and forgets them.
func (r *Recorder) Take() []Charge {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.charges
	r.charges = nil
	return c
}

func (r *Recorder) record(ctx context.Context, cs []Charge, err error, touched []Touch) {
	fn := functionOf(ctx)
	for i := range cs {
		cs[i].Function, cs[i].Failed = fn, err != nil
	}
	r.mu.Lock()
	r.charges = append(r.charges, cs...)
	hook, done := r.OnCharge, r.Done
	r.mu.Unlock()
	if hook != nil {
		hook(cs)
	}
	if done != nil {
		done(touched, cs)
	}
}

// functionOf is the function the emulator (or Lambda) invoked: the end of
// the invoked function's ARN, without the stack's "minipay-" prefix.
func functionOf(ctx context.Context) string {
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok {
		return ""
	}
	arn := lc.InvokedFunctionArn
	arn = arn[strings.LastIndex(arn, ":")+1:]
	return strings.TrimPrefix(arn, "minipay-")
}

func (r *Recorder) get(ctx context.Context, table *string, key Item) Item {
	out, err := r.peek.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil || out == nil {
		return nil
	}
	return out.Item
}

func (r *Recorder) keyOf(item Item) Item {
	k := Item{r.s.PartitionKey: item[r.s.PartitionKey]}
	if r.s.SortKey != "" {
		k[r.s.SortKey] = item[r.s.SortKey]
	}
	return k
}

// writeCharges is a write of one item from before to after: the table
// write, sized as the larger of the two, and the index writes it causes.
func (r *Recorder) writeCharges(op string, key, before, after Item, transactional bool) []Charge {
	n := UpdateSize(before, after)
	if before == nil && after == nil {
		n = ItemSize(key)
	}
	cs := []Charge{{Op: op, PK: str(key[r.s.PartitionKey]), SK: str(key[r.s.SortKey]), Kind: Write, Units: WriteUnits(n, transactional), Bytes: n}}
	for _, w := range r.s.IndexWrites(before, after) {
		cs = append(cs, Charge{Op: op + "/index", Index: w.Index, PK: w.Partition, SK: str(key[r.s.SortKey]), Kind: Write, Units: w.Units, Bytes: w.Bytes})
	}
	return cs
}

// ---- reads ----

func (r *Recorder) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	touched := []Touch{{PK: str(in.Key[r.s.PartitionKey]), Kind: Read, Item: -1}}
	if err := r.admit("GetItem", touched); err != nil {
		return nil, err
	}
	out, err := r.inner.GetItem(ctx, in, o...)
	item := Item(nil)
	if err == nil && out != nil {
		item = out.Item
	}
	if in.ProjectionExpression != nil && item != nil { // a projection does not change what is read
		item = r.get(ctx, in.TableName, in.Key)
	}
	n := ItemSize(item)
	strong := aws.ToBool(in.ConsistentRead)
	r.record(ctx, []Charge{{Op: "GetItem", PK: str(in.Key[r.s.PartitionKey]), SK: str(in.Key[r.s.SortKey]), Kind: Read, Units: ReadUnits(n, strong), Bytes: n, Strong: strong}}, err, touched)
	return out, err
}

// Query is charged by the total size of the items it read (before any
// filter, whatever the projection), rounded up to 4 KB once.
func (r *Recorder) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	idx := aws.ToString(in.IndexName)
	pkAttr := r.s.PartitionKey
	if ix, ok := r.s.Index(idx); ok {
		pkAttr = ix.PartitionKey
	}
	pk := partitionValue(in, pkAttr)
	touched := []Touch{{Index: idx, PK: pk, Kind: Read, Item: -1}}
	if err := r.admit("Query", touched); err != nil {
		return nil, err
	}
	out, err := r.inner.Query(ctx, in, o...)
	n := 0
	if err == nil {
		items := out.Items
		if in.FilterExpression != nil || in.ProjectionExpression != nil || in.Select == types.SelectCount {
			items = r.readSet(ctx, in)
		}
		for _, it := range items {
			n += ItemSize(it)
		}
	}
	strong := aws.ToBool(in.ConsistentRead)
	r.record(ctx, []Charge{{Op: "Query", Index: idx, PK: pk, Kind: Read, Units: ReadUnits(n, strong), Bytes: n, Strong: strong}}, err, touched)
	return out, err
}

// readSet runs a Query's key condition again with no filter and no
// projection: the items the Query read.
func (r *Recorder) readSet(ctx context.Context, in *dynamodb.QueryInput) []Item {
	q := &dynamodb.QueryInput{TableName: in.TableName, IndexName: in.IndexName, KeyConditionExpression: in.KeyConditionExpression,
		ExclusiveStartKey: in.ExclusiveStartKey, Limit: in.Limit, ScanIndexForward: in.ScanIndexForward, ConsistentRead: in.ConsistentRead}
	cond := aws.ToString(in.KeyConditionExpression)
	for k, v := range in.ExpressionAttributeNames {
		if usesPlaceholder(cond, k) {
			if q.ExpressionAttributeNames == nil {
				q.ExpressionAttributeNames = map[string]string{}
			}
			q.ExpressionAttributeNames[k] = v
		}
	}
	for k, v := range in.ExpressionAttributeValues {
		if usesPlaceholder(cond, k) {
			if q.ExpressionAttributeValues == nil {
				q.ExpressionAttributeValues = Item{}
			}
			q.ExpressionAttributeValues[k] = v
		}
	}
	out, err := r.peek.Query(ctx, q)
	if err != nil {
		return nil
	}
	return out.Items
}

func usesPlaceholder(expr, ph string) bool {
	for i := 0; ; {
		j := strings.Index(expr[i:], ph)
		if j < 0 {
			return false
		}
		end := i + j + len(ph)
		if end == len(expr) || !isNameChar(expr[end]) {
			return true
		}
		i = end
	}
}

func isNameChar(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

var eqRE = regexp.MustCompile(`([#\w]+)\s*=\s*(:\w+)`)

// partitionValue finds the value a Query's key condition binds to attr.
func partitionValue(in *dynamodb.QueryInput, attr string) string {
	for _, m := range eqRE.FindAllStringSubmatch(aws.ToString(in.KeyConditionExpression), -1) {
		name := m[1]
		if strings.HasPrefix(name, "#") {
			name = in.ExpressionAttributeNames[name]
		}
		if name == attr {
			return str(in.ExpressionAttributeValues[m[2]])
		}
	}
	return ""
}

// ---- writes ----

func (r *Recorder) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	key := r.keyOf(in.Item)
	before := r.get(ctx, in.TableName, key)
	touched := r.writeTouches(-1, key, before, in.Item)
	if err := r.admit("PutItem", touched); err != nil {
		return nil, err
	}
	out, err := r.inner.PutItem(ctx, in, o...)
	after := in.Item
	if err != nil {
		after = before
	}
	r.record(ctx, r.writeCharges("PutItem", key, before, after, false), err, touched)
	return out, err
}

func (r *Recorder) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	before := r.get(ctx, in.TableName, in.Key)
	touched := r.writeTouches(-1, in.Key, before)
	if err := r.admit("UpdateItem", touched); err != nil {
		return nil, err
	}
	out, err := r.inner.UpdateItem(ctx, in, o...)
	after := before
	if err == nil {
		after = r.get(ctx, in.TableName, in.Key)
	}
	r.record(ctx, r.writeCharges("UpdateItem", in.Key, before, after, false), err, touched)
	return out, err
}

func (r *Recorder) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	d, ok := r.inner.(interface {
		DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	})
	if !ok {
		panic("capacity: the inner client has no DeleteItem")
	}
	before := r.get(ctx, in.TableName, in.Key)
	touched := r.writeTouches(-1, in.Key, before)
	if err := r.admit("DeleteItem", touched); err != nil {
		return nil, err
	}
	out, err := d.DeleteItem(ctx, in, o...)
	after := Item(nil)
	if err != nil {
		after = before
	}
	r.record(ctx, r.writeCharges("DeleteItem", in.Key, before, after, false), err, touched)
	return out, err
}

// TransactWriteItems charges each item as a transactional write (2 units
// per KB), a ConditionCheck included, sized by the item before and after.
// A cancelled transaction is charged its items unchanged.
func (r *Recorder) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	type step struct {
		op    string
		table *string
		key   Item
		put   Item
		check bool
	}
	steps := make([]step, len(in.TransactItems))
	for i, it := range in.TransactItems {
		switch {
		case it.Put != nil:
			steps[i] = step{op: "Put", table: it.Put.TableName, key: r.keyOf(it.Put.Item), put: it.Put.Item}
		case it.Update != nil:
			steps[i] = step{op: "Update", table: it.Update.TableName, key: it.Update.Key}
		case it.Delete != nil:
			steps[i] = step{op: "Delete", table: it.Delete.TableName, key: it.Delete.Key}
		case it.ConditionCheck != nil:
			steps[i] = step{op: "ConditionCheck", table: it.ConditionCheck.TableName, key: it.ConditionCheck.Key, check: true}
		}
	}
	befores := make([]Item, len(steps))
	var touched []Touch
	for i, s := range steps {
		befores[i] = r.get(ctx, s.table, s.key)
		if s.check {
			touched = append(touched, r.writeTouches(i, s.key)...)
		} else {
			touched = append(touched, r.writeTouches(i, s.key, befores[i], s.put)...)
		}
	}
	if err := r.admit("TransactWriteItems", touched); err != nil {
		return nil, err
	}
	out, err := r.inner.TransactWriteItems(ctx, in, o...)
	var cs []Charge
	for i, s := range steps {
		before, after := befores[i], befores[i]
		if err == nil && !s.check {
			switch s.op {
			case "Put":
				after = s.put
			case "Update":
				after = r.get(ctx, s.table, s.key)
			case "Delete":
				after = nil
			}
		}
		cs = append(cs, r.writeCharges("TransactWriteItems/"+s.op, s.key, before, after, true)...)
	}
	r.record(ctx, cs, err, touched)
	return out, err
}
