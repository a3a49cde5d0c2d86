// Package ddb is minipay's thin DynamoDB layer, with no money and no
// capability in it: the table definition, the client, keys and attribute
// codecs that report errors, time-ordered ids, a Query its caller reads
// item by item (Table.Query: ddb calls nothing back), ONE paged listing
// with a cursor bound to its listing (page.go; merged over a sharded
// owner's partitions in merge.go), and ONE reader of the due-work index
// (due.go). The ledger kernel and the capability packages build on it.
package ddb

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/kernel/config"
)

// Client is every DynamoDB call a request path makes. Test wrappers (fault
// injection, counting, the contention model) implement it.
type Client interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Scanner adds what the operator's tools call: the audit's Scan and the
// local stack's TTL sweep (DeleteItem). No request path uses them.
type Scanner interface {
	Client
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Item is a DynamoDB item.
type Item = map[string]types.AttributeValue

// Table is one table reached through a client.
type Table struct {
	Client Client
	Name   string
}

// NewTable is the table name on c.
func NewTable(c Client, name string) *Table { return &Table{Client: c, Name: name} }

// Key is a primary key.
func Key(pk, sk string) Item { return Item{AttrPK: S(pk), AttrSK: S(sk)} }

// Get reads one item, strongly consistent (nil if absent).
func (t *Table) Get(ctx context.Context, key Item) (Item, error) {
	out, err := t.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(t.Name), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("ddb: get %s/%s: %w", str(key, AttrPK), str(key, AttrSK), err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	return out.Item, nil
}

// Query is one Query read an item at a time, a page at a time, by its
// caller (like database/sql's Rows):
//
//	q := t.Query(in)
//	for q.Next(ctx) {
//		item := q.Item()
//		...
//	}
//	if err := q.Err(); err != nil { ... }
//
// A page is fetched only when the previous one is used up, so at most one
// page is held; stopping early is simply not calling Next again. The
// caller's loop stays the caller's: ddb calls nothing back.
type Query struct {
	t    *Table
	in   dynamodb.QueryInput // a copy: paging moves its ExclusiveStartKey
	page []Item
	item Item
	last bool // the page held is the last one
	err  error
}

// Query starts reading in on t (TableName is set to t's). Nothing is sent
// until the first Next.
func (t *Table) Query(in *dynamodb.QueryInput) *Query {
	q := &Query{t: t, in: *in}
	q.in.TableName = aws.String(t.Name)
	return q
}

// Next moves to the next item, fetching the next page when the one held
// is used up (pages that come back empty are read past). It is false at
// the end or on an error (see Err).
func (q *Query) Next(ctx context.Context) bool {
	for len(q.page) == 0 {
		if q.last || q.err != nil {
			q.item = nil
			return false
		}
		out, err := q.t.Client.Query(ctx, &q.in)
		if err != nil {
			q.err, q.item = err, nil
			return false
		}
		q.page = out.Items
		q.last = len(out.LastEvaluatedKey) == 0
		q.in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	q.item, q.page = q.page[0], q.page[1:]
	return true
}

// Item is the item Next moved to.
func (q *Query) Item() Item { return q.item }

// Err is the error that ended the reading, if any.
func (q *Query) Err() error { return q.err }

// LocalMaxConns caps connections to DynamoDB Local.
const LocalMaxConns = 64

// NewClient builds a DynamoDB client from the configuration. Locally
// (endpoint set) it uses fixed dummy credentials and a fixed region, so no
// AWS profile is needed.
func NewClient(ctx context.Context, cfg config.Config) (*dynamodb.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	local := cfg.DynamoDBEndpoint != ""
	if local {
		opts = append(opts,
			awsconfig.WithRegion("ap-northeast-2"),
			awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")),
			// DynamoDB Local resets connections beyond a few hundred at once;
			// queue requests on a bounded pool instead (in the cloud each
			// Lambda instance has one request in flight, so no cap is needed).
			awsconfig.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
				t.MaxConnsPerHost = LocalMaxConns
				t.MaxIdleConnsPerHost = LocalMaxConns
			})))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("ddb: aws config: %w", err)
	}
	return dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if local {
			o.BaseEndpoint = aws.String(cfg.DynamoDBEndpoint)
			// DynamoDB Local's error responses carry no X-Amz-Crc32 header,
			// so the SDK's CRC32 check fails when it closes each such body
			// and logs "failed to close HTTP response body ... checksum" (a
			// known SDK issue): thousands of lines per load run that bury
			// real errors. Only the local endpoint skips the check; the
			// cloud keeps it.
			o.DisableValidateResponseChecksum = true
		}
	}), nil
}

// CreateTable creates the table (from the same definition the CDK stack
// uses) and waits until it is active. An existing table is fine.
func CreateTable(ctx context.Context, db *dynamodb.Client, name string) error {
	_, err := db.CreateTable(ctx, CreateTableInput(name))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("ddb: create table %s: %w", name, err)
	}
	return dynamodb.NewTableExistsWaiter(db).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, time.Minute)
}
