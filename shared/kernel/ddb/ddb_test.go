package ddb_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/logging"

	"minipay/localstack/ddbtest"
	"minipay/shared/kernel/config"
	"minipay/shared/kernel/ddb"
)

func TestMain(m *testing.M) { os.Exit(ddbtest.Main(m)) }

type captured struct {
	mu    sync.Mutex
	lines []string
}

func (c *captured) Logf(_ logging.Classification, format string, v ...any) {
	c.mu.Lock()
	c.lines = append(c.lines, fmt.Sprintf(format, v...))
	c.mu.Unlock()
}

func (c *captured) has(s string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// DynamoDB Local's error responses lack the CRC32 header: the SDK's check
// logs "failed to close HTTP response body" on each. The local client skips
// that check, so the warning is gone; a client with the check shows it (the
// test can fail).
func TestLocalErrorsLogNoChecksumWarning(t *testing.T) {
	ctx := context.Background()
	local, err := ddb.NewClient(ctx, config.Config{DynamoDBEndpoint: ddbtest.Endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	checked := dynamodb.New(local.Options(), func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = false })
	const warning = "failed to close HTTP response body"
	for _, tc := range []struct {
		name   string
		client *dynamodb.Client
		warns  bool
	}{{"the local client", local, false}, {"a client with the CRC32 check", checked, true}} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &captured{}
			for i := 0; i < 3; i++ { // an error response: the table does not exist
				_, err := tc.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("no_such_table"), Key: ddb.Key("a", "b")},
					func(o *dynamodb.Options) { o.Logger = logs })
				if err == nil {
					t.Fatal("GetItem on a missing table succeeded")
				}
			}
			if got := logs.has(warning); got != tc.warns {
				t.Fatalf("warned %v, want %v: %q", got, tc.warns, logs.lines)
			}
		})
	}
}
