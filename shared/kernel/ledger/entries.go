package ledger

import (
	"context"
	"time"

	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/domainerr"
)

// Entry is one line of an account's history.
type Entry struct {
	ID                  string    `json:"id"` // the movement id, shared by both sides
	Type                string    `json:"type"`
	Amount              int64     `json:"amount"` // signed: + in, - out
	Direction           string    `json:"direction"`
	Counterparty        string    `json:"counterparty,omitempty"`
	CounterpartyAccount string    `json:"counterpartyAccount,omitempty"`
	Originator          string    `json:"originator,omitempty"`
	DisplayName         string    `json:"displayName,omitempty"`
	Memo                string    `json:"memo,omitempty"`
	Reference           string    `json:"reference,omitempty"`
	At                  time.Time `json:"at"`
}

func entryFromItem(item ddb.Item) (Entry, error) {
	d := ddb.Decode(item)
	e := Entry{
		ID: d.MustS("movementId"), Type: d.S("type"), Amount: d.MustN("amount"),
		Counterparty: d.S("counterparty"), CounterpartyAccount: d.S("counterpartyAccount"),
		Originator: d.S("originator"), DisplayName: d.S("displayName"), Memo: d.S("memo"),
		Reference: d.S("reference"), At: d.MustTime("at"),
	}
	e.Direction = DirectionIn
	if e.Amount < 0 {
		e.Direction = DirectionOut
	}
	return e, d.Err()
}

// EntryQuery asks for one page of an account's history.
type EntryQuery struct {
	AccountID string
	Direction string    // "", DirectionIn or DirectionOut
	From, To  time.Time // optional, inclusive
	Page      ddb.PageRequest
	// Shards is the account's shard count (Account.Shards; 0: 1). A
	// sharded account's pages merge one Query per shard.
	Shards int
}

// ListEntries returns one page of an account's history, newest first, and
// the cursor of the next page ("" at the end): one Query. Entries are keyed
// by time-ordered ids, so the one-year window and the time range are key
// conditions and cost nothing beyond the page; entries past their TTL are
// never returned. The table is read strongly consistent (a movement just
// committed is listed); the direction index cannot be (DynamoDB offers no
// consistent index reads), so a filtered listing may lag a moment. A
// sharded account's page is the merge of one Query per shard (at once),
// with the same cursors.
func (l *Ledger) ListEntries(ctx context.Context, q EntryQuery) ([]Entry, string, error) {
	if !q.From.IsZero() && !q.To.IsZero() && q.From.After(q.To) {
		return nil, "", domainerr.Field("from", "from (%s) is later than to (%s)", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	now := l.clock.Now()
	from := now.Add(-HistoryRetention)
	if q.From.After(from) {
		from = q.From
	}
	upper := skEntryPrefix + "~" // above every id character
	if !q.To.IsZero() {
		upper = skEntryPrefix + ddb.TimePrefix(q.To.Add(time.Millisecond))
	}
	listing := ddb.Listing{
		Name:          "entries",
		Bind:          []string{q.AccountID, q.Direction, bound(q.From), bound(q.To)},
		PartitionAttr: ddb.AttrPK,
		Partition:     pkHistory + q.AccountID,
		Lower:         skEntryPrefix + ddb.TimePrefix(from),
		Upper:         upper,
		NewestFirst:   true,
		Now:           now,
	}
	if q.Direction != "" {
		listing.Index, listing.PartitionAttr = ddb.IndexDirection, ddb.AttrDirKey
		listing.Partition = dirPartition(q.AccountID, 0, q.Direction)
		listing.Fixed = ddb.Item{ddb.AttrPK: ddb.S(pkHistory + q.AccountID)}
	}
	shards := make([]ddb.Shard, max(1, q.Shards))
	for n := range shards {
		shards[n] = ddb.Shard{Partition: ddb.ShardKey(pkHistory+q.AccountID, n)}
		if q.Direction != "" {
			shards[n] = ddb.Shard{Partition: dirPartition(q.AccountID, n, q.Direction),
				Fixed: ddb.Item{ddb.AttrPK: ddb.S(ddb.ShardKey(pkHistory+q.AccountID, n))}}
		}
	}
	items, next, err := l.table.QueryPageShards(ctx, listing, shards, q.Page)
	if err != nil {
		return nil, "", err
	}
	entries := make([]Entry, 0, len(items))
	for _, item := range items {
		e, err := entryFromItem(item)
		if err != nil {
			return nil, "", err
		}
		entries = append(entries, e)
	}
	return entries, next, nil
}

func bound(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
