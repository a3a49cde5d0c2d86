package merchant

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"minipay/shared/capabilities/notify"
	"minipay/shared/capabilities/users"
	"minipay/shared/capabilities/webhooks"
	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/ledger"
)

// OrderSummary is what an order's list pointers carry (a list item).
type OrderSummary struct {
	ID           string    `json:"id"`
	Store        string    `json:"store"`
	StoreName    string    `json:"storeName"`
	Customer     string    `json:"customer"`
	CustomerName string    `json:"customerName,omitempty"`
	Amount       int64     `json:"amount"`
	Memo         string    `json:"memo,omitempty"`
	Status       string    `json:"status"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
	// ExpiresAt is when the authorization lapses unless cooking has started.
	ExpiresAt time.Time `json:"authorizationExpiresAt"`

	storePart string // the partition of its store pointers
}

// Order is an order as its item holds it.
type Order struct {
	OrderSummary
	Captured   int64 `json:"captured"`   // posted to the merchant account when cooking started
	Refunded   int64 `json:"refunded"`   // refunded so far
	Refundable int64 `json:"refundable"` // captured - refunded
	// RefundableUntil is when the refund window closes (RefundWindow after
	// the capture); until then the payment's unrefunded part is in the
	// store's reserve account.
	RefundableUntil *time.Time `json:"refundableUntil,omitempty"`
	// Released is what moved from the reserve to the merchant account when
	// the refund window closed (captured - refunded), at ReleasedAt.
	Released   int64      `json:"released,omitempty"`
	ReleasedAt *time.Time `json:"releasedAt,omitempty"`

	storeOwner, merchantAccount string
	reserveAccount              string // "" for an order placed before the reserve existed
	seq                         int64  // the last webhook event's sequence number (webhooks.go)
}

func summaryFromItem(d *ddb.Decoder) OrderSummary {
	return OrderSummary{ID: d.MustS("orderId"), Store: d.MustS("storeId"), StoreName: d.MustS("storeName"),
		Customer: d.MustS("customer"), CustomerName: d.S("customerName"), Amount: d.MustN("amount"), Memo: d.S("memo"),
		Status: d.MustS("status"), CreatedAt: d.MustTime("createdAt"), UpdatedAt: d.MustTime("updatedAt"),
		ExpiresAt: d.Millis("expiresAtMs"), storePart: d.S("storePart")}
}

func orderFromItem(item ddb.Item) (Order, error) {
	d := ddb.Decode(item)
	o := Order{OrderSummary: summaryFromItem(d), Captured: d.N("captured"), Refunded: d.N("refunded"), Released: d.N("released"),
		storeOwner: d.MustS("storeOwner"), merchantAccount: d.MustS("merchantAccount"), reserveAccount: d.S("reserveAccount"), seq: d.N("seq")}
	o.Refundable = o.Captured - o.Refunded
	if d.Has("refundUntilMs") {
		until := d.Millis("refundUntilMs")
		o.RefundableUntil = &until
	}
	if d.Has("releasedAt") {
		at := d.Time("releasedAt")
		o.ReleasedAt = &at
	}
	return o, d.Err()
}

// facts are the attributes the order item and its pointers share.
func (o OrderSummary) facts(item ddb.Item) ddb.Item {
	item["orderId"] = ddb.S(o.ID)
	item["storeId"] = ddb.S(o.Store)
	item["storeName"] = ddb.S(o.StoreName)
	item["customer"] = ddb.S(o.Customer)
	item["amount"] = ddb.N(o.Amount)
	item["status"] = ddb.S(o.Status)
	item["createdAt"] = ddb.Time(o.CreatedAt)
	item["updatedAt"] = ddb.Time(o.UpdatedAt)
	item["expiresAtMs"] = ddb.Millis(o.ExpiresAt)
	ddb.SetStrings(item, map[string]string{"customerName": o.CustomerName, "memo": o.Memo, "storePart": o.storePart})
	for k, v := range ttl(o.CreatedAt) {
		item[k] = v
	}
	return item
}

// hold is the ledger hold behind the order's payment (its id is the
// order's): the capture posts it to the store's reserve account.
func (o Order) hold() ledger.Hold {
	credit, kind := o.payee()
	return ledger.Hold{ID: o.ID, Debit: ledger.MainAccount(o.Customer), DebitKind: ledger.KindMain,
		Credit: credit, CreditKind: kind, Amount: o.Amount, Timeout: o.ExpiresAt, CreatedAt: o.CreatedAt}
}

// payee is the account the capture pays and refunds come from: the
// store's reserve account (the merchant account for orders placed before
// the reserve existed).
func (o Order) payee() (ledger.AccountRef, ledger.Kind) {
	if o.reserveAccount != "" {
		return ledger.UserAccount(o.storeOwner, o.reserveAccount), KindReserve
	}
	return ledger.UserAccount(o.storeOwner, o.merchantAccount), KindMerchant
}

// refundOpen reports whether o may still be refunded at now: captured
// into the reserve and its window not closed (nor released).
func (o Order) refundOpen(now time.Time) bool {
	if o.reserveAccount == "" {
		return true
	}
	return o.ReleasedAt == nil && o.RefundableUntil != nil && now.Before(*o.RefundableUntil)
}

// pointers puts the customer's and the store's list pointers for o's
// status (and the every-order ones) and, if old is set, deletes the ones
// for status old. The store's are on the order's shard of the store.
func pointers(tx *ledger.Tx, o OrderSummary, old string) {
	part := o.storePart
	if part == "" { // an order from before store shards
		part = pkStore + o.Store
	}
	for _, pk := range []string{pkUser + o.Customer, part} {
		if old != "" {
			tx.Delete(ddb.Key(pk, skStatusPfx+old+"#"+o.ID), ledger.Cond{}, nil)
		}
		tx.Put(o.facts(ddb.Key(pk, skStatusPfx+o.Status+"#"+o.ID)), ledger.Cond{}, nil)
		tx.Put(o.facts(ddb.Key(pk, skAllPfx+o.ID)), ledger.Cond{}, nil)
	}
}

// Event is one timeline item.
type Event struct {
	ID         string    `json:"id"`
	Action     string    `json:"action"` // placed, accepted, ..., refund
	Status     string    `json:"status"` // the order's status after it
	Actor      string    `json:"actor"`  // customer, store, system
	Amount     int64     `json:"amount,omitempty"`
	MovementID string    `json:"movementId,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	At         time.Time `json:"at"`
}

func (o OrderSummary) event(tx *ledger.Tx, e Event) {
	e.ID = ddb.NewTimeID(e.At)
	item := ddb.Key(pkOrder+o.ID, skEventPfx+e.ID)
	item["eventId"] = ddb.S(e.ID)
	item["action"] = ddb.S(e.Action)
	item["status"] = ddb.S(e.Status)
	item["actor"] = ddb.S(e.Actor)
	item["at"] = ddb.Time(e.At)
	if e.Amount != 0 {
		item["amount"] = ddb.N(e.Amount)
	}
	ddb.SetStrings(item, map[string]string{"movementId": e.MovementID, "reason": e.Reason})
	for k, v := range ttl(o.CreatedAt) {
		item[k] = v
	}
	tx.Put(item, ledger.Cond{}, nil)
}

func eventFromItem(item ddb.Item) (Event, error) {
	d := ddb.Decode(item)
	e := Event{ID: d.MustS("eventId"), Action: d.MustS("action"), Status: d.MustS("status"), Actor: d.MustS("actor"),
		Amount: d.N("amount"), MovementID: d.S("movementId"), Reason: d.S("reason"), At: d.MustTime("at")}
	return e, d.Err()
}

func (o OrderSummary) notify(tx *ledger.Tx, userID, typ string, at time.Time, extra map[string]any) {
	data := map[string]any{"orderId": o.ID, "storeId": o.Store, "storeName": o.StoreName, "amount": o.Amount,
		"status": o.Status, "customerName": o.CustomerName}
	for k, v := range extra {
		data[k] = v
	}
	notify.Add(tx, notify.Notification{UserID: userID, Type: typ, At: at, Data: data})
}

// ---- place ----

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
func Place(d httpapi.Deps) httpapi.LambdaHandler {
	return httpapi.Handle(d, "place-order", httpapi.Money(d, func(ctx context.Context, r *httpapi.Request) (*httpapi.Movement, error) {
		var in PlaceRequest
		if err := r.Decode(&in); err != nil {
			return nil, err
		}
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
	d            httpapi.Deps
	store        Store
	caller, name string
	amount       int64
	memo         string
}

func (p *placement) build(charge int64) *httpapi.Movement {
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
// automatic charge the balance the refusal saw needs; anything else stands.
func (p *placement) retry(_ context.Context, err error) (*httpapi.Movement, error) {
	if charge, ok := ledger.NextAutoCharge(err, p.amount); ok {
		return p.build(charge), nil
	}
	return nil, nil
}

// ---- transitions ----

type moneyEffect int

const (
	moneyNone moneyEffect = iota
	moneyVoid
	moneyPost
)

// step is one transition of the state machine.
type step struct {
	action string   // the timeline's word
	from   []string // the statuses it starts from
	to     string
	actor  string // who may do it: ActorStore or ActorCustomer
	money  moneyEffect
	notif  string // the other party's notification
}

var (
	stepAccept   = step{"accepted", []string{StatusAuthorized}, StatusAccepted, ActorStore, moneyNone, NotifAccepted}
	stepReject   = step{"rejected", open, StatusRejected, ActorStore, moneyVoid, NotifRejected}
	stepCancel   = step{"cancelled", open, StatusCancelled, ActorCustomer, moneyVoid, NotifCancelled}
	stepCook     = step{"cooking", []string{StatusAccepted}, StatusCooking, ActorStore, moneyPost, NotifCooking}
	stepCooked   = step{"cooked", []string{StatusCooking}, StatusCooked, ActorStore, moneyNone, NotifCooked}
	stepPickedUp = step{"picked_up", []string{StatusCooked}, StatusPickedUp, ActorStore, moneyNone, NotifPickedUp}
	stepDeliver  = step{"delivered", []string{StatusPickedUp}, StatusDelivered, ActorStore, moneyNone, NotifDelivered}
	stepComplete = step{"completed", []string{StatusDelivered}, StatusCompleted, ActorCustomer, moneyNone, NotifCompleted}
)

// beforeCapture: the step starts from an open authorization, so it must
// happen before the authorization expires.
func (s step) beforeCapture() bool {
	for _, f := range s.from {
		if !has(open, f) {
			return false
		}
	}
	return true
}

// allowed is the step's refusal for an order in o's state at now, if any.
func (s step) allowed(o Order, now time.Time) error {
	if has(s.from, o.Status) {
		if has(open, o.Status) && !now.Before(o.ExpiresAt) {
			return ErrOrderExpired.With("order %s's authorization expired at %s", o.ID, o.ExpiresAt.Format(time.RFC3339))
		}
		return nil
	}
	switch {
	case o.Status == StatusExpired:
		return ErrOrderExpired.With("order %s's authorization expired at %s", o.ID, o.ExpiresAt.Format(time.RFC3339))
	case s.to == StatusCancelled && has(captured, o.Status):
		return ErrCookingStarted.With("order %s is %s: cooking has started and the payment was captured; ask the store for a refund", o.ID, o.Status)
	case s.to == StatusRejected && has(captured, o.Status):
		return ErrCookingStarted.With("order %s is %s: cooking has started and the payment was captured; refund the customer instead", o.ID, o.Status)
	}
	return &WrongStatusError{Order: o.ID, Status: o.Status, Action: s.action, Want: s.from}
}

// Accept is POST /orders/{id}/accept (the store).
func Accept(d httpapi.Deps) httpapi.LambdaHandler {
	return transitionHandler(d, "accept-order", fixed(stepAccept))
}

// Reject is POST /orders/{id}/reject (the store, until cooking starts:
// authorized or accepted, e.g. accepted and then out of stock): the hold
// is voided; both the customer and the store are notified.
func Reject(d httpapi.Deps) httpapi.LambdaHandler {
	return transitionHandler(d, "reject-order", fixed(stepReject))
}

// Cancel is POST /orders/{id}/cancel (the customer, until cooking starts):
// the hold is voided.
func Cancel(d httpapi.Deps) httpapi.LambdaHandler {
	return transitionHandler(d, "cancel-order", fixed(stepCancel))
}

// Cook is POST /orders/{id}/cook (the store): the capture, the whole hold
// posted to the merchant account.
func Cook(d httpapi.Deps) httpapi.LambdaHandler {
	return transitionHandler(d, "cook-order", fixed(stepCook))
}

// Complete is POST /orders/{id}/complete (the customer confirms delivery).
func Complete(d httpapi.Deps) httpapi.LambdaHandler {
	return transitionHandler(d, "complete-order", fixed(stepComplete))
}

// ProgressRequest is POST /orders/{id}/progress.
type ProgressRequest struct {
	Status string `json:"status"`
}

// Progress is POST /orders/{id}/progress {status: cooked|picked_up|delivered}
// (the store), each after the one before.
func Progress(d httpapi.Deps) httpapi.LambdaHandler {
	return transitionHandler(d, "progress-order", func(r *httpapi.Request) (step, error) {
		var in ProgressRequest
		if err := r.Decode(&in); err != nil {
			return step{}, err
		}
		switch in.Status {
		case StatusCooked:
			return stepCooked, nil
		case StatusPickedUp:
			return stepPickedUp, nil
		case StatusDelivered:
			return stepDeliver, nil
		}
		return step{}, domainerr.Field("status", "status must be %q, %q or %q", StatusCooked, StatusPickedUp, StatusDelivered)
	})
}

func fixed(s step) func(*httpapi.Request) (step, error) {
	return func(r *httpapi.Request) (step, error) {
		var empty struct{}
		return s, r.DecodeOptional(&empty)
	}
}

func transitionHandler(d httpapi.Deps, function string, choose func(*httpapi.Request) (step, error)) httpapi.LambdaHandler {
	return httpapi.Handle(d, function, httpapi.Money(d, func(ctx context.Context, r *httpapi.Request) (*httpapi.Movement, error) {
		s, err := choose(r)
		if err != nil {
			return nil, err
		}
		t := &transition{d: d, step: s, id: r.PathParam("id"), caller: r.Caller}
		return t.build(ctx)
	}))
}

// readOrder reads the order (one GetItem) for the caller acting as actor:
// a stranger gets 404, the other party 403.
func readOrder(ctx context.Context, d httpapi.Deps, id, caller, actor string) (Order, error) {
	notFound := ErrOrderNotFound.With("you have no order %s", id)
	if !ddb.ValidTimeID(id) {
		return Order{}, notFound
	}
	item, err := d.Table.Get(ctx, orderKey(id))
	if err != nil {
		return Order{}, err
	}
	if item == nil {
		return Order{}, notFound
	}
	o, err := orderFromItem(item)
	if err != nil {
		return Order{}, err
	}
	switch {
	case caller != o.Customer && caller != o.storeOwner:
		return Order{}, notFound
	case actor == ActorStore && caller != o.storeOwner:
		return Order{}, ErrNotOrderStore.With("only store %s can do this to order %s", o.Store, id)
	case actor == ActorCustomer && caller != o.Customer:
		return Order{}, ErrNotOrderCustomer.With("only the customer can do this to order %s", id)
	}
	return o, nil
}

type transition struct {
	d          httpapi.Deps
	step       step
	id, caller string
	read       Order // the order the last build read
	created    bool  // the store's missing reserve account was created
}

// build reads the order and makes the transition's ONE transaction: the
// order item from exactly the status read (and before the authorization's
// expiry, for the steps before the capture), the hold's resolution, the
// pointers, the timeline item and the other party's notification.
func (t *transition) build(ctx context.Context) (*httpapi.Movement, error) {
	o, err := readOrder(ctx, t.d, t.id, t.caller, t.step.actor)
	if err != nil {
		return nil, err
	}
	now := t.d.Clock.Now()
	if err := t.step.allowed(o, now); err != nil {
		return nil, err
	}
	s := t.step
	at := now.UTC()
	next := o
	next.Status, next.UpdatedAt = s.to, at
	set := "SET #s = :to, updatedAt = :now"
	cond := "#s = :from AND amount = :amount"
	names := map[string]string{"#s": "status"}
	vals := ddb.Item{":to": ddb.S(s.to), ":now": ddb.Time(at), ":from": ddb.S(o.Status), ":amount": ddb.N(o.Amount)}
	seqCond, seqSet, seq := o.sequence(vals)
	cond, set = cond+seqCond, set+seqSet
	var until time.Time
	if s.money == moneyPost {
		set += ", captured = :amount"
		next.Captured, next.Refundable = o.Amount, o.Amount
		if o.reserveAccount != "" {
			until = now.Add(RefundWindow).Truncate(time.Millisecond)
			set += ", refundUntilMs = :until"
			vals[":until"] = ddb.Millis(until)
			next.RefundableUntil = &until
		}
	}
	if s.beforeCapture() {
		cond += " AND expiresAtMs > :nowms"
		vals[":nowms"] = ddb.Millis(now)
	}
	if has(open, o.Status) && !has(open, s.to) { // no longer due to expire
		set += " REMOVE #b, #d"
		names["#b"], names["#d"] = ddb.AttrDuePK, ddb.AttrDueSK
	}
	tx := &ledger.Tx{}
	tx.Update(orderKey(o.ID), set, ledger.Cond{Expr: cond, Names: names, Values: vals}, func(old ddb.Item) error {
		return t.refusal(o, old, now)
	})
	ev := Event{Action: s.action, Status: s.to, Actor: s.actor, At: at}
	switch s.money {
	case moneyVoid:
		tx.VoidHold(o.hold(), now)
	case moneyPost:
		ev.MovementID, ev.Amount = ledger.NewMovementID(now), o.Amount
		tx.PostHold(o.hold(), o.Amount, ledger.Movement{ID: ev.MovementID, Type: TypeOrderPayment, At: now,
			FromLabel: o.CustomerName, ToLabel: o.StoreName, Originator: o.CustomerName, Memo: o.Memo, Reference: "order " + o.ID})
		if o.reserveAccount != "" { // the release's schedule, on a small item of its own
			item := reserveKey(o.ID)
			item["orderId"] = ddb.S(o.ID)
			dueReserve.Set(item, until, o.ID)
			for k, v := range ttl(o.CreatedAt) {
				item[k] = v
			}
			tx.Put(item, ledger.Cond{}, nil)
		}
	}
	pointers(tx, next.OrderSummary, o.Status)
	next.event(tx, ev)
	other := o.storeOwner
	if s.actor == ActorStore {
		other = o.Customer
	}
	next.notify(tx, other, s.notif, at, nil)
	if s.to == StatusRejected { // the store's own record that the authorization was voided
		next.notify(tx, o.storeOwner, s.notif, at, nil)
	}
	next.hook(tx, s.action, seq, at, nil, nil)
	t.read = o
	return &httpapi.Movement{Tx: tx, Status: http.StatusOK, Body: next, Retry: t.retry}, nil
}

// refusal reads a failed transition: which status won, or that the order
// moved on to a status the step still allows (read again).
func (t *transition) refusal(read Order, old ddb.Item, now time.Time) error {
	if len(old) == 0 {
		return ErrOrderNotFound.With("you have no order %s", read.ID)
	}
	cur, err := orderFromItem(old)
	if err != nil {
		return err
	}
	if err := t.step.allowed(cur, now); err != nil {
		return err
	}
	if cur.Status != read.Status || cur.seq != read.seq { // a refund meanwhile moves seq
		return &statusChanged{id: read.ID}
	}
	return fmt.Errorf("merchant: order %s changed under its %s", read.ID, t.step.action)
}

func (t *transition) retry(ctx context.Context, err error) (*httpapi.Movement, error) {
	var changed *statusChanged
	if errors.As(err, &changed) {
		return t.build(ctx)
	}
	if o := t.read; t.step.money == moneyPost && o.reserveAccount != "" && !t.created && errors.Is(err, ledger.ErrAccountNotFound) {
		// A store created before reserve accounts existed: give it one
		// (a create that finds it already there changes nothing) and
		// capture again.
		t.created = true
		tx := &ledger.Tx{}
		tx.CreateAccount(ledger.Account{ID: o.reserveAccount, Owner: o.storeOwner, Kind: KindReserve,
			Name: o.StoreName + " (reserve)", CreatedAt: t.d.Clock.Now().UTC(), Shards: ledger.MaxShards}, ddb.Item{"storeId": ddb.S(o.Store)})
		if cerr := t.d.Ledger.Commit(ctx, tx); cerr != nil {
			t.d.Log.WarnContext(ctx, "merchant: creating a store's reserve account", "store", o.Store, "error", cerr)
		}
		return t.build(ctx)
	}
	return nil, nil
}

// ---- refunds ----

// RefundRequest is POST /orders/{id}/refunds.
type RefundRequest struct {
	Amount httpapi.Won  `json:"amount" openapi:"required"`
	Reason httpapi.Memo `json:"reason,omitempty"`
}

// RefundResponse is what a refund returns (and replays). The order's
// running totals are GET /orders/{id}'s: this answer is fixed before the
// commit, and other refunds may commit alongside.
type RefundResponse struct {
	ID        string    `json:"id"` // the movement's id (history entries on both sides)
	Order     string    `json:"order"`
	Amount    int64     `json:"amount"`
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// Refund is POST /orders/{id}/refunds {amount, reason?} (the store): money
// from the merchant account back to the customer's main account, in ONE
// transaction with the order's refunded counter, conditioned so the
// refunded total never passes the captured amount (concurrent refunds end
// as in some serial order), a timeline item and both parties' notifications.
func Refund(d httpapi.Deps) httpapi.LambdaHandler {
	return httpapi.Handle(d, "refund-order", httpapi.Money(d, func(ctx context.Context, r *httpapi.Request) (*httpapi.Movement, error) {
		var in RefundRequest
		if err := r.Decode(&in); err != nil {
			return nil, err
		}
		f := &refund{d: d, id: r.PathParam("id"), caller: r.Caller, amount: in.Amount.Int64(), reason: string(in.Reason)}
		return f.build(ctx)
	}))
}

type refund struct {
	d          httpapi.Deps
	id, caller string
	amount     int64
	reason     string
}

func (f *refund) check(o Order, now time.Time) error {
	if !has(captured, o.Status) {
		if o.Status == StatusExpired {
			return ErrOrderExpired.With("order %s expired before its payment was captured: nothing to refund", o.ID)
		}
		return &WrongStatusError{Order: o.ID, Status: o.Status, Action: "a refund", Want: []string{"captured (" + StatusCooking + " or later)"}}
	}
	if !o.refundOpen(now) {
		closed := "at its end"
		if o.RefundableUntil != nil {
			closed = o.RefundableUntil.Format(time.RFC3339)
		}
		return ErrRefundClosed.With("order %s's refund window (%s after cooking started) closed %s; "+
			"its payment was released to the store", o.ID, windowText, closed)
	}
	if f.amount > o.Captured-o.Refunded {
		return &RefundTooMuchError{Order: o.ID, Captured: o.Captured, Refunded: o.Refunded, Asked: f.amount}
	}
	return nil
}

func (f *refund) build(ctx context.Context) (*httpapi.Movement, error) {
	o, err := readOrder(ctx, f.d, f.id, f.caller, ActorStore)
	if err != nil {
		return nil, err
	}
	now := f.d.Clock.Now()
	if err := f.check(o, now); err != nil {
		return nil, err
	}
	at := now.UTC()
	cond := "#s = :status AND captured = :captured AND refunded <= :max"
	vals := ddb.Item{":amt": ddb.N(f.amount), ":now": ddb.Time(at), ":status": ddb.S(o.Status),
		":captured": ddb.N(o.Captured), ":max": ddb.N(o.Captured - f.amount)}
	seqCond, seqSet, seq := o.sequence(vals)
	cond += seqCond
	if o.reserveAccount != "" { // within the window, before the release: the reserve still holds it
		cond += " AND refundUntilMs > :nowms AND attribute_not_exists(releasedAt)"
		vals[":nowms"] = ddb.Millis(now)
	}
	tx := &ledger.Tx{}
	tx.Update(orderKey(o.ID), "ADD refunded :amt SET updatedAt = :now"+seqSet, ledger.Cond{
		Expr: cond, Names: map[string]string{"#s": "status"}, Values: vals,
	}, func(old ddb.Item) error {
		if len(old) == 0 {
			return ErrOrderNotFound.With("you have no order %s", o.ID)
		}
		cur, err := orderFromItem(old)
		if err != nil {
			return err
		}
		if err := f.check(cur, now); err != nil {
			return err
		}
		return &statusChanged{id: o.ID}
	})
	from, fromKind := o.payee()
	m := ledger.Movement{ID: ledger.NewMovementID(now), Type: TypeOrderRefund, Amount: f.amount, At: now, Memo: f.reason,
		From: from, FromKind: fromKind, FromLabel: o.StoreName,
		To: ledger.MainAccount(o.Customer), ToKind: ledger.KindMain, ToLabel: o.CustomerName,
		Originator: o.StoreName, Reference: "order " + o.ID}
	tx.Move(m)
	o.event(tx, Event{Action: "refund", Status: o.Status, Actor: ActorStore, Amount: f.amount, MovementID: m.ID, Reason: f.reason, At: at})
	extra := map[string]any{"refundAmount": f.amount, "refundId": m.ID, "reason": f.reason}
	o.notify(tx, o.Customer, NotifRefunded, at, extra)
	o.notify(tx, o.storeOwner, NotifRefundIssued, at, extra)
	after := o
	after.Refunded += f.amount
	after.hook(tx, "refund", seq, at, &webhooks.EventRefund{ID: m.ID, Amount: f.amount, Reason: f.reason}, nil)
	body := RefundResponse{ID: m.ID, Order: o.ID, Amount: f.amount, Reason: f.reason, CreatedAt: at}
	return &httpapi.Movement{Tx: tx, Status: http.StatusCreated, Body: body, Retry: func(ctx context.Context, err error) (*httpapi.Movement, error) {
		var changed *statusChanged
		var short *ledger.InsufficientFundsError
		switch {
		case errors.As(err, &changed):
			return f.build(ctx)
		case errors.As(err, &short) && short.Account == from.ID:
			return nil, &MerchantFundsError{Account: from.ID, Available: short.Available, Asked: f.amount}
		}
		return nil, nil
	}}, nil
}

// ---- reads ----

// OrderDetail is GET /orders/{id}: the order and a page of its timeline.
type OrderDetail struct {
	Order
	Timeline   []Event `json:"timeline"`
	NextCursor string  `json:"nextCursor,omitempty"`
}

// GetOrder is GET /orders/{id}?limit=&cursor=: the order (its customer or
// its store's owner; anyone else 404) and its timeline newest first. The
// item and the page are read at once (two requests, one round trip).
func GetOrder(d httpapi.Deps) httpapi.LambdaHandler {
	return httpapi.Handle(d, "get-order", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		page, err := httpapi.Page(r)
		if err != nil {
			return nil, err
		}
		id := r.PathParam("id")
		if !ddb.ValidTimeID(id) {
			return nil, ErrOrderNotFound.With("you have no order %q", id)
		}
		type result struct {
			items []ddb.Item
			next  string
			err   error
		}
		ch := make(chan result, 1)
		go func() {
			items, next, err := d.Table.QueryPage(ctx, ddb.Listing{Name: "order-timeline", Bind: []string{id},
				PartitionAttr: ddb.AttrPK, Partition: pkOrder + id, Lower: skEventPfx, Upper: skEventPfx + "~",
				NewestFirst: true, Now: d.Clock.Now()}, page)
			ch <- result{items, next, err}
		}()
		o, err := readOrder(ctx, d, id, r.Caller, "")
		res := <-ch
		if err != nil {
			return nil, err
		}
		if res.err != nil {
			return nil, res.err
		}
		out := OrderDetail{Order: o, Timeline: make([]Event, 0, len(res.items)), NextCursor: res.next}
		for _, it := range res.items {
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
func ListOrders(d httpapi.Deps) httpapi.LambdaHandler {
	return httpapi.Handle(d, "list-orders", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		page, err := httpapi.Page(r)
		if err != nil {
			return nil, err
		}
		l, err := listing(r, "orders", pkUser+r.Caller, d.Clock.Now())
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
func ListStoreOrders(d httpapi.Deps) httpapi.LambdaHandler {
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
