package store

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// This file serves benchmarks only: nothing on a request path calls it.

// SeedEntries writes n synthetic history entries on a user account, in
// balanced pairs (+1, -1) so the balance and the audit are unchanged, spread
// one second apart back from the store clock's now. BatchWriteItem, 25 at a
// time: seeding 100,000 entries through transactions would take minutes.
func (s *Store) SeedEntries(ctx context.Context, account AccountRef, n int) error {
	now := s.clock.Now()
	tx := &Tx{}
	for i := 0; i < n; i++ {
		at := now.Add(-time.Duration(n-i) * time.Second)
		amount := int64(1)
		if i%2 == 1 {
			amount = -1
		}
		tx.entry(Movement{ID: NewMovementID(at), Type: "seed", At: at}, account, amount, AccountRef{ID: "seed"}, "seed")
	}
	for start := 0; start < len(tx.items); start += 25 {
		end := min(start+25, len(tx.items))
		var reqs []types.WriteRequest
		for _, it := range tx.items[start:end] {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it.Put.Item}})
		}
		pending := map[string][]types.WriteRequest{s.table: reqs}
		for len(pending) > 0 {
			out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				return fmt.Errorf("store: seed entries: %w", err)
			}
			pending = out.UnprocessedItems
		}
	}
	return nil
}

// NaiveLatestEntries is the history query as it should NOT be written: a
// Scan of the whole table filtered to the account, sorted in memory. Its
// cost grows with the table, not the page. Kept only as the benchmark's foil.
func (s *Store) NaiveLatestEntries(ctx context.Context, accountID string, n int) ([]Entry, error) {
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		FilterExpression:          aws.String("accountId = :a AND begins_with(SK, :e)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": str(accountID), ":e": str(prefixEntry)},
	}
	var items []map[string]types.AttributeValue
	for {
		out, err := s.db.Scan(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("store: naive history: %w", err)
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	sort.Slice(items, func(i, j int) bool { return getS(items[i], AttrSK) > getS(items[j], AttrSK) })
	entries := make([]Entry, 0, n)
	for _, item := range items[:min(n, len(items))] {
		entries = append(entries, entryFromItem(item))
	}
	return entries, nil
}
