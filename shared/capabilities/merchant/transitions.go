package merchant

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"minipay/shared/capabilities/webhooks"
	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/ledger"
)

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
func Accept(d httpapi.Services) httpapi.LambdaHandler {
	return transitionHandler(d, "accept-order", fixed(stepAccept))
}

// Reject is POST /orders/{id}/reject (the store, until cooking starts:
// authorized or accepted, e.g. accepted and then out of stock): the hold
// is voided; both the customer and the store are notified.
func Reject(d httpapi.Services) httpapi.LambdaHandler {
	return transitionHandler(d, "reject-order", fixed(stepReject))
}

// Cancel is POST /orders/{id}/cancel (the customer, until cooking starts):
// the hold is voided.
func Cancel(d httpapi.Services) httpapi.LambdaHandler {
	return transitionHandler(d, "cancel-order", fixed(stepCancel))
}

// Cook is POST /orders/{id}/cook (the store): the capture, the whole hold
// posted to the merchant account.
func Cook(d httpapi.Services) httpapi.LambdaHandler {
	return transitionHandler(d, "cook-order", fixed(stepCook))
}

// Complete is POST /orders/{id}/complete (the customer confirms delivery).
func Complete(d httpapi.Services) httpapi.LambdaHandler {
	return transitionHandler(d, "complete-order", fixed(stepComplete))
}

// ProgressRequest is POST /orders/{id}/progress.
type ProgressRequest struct {
	Status string `json:"status"`
}

// Progress is POST /orders/{id}/progress {status: cooked|picked_up|delivered}
// (the store), each after the one before.
func Progress(d httpapi.Services) httpapi.LambdaHandler {
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
		return s, r.EmptyBody()
	}
}

func transitionHandler(d httpapi.Services, function string, choose func(*httpapi.Request) (step, error)) httpapi.LambdaHandler {
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
func readOrder(ctx context.Context, d httpapi.Services, id, caller, actor string) (Order, error) {
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
	d          httpapi.Services
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
	if errors.As(err, &changed) || webhooks.Hooked(err) {
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
