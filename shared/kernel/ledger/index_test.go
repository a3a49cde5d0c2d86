package ledger_test

import (
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"minipay/localstack/ddbtest"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// Balance writes leave every index entry alone. Every account item carries
// its checkpoint's due entry (DUE#checkpoint#<n>), and DynamoDB writes an
// index entry whenever its item is written with a projected attribute
// changed (developer guide, "Provisioned throughput considerations for
// Global Secondary Indexes"), so with every attribute projected each
// balance change in the service would write the due index: the index
// projects only keys and ids instead. Charges, transfers, holds and their
// release all leave the projected part of each account item as it was.
func TestBalanceWritesLeaveIndexEntriesAlone(t *testing.T) {
	e := ddbtest.New(t)
	now := e.Clock.Now()
	kim, lee := register(t, e, "Kim"), register(t, e, "Lee")
	if err := e.Ledger.Commit(ctx, charge(kim.ID, 100_000, now)); err != nil { // creates the outside account
		t.Fatal(err)
	}
	accounts := []ledger.AccountRef{ledger.MainAccount(kim.ID), ledger.MainAccount(lee.ID)}
	read := func() []ddb.Item {
		var out []ddb.Item
		for _, a := range accounts {
			got, err := ddbtest.Client().GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.Name), Key: a.Key(), ConsistentRead: aws.Bool(true)})
			if err != nil || got.Item == nil {
				t.Fatalf("%s: %v", a.ID, err)
			}
			out = append(out, got.Item)
		}
		return out
	}
	before := read()
	if ddb.Decode(before[0]).S(ddb.AttrDuePK) == "" {
		t.Fatal("an account without its checkpoint's due entry")
	}
	if err := e.Ledger.Commit(ctx, charge(kim.ID, 50_000, now)); err != nil {
		t.Fatal(err)
	}
	if err := e.Ledger.Commit(ctx, move(ledger.MainAccount(kim.ID), ledger.MainAccount(lee.ID), ledger.KindMain, ledger.KindMain, 30_000, now)); err != nil {
		t.Fatal(err)
	}
	h := newHold(e, kim, lee, 10_000)
	if err := commit(t, e, func(tx *ledger.Tx) { tx.Hold(h) }); err != nil {
		t.Fatal(err)
	}
	if err := commit(t, e, func(tx *ledger.Tx) { tx.VoidHold(h, now) }); err != nil {
		t.Fatal(err)
	}
	after := read()
	for i, a := range accounts {
		if i == 0 && reflect.DeepEqual(before[i], after[i]) { // the payer's item (a credit may be a posting)
			t.Fatalf("%s: the writes changed nothing", a.ID)
		}
		for _, g := range ddb.GSIs {
			if b, a2 := g.Projected(before[i]), g.Projected(after[i]); !reflect.DeepEqual(b, a2) {
				t.Errorf("%s: a balance write rewrote its %s index entry:\n before %v\n after  %v", a.ID, g.Name, b, a2)
			}
		}
	}
}
