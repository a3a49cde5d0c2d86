package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// This file serves the benchmark only: the history foil and its seeding.

// seedEntries writes n synthetic history entries on the user's main account
// (n/2 pairs of 1 won out to and back from the user's bank shard, so every
// balance and the audit are unchanged), one second apart back from now.
// Only the entries of the movements are written (not their account updates
// or postings), with BatchWriteItem, 25 at a time: through transactions it
// would take minutes.
func seedEntries(ctx context.Context, db *dynamodb.Client, l *ledger.Ledger, table, userID string, n int) error {
	now := time.Now()
	main, bank := ledger.MainAccount(userID), ledger.ExternalAccount(userID)
	var puts []types.WriteRequest
	for i := 0; i < n/2; i++ {
		tx := &ledger.Tx{}
		out, back := now.Add(-time.Duration(n-2*i)*time.Second), now.Add(-time.Duration(n-2*i-1)*time.Second)
		tx.Move(ledger.Movement{ID: ledger.NewMovementID(out), Type: "seed", Amount: 1, At: out, From: main, To: bank})
		tx.Move(ledger.Movement{ID: ledger.NewMovementID(back), Type: "seed", Amount: 1, At: back, From: bank, To: main})
		for _, it := range l.Input(tx).TransactItems {
			if it.Put != nil && strings.HasPrefix(it.Put.Item[ddb.AttrPK].(*types.AttributeValueMemberS).Value, "HISTORY#") {
				puts = append(puts, types.WriteRequest{PutRequest: &types.PutRequest{Item: it.Put.Item}})
			}
		}
	}
	for start := 0; start < len(puts); start += 25 {
		pending := map[string][]types.WriteRequest{table: puts[start:min(start+25, len(puts))]}
		for len(pending) > 0 {
			out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				return fmt.Errorf("bench: seed entries: %w", err)
			}
			pending = out.UnprocessedItems
		}
	}
	return nil
}

// naiveLatestEntries is the history query as it should NOT be written: a
// Scan of the whole table filtered to the account, sorted in memory. Its
// cost grows with the table, not the page.
func naiveLatestEntries(ctx context.Context, db *dynamodb.Client, table, accountID string, n int) ([]ddb.Item, error) {
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(table),
		FilterExpression:          aws.String("accountId = :a AND begins_with(SK, :e)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": ddb.S(accountID), ":e": ddb.S("ENTRY#")},
	}
	var items []ddb.Item
	for {
		out, err := db.Scan(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("bench: naive history: %w", err)
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	sk := func(it ddb.Item) string { return it[ddb.AttrSK].(*types.AttributeValueMemberS).Value }
	sort.Slice(items, func(i, j int) bool { return sk(items[i]) > sk(items[j]) })
	return items[:min(n, len(items))], nil
}
