// Package ddbtest runs integration tests against a real DynamoDB Local:
// the one named by MINIPAY_DYNAMODB_ENDPOINT, or one it starts itself. Every
// test gets a fresh table and ends with the money audit. It also holds the
// test-only client wrappers (fault injection, counting). Production code
// never imports it.
package ddbtest

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/localstack/dynamolocal"
	"minipay/shared/kernel/clock"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

var (
	endpoint string
	client   *dynamodb.Client
	tables   atomic.Int64
)

// Main is a TestMain body: it makes sure DynamoDB Local runs, runs the
// tests, and stops what it started.
//
//	func TestMain(m *testing.M) { os.Exit(ddbtest.Main(m)) }
func Main(m *testing.M) int {
	ctx := context.Background()
	endpoint = os.Getenv(config.EnvDynamoDBEndpoint)
	var srv *dynamolocal.Server
	if endpoint == "" {
		var err error
		srv, err = dynamolocal.Start(ctx, dynamolocal.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, "ddbtest:", err)
			return 1
		}
		endpoint = srv.Endpoint
	}
	defer srv.Stop()
	var err error
	client, err = ddb.NewClient(ctx, config.Config{DynamoDBEndpoint: endpoint})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ddbtest:", err)
		return 1
	}
	return m.Run()
}

// Endpoint is the DynamoDB Local endpoint in use.
func Endpoint() string { return endpoint }

// Client is a client of DynamoDB Local.
func Client() *dynamodb.Client { return client }

// Start is the default test start time: 2026-11-22 10:00 KST.
var Start = time.Date(2026, 11, 22, 10, 0, 0, 0, clock.KST)

// Env is one test's world: a fresh table, the ledger on it, a manual clock.
type Env struct {
	Name   string
	Table  *ddb.Table
	Ledger *ledger.Ledger
	Clock  *clock.Manual
	DB     ddb.Client // the (possibly wrapped) client the ledger uses
}

// New creates a fresh table and registers the audit to run when the test
// ends. wrap, if given, wraps the client (fault injection, counting).
func New(t testing.TB, wrap ...func(ddb.Client) ddb.Client) *Env {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("t%d_%d", time.Now().UnixNano(), tables.Add(1))
	if err := ddb.CreateTable(ctx, client, name); err != nil {
		t.Fatal(err)
	}
	var db ddb.Client = client
	for _, w := range wrap {
		db = w(db)
	}
	clk := clock.NewManual(Start)
	table := ddb.NewTable(db, name)
	e := &Env{Name: name, Table: table, Ledger: ledger.New(table, clk), Clock: clk, DB: db}
	t.Cleanup(func() {
		if !t.Failed() {
			Audit(t, name)
		}
		_, _ = client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &name})
	})
	return e
}

// Audit fails the test unless every ledger invariant holds on the table.
func Audit(t testing.TB, table string) ledger.AuditReport {
	t.Helper()
	r, err := ledger.Audit(context.Background(), client, table)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatal(r.String())
	}
	return r
}

// Sweep deletes the table's items whose TTL has passed at now, as the cloud
// eventually does.
func (e *Env) Sweep(t testing.TB) int {
	t.Helper()
	n, err := ddb.SweepExpired(context.Background(), client, e.Name, e.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TTLSweeper is the table's TTL sweep as the emulator takes it.
func (e *Env) TTLSweeper() interface {
	SweepExpired(ctx context.Context) (int, error)
} {
	return ttlSweeper{e}
}

type ttlSweeper struct{ e *Env }

func (s ttlSweeper) SweepExpired(ctx context.Context) (int, error) {
	return ddb.SweepExpired(ctx, client, s.e.Name, s.e.Clock.Now())
}
