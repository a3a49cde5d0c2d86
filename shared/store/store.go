// Package store is the only package that talks to DynamoDB.
//
// One table, composite string keys (PK, SK), designed from the access
// patterns below. Every money movement is ONE TransactWriteItems whose
// conditions re-check every fact it relies on; nothing reads a balance and
// writes it back.
//
// Items and access patterns:
//
//	item               PK                  SK                 used by
//	user profile       USER#<uid>          PROFILE            register; savings count
//	account            USER#<uid>          ACCOUNT#<aid>      list mine = one Query; get = GetItem;
//	                                                          a friend's main account id is derived
//	                                                          from their user id, so no lookup
//	system account     SYSTEM#<aid>        ACCOUNT#<aid>      the outside world (32 shards), later escrow
//	history entry      HISTORY#<aid>       ENTRY#<ulid>       newest first, one Query per page, ttl +1y
//	daily charge limit USER#<uid>          LIMIT#<kst date>   ADD with a condition, ttl a few days
//	API token          TOKEN#<sha256>      TOKEN              authorizer: one GetItem
//	idempotency record IDEM#<scope>#<key>  IDEM               written inside the movement's transaction
//	room, member       ROOM#<rid>          META, MEMBER#<uid> see rooms.go
//	sprinkle, claim    SPRINKLE#<sid>      META, CLAIM#<uid>  see sprinkles.go (token items: ROOM#<rid>/TOKEN#<t>)
//	escrow account     SYSTEM#<aid>        ACCOUNT#<aid>      a sprinkle's unclaimed money; never below zero
//	pending transfer   TRANSFER#<tid>      TRANSFER           see pending.go; due index DUE#pending (reminder, expiry)
//	transfer pointer   USER#<uid>          SENT#<status>#<tid>, RECV#<status>#<tid>: GET /transfers, one Query
//	notification       USER#<uid>          NOTIF#<ulid>       inbox, newest first, ttl 90 days; streamed to EventBridge
//	user setting       USER#<uid>          PROFILE            pendingByDefault (BOOL)
//
// Accounts carry balance, held and available (= balance - held, kept in step
// by every update) because a condition expression cannot do arithmetic:
// "available >= :amount" is the overdraft check.
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/clock"
	"minipay/shared/config"
)

// API is the part of the DynamoDB client minipay uses. Tests wrap it to
// inject faults (TransactionConflict never happens on DynamoDB Local) and to
// count round trips.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)             // TTL sweep (local stack)
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) // benchmark seeding only
}

// Store is minipay's data access. Safe for concurrent use.
type Store struct {
	db    API
	table string
	clock clock.Clock
	// Retry policy for TransactionConflict and throttling.
	maxAttempts int
	baseBackoff time.Duration
}

// New returns a Store on table.
func New(db API, table string, clk clock.Clock) *Store {
	return &Store{db: db, table: table, clock: clk, maxAttempts: 6, baseBackoff: 10 * time.Millisecond}
}

// Table is the table name.
func (s *Store) Table() string { return s.table }

// Clock is the store's clock.
func (s *Store) Clock() clock.Clock { return s.clock }

// LocalMaxConns caps connections to DynamoDB Local.
const LocalMaxConns = 64

// NewClient builds a DynamoDB client from the configuration. Locally
// (endpoint set) it uses fixed dummy credentials and a fixed region, so no
// AWS profile is needed.
func NewClient(ctx context.Context, cfg config.Config) (*dynamodb.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.DynamoDBEndpoint != "" {
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
		return nil, fmt.Errorf("store: aws config: %w", err)
	}
	return dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if cfg.DynamoDBEndpoint != "" {
			o.BaseEndpoint = aws.String(cfg.DynamoDBEndpoint)
		}
	}), nil
}

// CreateTable creates the table (from the same definition the CDK stack
// uses) and waits until it is active. An existing table is fine.
func CreateTable(ctx context.Context, db *dynamodb.Client, name string) error {
	_, err := db.CreateTable(ctx, CreateTableInput(name))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("store: create table %s: %w", name, err)
	}
	return dynamodb.NewTableExistsWaiter(db).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, time.Minute)
}

// ---- keys ----

const (
	prefixUser    = "USER#"
	prefixSystem  = "SYSTEM#"
	prefixAccount = "ACCOUNT#"
	prefixHistory = "HISTORY#"
	prefixEntry   = "ENTRY#"
	prefixLimit   = "LIMIT#"
	prefixToken   = "TOKEN#"
	prefixIdem    = "IDEM#"
	skProfile     = "PROFILE"
	skToken       = "TOKEN"
	skIdem        = "IDEM"
)

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: str(pk), AttrSK: str(sk)}
}

// ---- attribute helpers ----

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func getS(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(item map[string]types.AttributeValue, name string) int64 {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

// ---- ids ----

const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// randomString is n characters of crypto-random lower-case Crockford base32.
func randomString(n int) string {
	b := make([]byte, n)
	max := big.NewInt(32)
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // the OS random source failing is not recoverable
		}
		b[i] = crockford[v.Int64()]
	}
	return string(b)
}

// NewUserID is an unguessable user id.
func NewUserID() string { return "u_" + randomString(16) }

// MainAccountID derives a user's main account id from their user id, so
// paying a friend needs no lookup.
func MainAccountID(userID string) string {
	if len(userID) > 2 && userID[:2] == "u_" {
		return "m_" + userID[2:]
	}
	return "m_" + userID
}

// NewSavingsAccountID is an unguessable savings account id.
func NewSavingsAccountID() string { return "s_" + randomString(16) }

// NewMovementID is time-ordered (48-bit milliseconds, then 80 random bits,
// like a ULID), so history entries keyed by it sort newest-last.
func NewMovementID(t time.Time) string { return timePrefix(t) + randomString(16) }

// timePrefix is 10 base32 characters of Unix milliseconds; it sorts like time.
func timePrefix(t time.Time) string {
	ms := uint64(t.UnixMilli())
	var b [10]byte
	for i := 9; i >= 0; i-- {
		b[i] = crockford[ms&31]
		ms >>= 5
	}
	return string(b[:])
}

// NewToken returns a new raw API token; only its hash is ever stored.
func NewToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "mp_" + hex.EncodeToString(b)
}

// NewRequestToken is a ClientRequestToken for one logical transaction; it
// stays the same across retries so a retried commit is applied once.
func NewRequestToken() string { return randomString(32) }

// queryAll runs a Query page by page, handing each item to each until it
// returns false or the pages end.
func (s *Store) queryAll(ctx context.Context, in *dynamodb.QueryInput, each func(map[string]types.AttributeValue) bool) error {
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return err
		}
		for _, item := range out.Items {
			if !each(item) {
				return nil
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func asErr[T error](err error, target *T) bool { return err != nil && errors.As(err, target) }

// ValidID reports whether id is prefix followed by 16 id characters, the
// shape of every user and account id; anything else names nothing.
func ValidID(id, prefix string) bool {
	if len(id) != len(prefix)+16 || !strings.HasPrefix(id, prefix) {
		return false
	}
	for _, c := range id[len(prefix):] {
		if !strings.ContainsRune(crockford, c) {
			return false
		}
	}
	return true
}
