package webhooks

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// Sharded deliveries. A busy store's endpoint takes every order event's
// delivery put and its attempts' updates (about 4 WCU an event): on one
// partition (1,000 WCU/s) that held a store with an endpoint to about 29
// orders/s. An endpoint's deliveries are spread over DeliveryShards
// partitions, WHEP#<we_id> (shard 0, the key of before) and
// WHEP#<we_id>#<n>, n a hash of the event id; the delivery log is the
// merge of one Query per shard (ddb.QueryPageShards), exact and newest
// first as before, since event ids are time-ordered.
//
// The worker must see the endpoint's CURRENT status and secrets (a disabled
// or deleted endpoint gets no POST; no signature by a secret past its
// grace), yet reading the endpoint item (WHSTORE#<store>) strongly for
// every delivery would make that one partition the store's limit again
// (1 RCU a delivery), and an eventually consistent read (or a copy carried
// in the queue message) may be stale by an unbounded time. So each shard
// holds a copy of the endpoint item, WHEP#<we_id>[#<n>] / SETTINGS, and
// every write of the endpoint item writes all its copies in the SAME
// transaction (saveEndpoint; a delete deletes them): a copy is never
// behind its endpoint. The worker reads its delivery's shard copy strongly
// consistent, on the shard's own partition. An endpoint with no copies
// (made before the sharding) is read from its item, strongly; its next
// change writes the copies.

// DeliveryShards is how many partitions an endpoint's deliveries (and
// copies of its settings) spread over. A change of an endpoint writes
// DeliveryShards+1 items in one transaction (at most ledger.MaxItems).
const DeliveryShards = 64

const skSettings = "SETTINGS"

// deliveryShard is the shard of event's delivery.
func deliveryShard(event string) int { return ddb.HashShard(event, DeliveryShards) }

func shardPK(endpoint string, n int) string { return ddb.ShardKey(pkEndpoint+endpoint, n) }

// deliveryKey is the delivery of event to endpoint (on its shard).
func deliveryKey(endpoint, event string) ddb.Item {
	return ddb.Key(shardPK(endpoint, deliveryShard(event)), skDelivery+event)
}

// unshardedDeliveryKey is where a delivery made before the sharding lives.
func unshardedDeliveryKey(endpoint, event string) ddb.Item {
	return ddb.Key(pkEndpoint+endpoint, skDelivery+event)
}

// settingsKey is shard n's copy of the endpoint.
func settingsKey(endpoint string, n int) ddb.Item { return ddb.Key(shardPK(endpoint, n), skSettings) }

// deliveryShards are the partitions of endpoint's delivery log.
func deliveryShards(endpoint string) []ddb.Shard {
	out := make([]ddb.Shard, DeliveryShards)
	for n := range out {
		out[n] = ddb.Shard{Partition: shardPK(endpoint, n)}
	}
	return out
}

// getDelivery reads event's delivery to endpoint (strongly consistent)
// and answers its key: its shard's or, for a delivery made before the
// sharding, the unsharded one. item is nil when there is none.
func getDelivery(ctx context.Context, t *ddb.Table, endpoint, event string) (item, key ddb.Item, err error) {
	key = deliveryKey(endpoint, event)
	item, err = t.Get(ctx, key)
	if err != nil || item != nil || deliveryShard(event) == 0 {
		return item, key, err
	}
	key = unshardedDeliveryKey(endpoint, event)
	item, err = t.Get(ctx, key)
	return item, key, err
}

// endpointItem renders e with key (the endpoint's or a copy's).
func endpointItem(e endpoint, key ddb.Item) ddb.Item {
	item := ddb.Item{}
	for k, v := range key {
		item[k] = v
	}
	item["endpointId"] = ddb.S(e.ID)
	item["storeId"] = ddb.S(e.Store)
	item["owner"] = ddb.S(e.Owner)
	item["url"] = ddb.S(e.URL)
	item["status"] = ddb.S(e.Status)
	item["secret"] = ddb.S(e.Secret)
	item["createdAt"] = ddb.Time(e.CreatedAt)
	item["version"] = ddb.N(e.Version)
	ddb.SetStrings(item, map[string]string{"description": e.Description, "prevSecret": e.PrevSecret,
		"disabledReason": e.DisabledReason})
	if e.PrevSecret != "" {
		item["prevSecretUntilMs"] = ddb.Millis(e.PrevUntil)
	}
	for name, t := range map[string]time.Time{"failingSince": e.FailingSince, "disabledAt": e.DisabledAt,
		"rotatedAt": e.RotatedAt, "updatedAt": e.UpdatedAt} {
		if !t.IsZero() {
			item[name] = ddb.Time(t)
		}
	}
	if len(e.Types) > 0 {
		l := make([]types.AttributeValue, len(e.Types))
		for i, t := range e.Types {
			l[i] = ddb.S(t)
		}
		item["types"] = &types.AttributeValueMemberL{Value: l}
	}
	return item
}

// saveEndpoint puts e's new state into tx: the endpoint item, conditioned
// on its version being read's (so a change made meanwhile refuses this
// one: onConflict), and every shard's copy, all with version read+1. A
// new endpoint (read < 0) is put, conditioned on its not existing; an
// existing one is updated to the whole new state (every attribute set or
// removed: a copy missing, as for an endpoint made before the sharding,
// is made whole), which is what its routes are granted.
func saveEndpoint(tx *ledger.Tx, e endpoint, read int64, onConflict func(ddb.Item) error) endpoint {
	if read < 0 {
		e.Version = 1
		tx.Put(endpointItem(e, endpointKey(e.Store, e.ID)), ledger.Cond{Expr: "attribute_not_exists(PK)"}, onConflict)
		for n := 0; n < DeliveryShards; n++ {
			tx.Put(endpointItem(e, settingsKey(e.ID, n)), ledger.Cond{}, nil)
		}
		return e
	}
	e.Version = read + 1
	update, names, values := wholeUpdate(endpointItem(e, nil))
	cond := ledger.Cond{Expr: "#ver = :readVersion", Names: names, Values: ddb.Item{":readVersion": ddb.N(read)}}
	if read == 0 { // made before versions
		cond = ledger.Cond{Expr: "attribute_exists(PK) AND attribute_not_exists(#ver)", Names: names}
	}
	tx.Update(endpointKey(e.Store, e.ID), update, ledger.Cond{Expr: cond.Expr, Names: names, Values: ddb.Merge(values, cond.Values)}, onConflict)
	for n := 0; n < DeliveryShards; n++ {
		tx.Update(settingsKey(e.ID, n), update, ledger.Cond{Names: names, Values: values}, nil)
	}
	return e
}

// optionalAttrs are the endpoint attributes that may be absent.
var optionalAttrs = []string{"description", "prevSecret", "prevSecretUntilMs", "disabledReason", "failingSince",
	"disabledAt", "rotatedAt", "updatedAt", "types"}

// wholeUpdate is the update expression that makes an item exactly item's
// attributes (those of optionalAttrs it lacks removed).
func wholeUpdate(item ddb.Item) (string, map[string]string, ddb.Item) {
	names := map[string]string{"#ver": "version"}
	values := ddb.Item{}
	attrs := make([]string, 0, len(item))
	for k := range item {
		attrs = append(attrs, k)
	}
	slices.Sort(attrs)
	var set, remove []string
	for i, k := range attrs {
		n, v := fmt.Sprintf("#a%d", i), fmt.Sprintf(":a%d", i)
		if k == "version" {
			n = "#ver"
		}
		names[n], values[v] = k, item[k]
		set = append(set, n+" = "+v)
	}
	for i, k := range optionalAttrs {
		if _, ok := item[k]; !ok {
			n := fmt.Sprintf("#r%d", i)
			names[n] = k
			remove = append(remove, n)
		}
	}
	expr := "SET " + strings.Join(set, ", ")
	if len(remove) > 0 {
		expr += " REMOVE " + strings.Join(remove, ", ")
	}
	return expr, names, values
}

// deleteEndpoint puts the deletion of e and its copies into tx.
func deleteEndpoint(tx *ledger.Tx, e endpoint, onGone func(ddb.Item) error) {
	tx.Delete(endpointKey(e.Store, e.ID), ledger.Cond{Expr: "attribute_exists(PK)"}, onGone)
	for n := 0; n < DeliveryShards; n++ {
		tx.Delete(settingsKey(e.ID, n), ledger.Cond{}, nil)
	}
}

var (
	errChanged   = errors.New("webhooks: endpoint changed meanwhile")
	errUnchanged = errors.New("webhooks: nothing to change")
)

// modifyEndpoint reads the endpoint (strongly; first, if given, is the
// endpoint just read), lets change edit it (and add to the transaction: a
// notice), and saves it with its copies; a concurrent change makes it read
// and try again (a few times, after a jittered pause). change answers errUnchanged to write
// nothing (modifyEndpoint answers it too). found is false when the
// endpoint does not exist. Changes that keep racing end in ledger.ErrBusy
// (503, retry shortly).
func modifyEndpoint(ctx context.Context, d httpapi.Services, first *endpoint, store, id string, change func(e *endpoint, tx *ledger.Tx) error) (endpoint, bool, error) {
	for try := 0; ; try++ {
		var e endpoint
		if try == 0 && first != nil {
			e = *first
		} else {
			item, err := d.Table.Get(ctx, endpointKey(store, id))
			if err != nil || item == nil {
				return endpoint{}, false, err
			}
			if e, err = endpointFromItem(item); err != nil {
				return endpoint{}, true, err
			}
		}
		read := e.Version
		tx := &ledger.Tx{}
		if err := change(&e, tx); err != nil {
			return e, true, err
		}
		e = saveEndpoint(tx, e, read, func(ddb.Item) error { return errChanged })
		err := d.Ledger.Commit(ctx, tx)
		if errors.Is(err, errChanged) {
			if try < 8 {
				time.Sleep(time.Duration(1+rand.IntN(5<<min(try, 4))) * time.Millisecond) // jitter: racing changes spread out
				continue
			}
			err = ledger.ErrBusy.With("webhook endpoint %s kept changing meanwhile; retry shortly", id) // 503
		}
		return e, true, err
	}
}

// settings is the endpoint of a delivery on endpoint's shard n as it is
// now: the shard's copy, read strongly consistent (on the shard's own
// partition), or the endpoint item for an endpoint without copies. found
// is false when the endpoint was deleted.
func settings(ctx context.Context, d httpapi.Services, store, endpointID string, n int) (endpoint, bool, error) {
	item, err := d.Table.Get(ctx, settingsKey(endpointID, n))
	if err == nil && item == nil {
		item, err = d.Table.Get(ctx, endpointKey(store, endpointID))
	}
	if err != nil || item == nil {
		return endpoint{}, false, err
	}
	e, err := endpointFromItem(item)
	return e, err == nil, err
}
