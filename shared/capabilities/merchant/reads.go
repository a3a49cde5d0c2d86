package merchant

import (
	"context"
	"net/http"
	"time"

	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/ledger"
)

// OrderDetail is GET /orders/{id}: the order and a page of its timeline.
type OrderDetail struct {
	Order
	Timeline   []Event `json:"timeline"`
	NextCursor string  `json:"nextCursor,omitempty"`
}

// GetOrder is GET /orders/{id}?limit=&cursor=: the order (its customer or
// its store's owner; anyone else 404) and its timeline newest first. The
// item and the page are read at once (two requests, one round trip).
func GetOrder(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "get-order", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		page, err := httpapi.Page(r)
		if err != nil {
			return nil, err
		}
		id := r.PathParam("id")
		if !ddb.ValidTimeID(id) {
			return nil, ErrOrderNotFound.With("you have no order %q", id)
		}
		var items []ddb.Item
		var next string
		wait := httpapi.Async(func() (err error) {
			items, next, err = d.Table.QueryPage(ctx, ddb.Listing{Name: "order-timeline", Bind: []string{id},
				PartitionAttr: ddb.AttrPK, Partition: pkOrder + id, Lower: skEventPfx, Upper: skEventPfx + "~",
				NewestFirst: true, Now: d.Clock.Now()}, page)
			return err
		})
		o, err := readOrder(ctx, d, id, r.Caller, "")
		pageErr := wait()
		if err != nil {
			return nil, err
		}
		if pageErr != nil {
			return nil, pageErr
		}
		out := OrderDetail{Order: o, Timeline: make([]Event, 0, len(items)), NextCursor: next}
		for _, it := range items {
			e, err := eventFromItem(it)
			if err != nil {
				return nil, err
			}
			out.Timeline = append(out.Timeline, e)
		}
		return httpapi.JSON(http.StatusOK, out)
	})
}

// OrderList is a page of GET /orders or GET /stores/{id}/orders.
type OrderList struct {
	Orders     []OrderSummary `json:"orders"`
	NextCursor string         `json:"nextCursor,omitempty"`
}

// listing is the pointers of a partition: every order, or one status's.
func listing(r *httpapi.Request, name, partition string, now time.Time) (ddb.Listing, error) {
	status := r.QueryParam("status")
	lower := skAllPfx
	if status != "" {
		if !has(Statuses, status) {
			return ddb.Listing{}, domainerr.Field("status", "status must be one of %v", Statuses)
		}
		lower = skStatusPfx + status + "#"
	}
	return ddb.Listing{Name: name, Bind: []string{partition, status}, PartitionAttr: ddb.AttrPK, Partition: partition,
		Lower: lower, Upper: lower + "~", NewestFirst: true, Now: now}, nil
}

func orderList(items []ddb.Item, next string) (*httpapi.Response, error) {
	out := OrderList{Orders: make([]OrderSummary, 0, len(items)), NextCursor: next}
	for _, it := range items {
		d := ddb.Decode(it)
		s := summaryFromItem(d)
		if err := d.Err(); err != nil {
			return nil, err
		}
		out.Orders = append(out.Orders, s)
	}
	return httpapi.JSON(http.StatusOK, out)
}

// ListOrders is GET /orders?status=&limit=&cursor=: the caller's orders as
// a customer, newest first, one Query per page.
func ListOrders(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "list-orders", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		page, err := httpapi.Page(r)
		if err != nil {
			return nil, err
		}
		l, err := listing(r, "orders", ledger.UserPK(r.Caller), d.Clock.Now())
		if err != nil {
			return nil, err
		}
		items, next, err := d.Table.QueryPage(ctx, l, page)
		if err != nil {
			return nil, err
		}
		return orderList(items, next)
	})
}

// ListStoreOrders is GET /stores/{id}/orders?status=&limit=&cursor= (the
// store's owner): the store's orders, newest first, merged over the store's
// shards (one Query per shard, at once). The store's immutable facts (its
// owner and shards) come from the warm instance's memory or one read.
func ListStoreOrders(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "list-store-orders", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		page, err := httpapi.Page(r)
		if err != nil {
			return nil, err
		}
		id := r.PathParam("id")
		if !ValidStoreID(id) {
			return nil, ErrStoreNotFound.With("no store %q", id)
		}
		l, err := listing(r, "store-orders", pkStore+id, d.Clock.Now())
		if err != nil {
			return nil, err
		}
		s, err := storeFacts.get(ctx, d.Table, id)
		if err != nil {
			return nil, err
		}
		if s.Owner != r.Caller {
			return nil, ErrNotStoreOwner.With("store %s is not yours", id)
		}
		shards := make([]ddb.Shard, s.Shards)
		for n := range shards {
			shards[n] = ddb.Shard{Partition: ddb.ShardKey(pkStore+id, n)}
		}
		items, next, err := d.Table.QueryPageShards(ctx, l, shards, page)
		if err != nil {
			return nil, err
		}
		return orderList(items, next)
	})
}
