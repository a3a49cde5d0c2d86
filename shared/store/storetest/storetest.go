// Package storetest runs integration tests against a real DynamoDB Local:
// the one named by MINIPAY_DYNAMODB_ENDPOINT (make test starts one for all
// packages), or one it starts itself. Every test gets a fresh table and ends
// with the money audit.
package storetest

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/shared/clock"
	"minipay/shared/config"
	"minipay/shared/dynamolocal"
	"minipay/shared/store"
)

var (
	endpoint string
	client   *dynamodb.Client
	tables   atomic.Int64
)

// Main is a TestMain body: it makes sure DynamoDB Local runs, runs the
// tests, and stops what it started.
//
//	func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }
func Main(m *testing.M) int {
	ctx := context.Background()
	endpoint = os.Getenv(config.EnvDynamoDBEndpoint)
	var srv *dynamolocal.Server
	if endpoint == "" {
		var err error
		srv, err = dynamolocal.Start(ctx, dynamolocal.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, "storetest:", err)
			return 1
		}
		endpoint = srv.Endpoint
	}
	defer srv.Stop()
	var err error
	client, err = store.NewClient(ctx, config.Config{DynamoDBEndpoint: endpoint})
	if err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
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

// Env is one test's world: a fresh table, a store on it, a manual clock.
type Env struct {
	Table string
	Store *store.Store
	Clock *clock.Manual
	DB    store.API
}

// New creates a fresh table and registers the audit to run when the test
// ends. wrap, if given, wraps the client (fault injection, counting).
func New(t testing.TB, wrap ...func(store.API) store.API) *Env {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("t%d_%d", time.Now().UnixNano(), tables.Add(1))
	if err := store.CreateTable(ctx, client, name); err != nil {
		t.Fatal(err)
	}
	var db store.API = client
	for _, w := range wrap {
		db = w(db)
	}
	clk := clock.NewManual(Start)
	e := &Env{Table: name, Store: store.New(db, name, clk), Clock: clk, DB: db}
	t.Cleanup(func() {
		if !t.Failed() {
			Audit(t, store.New(client, name, clk))
		}
		_, _ = client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &name})
	})
	return e
}

// Audit fails the test unless every ledger invariant holds.
func Audit(t testing.TB, st *store.Store) store.AuditReport {
	t.Helper()
	r, err := st.Audit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatal(r.String())
	}
	return r
}
