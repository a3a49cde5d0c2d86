package merchant

import (
	"context"
	"net/http"
	"strings"
	"time"

	"minipay/shared/capabilities/users"
	"minipay/shared/capabilities/webhooks"
	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/ledger"
)

// PlaceRequest is POST /orders.
type PlaceRequest struct {
	Store  StoreRef     `json:"store"`
	Amount httpapi.Won  `json:"amount" openapi:"required"`
	Memo   httpapi.Memo `json:"memo,omitempty"`
}

// StoreRef is the store an order pays (an httpapi.Field): missing or
// blank, a 400 like a missing amount; an id that names no store is a 404
// later.
type StoreRef string

func (s *StoreRef) CheckField(name string, _ bool) error {
	if strings.TrimSpace(string(*s)) == "" {
		return domainerr.Field(name, "%s is required: the id of the store to pay", name)
	}
	return nil
}

func (StoreRef) FieldSchema() httpapi.FieldSchema { return httpapi.FieldSchema{} }

// PlaceResponse is what a placed order returns (and replays).
type PlaceResponse struct {
	Order
	AutoCharged int64 `json:"autoCharged"` // charged from the customer's bank for this order; 0 if none
}

// Place is POST /orders {store, amount, memo?}: the authorization. One
// transaction: the store is open (a check of the status copy of the
// order's store shard, with the facts read), a hold of the amount on the caller's main account for the
// store's merchant account (with an automatic charge of a shortfall, as
// transfers do), the order item (due at the authorization's expiry), its
// pointers, its first timeline item and the store's notification. Costs one
// request (the store's immutable facts are cached per function instance).
func Place(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "place-order", httpapi.MoneyBody(d, func(ctx context.Context, r *httpapi.Request, in PlaceRequest) (*httpapi.Movement, error) {
		if in.Amount.Int64() > MaxOrderAmount {
			return nil, domainerr.Field("amount", "amount must be at most %d won", MaxOrderAmount)
		}
		if !ValidStoreID(string(in.Store)) {
			return nil, ErrStoreNotFound.With("no store %q", in.Store)
		}
		s, err := storeFacts.get(ctx, d.Table, string(in.Store))
		if err != nil {
			return nil, err
		}
		if s.Owner == r.Caller {
			return nil, ErrOwnStore.With("store %s is yours; pay another store", s.ID)
		}
		name, err := users.CallerName(ctx, d, r)
		if err != nil {
			return nil, err
		}
		p := &placement{d: d, store: s, caller: r.Caller, name: name, amount: in.Amount.Int64(), memo: string(in.Memo)}
		return p.build(0), nil
	}))
}

type placement struct {
	d            httpapi.Services
	store        Store
	caller, name string
	amount       int64
	memo         string
	charge       int64 // the automatic charge of the last build
}

func (p *placement) build(charge int64) *httpapi.Movement {
	p.charge = charge
	now := p.d.Clock.Now()
	id, autoCharge := ledger.PaymentIDs(now, charge)
	at := now.UTC()
	o := Order{OrderSummary: OrderSummary{ID: id, Store: p.store.ID, StoreName: p.store.Name, Customer: p.caller, CustomerName: p.name,
		Amount: p.amount, Memo: p.memo, Status: StatusAuthorized, CreatedAt: at, UpdatedAt: at,
		ExpiresAt: at.Add(p.d.Config.OrderAuthorization).Truncate(time.Millisecond), storePart: storePart(p.store.ID, id, p.store.Shards)},
		storeOwner: p.store.Owner, merchantAccount: p.store.AccountID, reserveAccount: ReserveAccountID(p.store.ID)}
	tx := &ledger.Tx{}
	requireOpen(tx, p.store, id)
	tx.HoldWithAutoCharge(o.hold(), autoCharge, "order "+id)
	item := o.facts(orderKey(id))
	item["storeOwner"] = ddb.S(o.storeOwner)
	item["merchantAccount"] = ddb.S(o.merchantAccount)
	item["reserveAccount"] = ddb.S(o.reserveAccount)
	item["captured"] = ddb.N(0)
	item["refunded"] = ddb.N(0)
	item["seq"] = ddb.N(1)
	dueOrder.Set(item, o.ExpiresAt, id)
	tx.Put(item, ledger.Cond{Expr: "attribute_not_exists(PK)"}, func(ddb.Item) error { return errCollision(id) })
	pointers(tx, o.OrderSummary, "")
	o.event(tx, Event{Action: "placed", Status: o.Status, Actor: ActorCustomer, Amount: o.Amount, At: at})
	o.notify(tx, o.storeOwner, NotifReceived, at, nil)
	o.hook(tx, "placed", 1, at, nil, nil)
	return &httpapi.Movement{Tx: tx, Status: http.StatusCreated, Body: PlaceResponse{Order: o, AutoCharged: charge}, Retry: p.retry}
}

// retry: insufficient funds (or a stale automatic charge) builds the
// automatic charge the balance the refusal saw needs; a store that got an
// endpoint meanwhile, the same order with its webhook event; anything
// else stands.
func (p *placement) retry(_ context.Context, err error) (*httpapi.Movement, error) {
	if charge, ok := ledger.NextAutoCharge(err, p.amount); ok {
		return p.build(charge), nil
	}
	if webhooks.Hooked(err) {
		return p.build(p.charge), nil
	}
	return nil, nil
}
