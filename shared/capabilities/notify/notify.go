// Package notify is the inbox every capability writes to: a notification is
// an item written in the SAME transaction as the state change that causes it
// (an outbox), listed by GET /me/notifications, and in the cloud streamed to
// EventBridge by the stack's pipe (at least once; consumers dedupe by id).
//
//	item          PK                SK                       notes
//	notification  USER#<uid>[#<n>]  NOTIF#<time-ordered id>  type, at, data (a map); ttl 90 days
//
// A user's inbox is spread over InboxShards partitions (ddb.ShardKey: shard
// 0 is USER#<uid> itself, shard n > 0 USER#<uid>#<n>), so that one busy
// user (a popular store's owner gets about 2 notifications per order) puts
// no partition over its 1,000 WCU/s: a notification of id x goes to shard
// 1 + hash(x) mod (InboxShards-1). Shard 0 takes no new notification: it
// holds the user's own items (profile, accounts, settings, pointers: the
// items their debits update), and the inbox items written before the
// sharding, which List still reads. List merges the shards newest first
// (ddb.QueryPageShards: one Query per shard, at once). The SK is unchanged,
// so the stack's pipe (it filters the stream on the SK prefix NOTIF#) and
// the TTL work as before.
package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// Retention is the inbox items' TTL.
const Retention = 90 * 24 * time.Hour

const (
	SKPrefix    = "NOTIF#" // the stack's pipe filters on it
	attrData    = "data"
	listingName = "notifications"
)

// InboxShards is how many partitions a user's inbox is read from: shard 0
// (USER#<uid>: items from before the sharding) and the InboxShards-1
// shards new notifications go to. A notification costs its partition 2 WCU
// (a transactional put of up to 1 KB), so a store owner's ~2 per order put
// 4 WCU an order over 15 partitions: 1,000 orders/s is about 27 % of each.
const InboxShards = 16

// inboxShard is the shard of notification id: 1..InboxShards-1.
func inboxShard(id string) int { return 1 + ddb.HashShard(id, InboxShards-1) }

// inboxPartition is shard n of the user's inbox.
func inboxPartition(userID string, n int) string { return ddb.ShardKey(ledger.UserPK(userID), n) }

// Notification is one inbox item. Data holds the capability's facts
// (strings, integers, times); the JSON puts them beside id, type and at.
type Notification struct {
	ID     string
	UserID string
	Type   string
	At     time.Time
	Data   map[string]any
}

// MarshalJSON flattens Data into the object.
func (n Notification) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(n.Data)+3)
	for k, v := range n.Data {
		if t, ok := v.(time.Time); ok {
			v = t.UTC()
		}
		m[k] = v
	}
	m["id"], m["type"], m["at"] = n.ID, n.Type, n.At.UTC()
	return json.Marshal(m)
}

// Add puts n into tx (n.ID is set if empty).
func Add(tx *ledger.Tx, n Notification) {
	if n.ID == "" {
		n.ID = ddb.NewTimeID(n.At)
	}
	item := ddb.Key(inboxPartition(n.UserID, inboxShard(n.ID)), SKPrefix+n.ID)
	item["notificationId"] = ddb.S(n.ID)
	item["userId"] = ddb.S(n.UserID)
	item["type"] = ddb.S(n.Type)
	item["at"] = ddb.Time(n.At)
	item[ddb.AttrTTL] = ddb.Epoch(n.At.Add(Retention))
	data := map[string]types.AttributeValue{}
	for k, v := range n.Data {
		switch v := v.(type) {
		case string:
			if v != "" {
				data[k] = ddb.S(v)
			}
		case int64:
			data[k] = ddb.N(v)
		case int:
			data[k] = ddb.N(int64(v))
		case time.Time:
			if !v.IsZero() {
				data[k] = ddb.Time(v)
			}
		default:
			tx.Fail(fmt.Errorf("notify: %s: data %s is %T", n.Type, k, v))
			return
		}
	}
	item[attrData] = &types.AttributeValueMemberM{Value: data}
	tx.Put(item, ledger.Cond{Expr: "attribute_not_exists(PK)"}, func(ddb.Item) error {
		return fmt.Errorf("notify: notification id collision %s", n.ID)
	})
}

// List returns one page of the user's inbox, newest first: one Query per
// shard, at once, merged. Items past their TTL are never returned. A page
// may be shorter than the limit while more follows (the cursor says so).
func List(ctx context.Context, t *ddb.Table, userID string, p ddb.PageRequest, now time.Time) ([]Notification, string, error) {
	shards := make([]ddb.Shard, InboxShards)
	for n := range shards {
		shards[n] = ddb.Shard{Partition: inboxPartition(userID, n)}
	}
	items, next, err := t.QueryPageShards(ctx, ddb.Listing{
		Name: listingName, Bind: []string{userID}, PartitionAttr: ddb.AttrPK, Partition: ledger.UserPK(userID),
		Lower: SKPrefix, Upper: SKPrefix + "~", NewestFirst: true, Now: now,
	}, shards, p)
	if err != nil {
		return nil, "", err
	}
	out := make([]Notification, 0, len(items))
	for _, it := range items {
		d := ddb.Decode(it)
		n := Notification{ID: d.MustS("notificationId"), UserID: userID, Type: d.MustS("type"), At: d.MustTime("at"), Data: map[string]any{}}
		if m, ok := it[attrData].(*types.AttributeValueMemberM); ok {
			for k, v := range m.Value {
				switch v := v.(type) {
				case *types.AttributeValueMemberS:
					n.Data[k] = v.Value
				case *types.AttributeValueMemberN:
					x, err := strconv.ParseInt(v.Value, 10, 64)
					if err != nil {
						return nil, "", fmt.Errorf("notify: %s: data %s %q is not an integer", n.ID, k, v.Value)
					}
					n.Data[k] = x
				}
			}
		}
		if err := d.Err(); err != nil {
			return nil, "", err
		}
		out = append(out, n)
	}
	return out, next, nil
}
