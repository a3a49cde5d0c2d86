package emulator_test

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"minipay/localstack/ddbtest"
)

// The integration tests run the real handlers against DynamoDB Local.
func TestMain(m *testing.M) { os.Exit(ddbtest.Main(m)) }

func quietLog() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }
