package contention

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/localstack/dynamolocal"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
)

var (
	localClient *dynamodb.Client // nil under -short
	tables      atomic.Int64
)

// TestMain starts DynamoDB Local unless MINIPAY_DYNAMODB_ENDPOINT names
// one, or -short asks for the unit tests only.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	os.Exit(withLocal(m))
}

func withLocal(m *testing.M) int {
	ctx := context.Background()
	endpoint := os.Getenv(config.EnvDynamoDBEndpoint)
	if endpoint == "" {
		srv, err := dynamolocal.Start(ctx, dynamolocal.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, "contention:", err)
			return 1
		}
		defer srv.Stop()
		endpoint = srv.Endpoint
	}
	c, err := ddb.NewClient(ctx, config.Config{DynamoDBEndpoint: endpoint})
	if err != nil {
		fmt.Fprintln(os.Stderr, "contention:", err)
		return 1
	}
	localClient = c
	return m.Run()
}

// localTable creates a fresh table (minipay's definition: PK, SK) on
// DynamoDB Local and deletes it when the test ends.
func localTable(t *testing.T) string {
	t.Helper()
	if localClient == nil {
		t.Skip("needs DynamoDB Local (not with -short)")
	}
	name := fmt.Sprintf("contention_%d_%d", time.Now().UnixNano(), tables.Add(1))
	ctx := context.Background()
	if err := ddb.CreateTable(ctx, localClient, name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = localClient.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &name}) })
	return name
}
