package bench

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"minipay/localstack/ddbtest"
)

func TestMain(m *testing.M) { os.Exit(ddbtest.Main(m)) }

// A small run of the whole report: every scenario works end to end and the
// audit holds (the figures themselves are not asserted: this is no timing test).
func TestReportSmallRun(t *testing.T) {
	var out bytes.Buffer
	err := Run(context.Background(), &out, Options{Endpoint: ddbtest.Endpoint(), Accounts: 4, Transfers: 10, HotSenders: 5, HistoryEntries: 60, Claimers: 30, Shares: 10,
		Orders: 5, Contended: true, Payers: 10, PayWindow: 100 * time.Millisecond, SettlementParticipants: 4, SettlementRounds: 3,
		SavingsAccounts: 200})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if testing.Verbose() {
		t.Log(out.String())
	}
	for _, want := range []string{"One charge", "Transfers between random pairs", "POST /transfers, cold", "POST /transfers, warm", "warm: throughput", "Hot receiver", "failures 0", "Sprinkle", "Orders: place", "History",
		"Settlement", "3 of 3 requests completed, 3 completion notifications",
		"Under the contention model", "senders -> 1 account", "sum of balances 0: OK"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
