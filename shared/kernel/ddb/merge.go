package ddb

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
)

// Sharded listings. A very busy owner's items (a store's order pointers, a
// high-volume receiver's history) are spread over several partition keys
// so no one partition takes all their writes: shard 0 is the unsharded key
// itself, shard n > 0 the key + "#<n>". Their items share one sort-key
// space (time-ordered ids), so one listing over all shards is the merge of
// one Query per shard, and its cursor is, as for one partition, the sort
// key of the last item returned.

// ShardKey is shard n of the partition key base.
func ShardKey(base string, n int) string {
	if n <= 0 {
		return base
	}
	return base + "#" + strconv.Itoa(n)
}

// HashShard is the shard of id among n: FNV-1a of the id, mod n (0 when
// n <= 1). The same id always lands on the same shard, and ids spread
// evenly over the n shards.
func HashShard(id string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// Shard is one partition of a sharded listing: its key in the listing's
// partition attribute, and (for an index) the table-key attributes its
// start keys need.
type Shard struct {
	Partition string
	Fixed     Item
}

// QueryPageShards returns one page of l over shards, merged newest (or
// oldest) first, and the cursor of the next page: one Query per shard, at
// once. l.Partition names the listing (its cursors); with one shard that
// is l.Partition itself it is exactly QueryPage, and a cursor from either
// form of the same listing is accepted by the other.
//
// A page may be shorter than the limit even when more follows (a shard
// whose Query stopped early bounds how far the merge may go); the cursor
// then says so.
func (t *Table) QueryPageShards(ctx context.Context, l Listing, shards []Shard, p PageRequest) ([]Item, string, error) {
	if len(shards) == 1 && shards[0].Partition == l.Partition {
		return t.QueryPage(ctx, l, p)
	}
	limit, lower, upper, start, ended, err := l.window(p)
	if err != nil || ended {
		return []Item{}, "", err
	}
	type result struct {
		items []Item
		lek   string // "" when the shard has no more
		err   error
	}
	results := make([]result, len(shards))
	done := make(chan struct{}, len(shards))
	for i, s := range shards {
		go func() {
			defer func() { done <- struct{}{} }()
			in := l.pageQuery(t.Name, s, lower, upper, start, limit)
			out, err := t.Client.Query(ctx, in)
			if err != nil {
				results[i].err = fmt.Errorf("ddb: list %s (%s): %w", l.Name, s.Partition, err)
				return
			}
			results[i].items = out.Items
			if len(out.LastEvaluatedKey) > 0 {
				results[i].lek = str(out.LastEvaluatedKey, AttrSK)
			}
		}()
	}
	for range shards {
		<-done
	}
	// bound: how far the merge may go. A shard that has more holds unseen
	// items only beyond its last evaluated key.
	bound, more := "", false
	for _, r := range results {
		if r.err != nil {
			return nil, "", r.err
		}
		if r.lek != "" {
			if !more || l.NewestFirst && r.lek > bound || !l.NewestFirst && r.lek < bound {
				bound = r.lek
			}
			more = true
		}
	}
	var items []Item
	for _, r := range results {
		for _, it := range r.items {
			sk := str(it, AttrSK)
			if !more || l.NewestFirst && sk >= bound || !l.NewestFirst && sk <= bound {
				items = append(items, it)
			}
		}
	}
	sort.Slice(items, func(i, j int) bool {
		if l.NewestFirst {
			return str(items[i], AttrSK) > str(items[j], AttrSK)
		}
		return str(items[i], AttrSK) < str(items[j], AttrSK)
	})
	if len(items) > int(limit) {
		items, more = items[:limit], true
	}
	next := ""
	switch {
	case more && len(items) > 0:
		next = l.encodeCursor(str(items[len(items)-1], AttrSK))
	case more:
		next = l.encodeCursor(bound)
	}
	if items == nil {
		items = []Item{}
	}
	return items, next, nil
}
