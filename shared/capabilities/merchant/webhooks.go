package merchant

// The order's webhook events (shared/capabilities/webhooks): every state change of an
// order and every refund emits one event in the change's own transaction,
// numbered by the order item's sequence counter, which the same
// transaction conditions on the value read and increments (so the number
// is exact, and two changes of one order never share one).
//
//	change                          event             emitted by
//	placed (authorized)             order.placed      place-order
//	accepted                        order.accepted    accept-order
//	rejected                        order.rejected    reject-order
//	cancelled                       order.cancelled   cancel-order
//	cooking (the capture)           order.captured    cook-order
//	cooked, picked_up, delivered    order.cooked, order.picked_up, order.delivered   progress-order
//	completed                       order.completed   complete-order
//	expired                         order.expired     order-expiry
//	a refund                        order.refunded    refund-order
//	reserve released (window end)   order.payout      order-expiry

import (
	"context"
	"time"

	"minipay/shared/capabilities/webhooks"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// hookTypes maps a timeline action to its event type.
var hookTypes = map[string]string{
	"placed": webhooks.OrderPlaced, "accepted": webhooks.OrderAccepted, "rejected": webhooks.OrderRejected,
	"cancelled": webhooks.OrderCancelled, "cooking": webhooks.OrderCaptured, "cooked": webhooks.OrderCooked,
	"picked_up": webhooks.OrderPickedUp, "delivered": webhooks.OrderDelivered, "completed": webhooks.OrderCompleted,
	"expired": webhooks.OrderExpired, "refund": webhooks.OrderRefunded, "released": webhooks.OrderPayout,
}

// StoreOwner is the store's owner (webhooks.Owner): one read, never the
// warm instance's cache (a webhook route is rare, and its grant is then
// exactly the read it makes).
func StoreOwner(ctx context.Context, t *ddb.Table, id string) (string, error) {
	s, err := getStore(ctx, t, id)
	return s.Owner, err
}

// sequence adds the order's sequence counter to an update of the order
// item whose condition is cond: the condition that the counter is what
// was read (absent on orders from before it), and ", seq = :seqn" for its
// SET clause. It answers the next number.
func (o Order) sequence(vals ddb.Item) (cond, set string, next int64) {
	next = o.seq + 1
	vals[":seqn"] = ddb.N(next)
	if o.seq == 0 {
		return " AND attribute_not_exists(seq)", ", seq = :seqn", next
	}
	vals[":seq"] = ddb.N(o.seq)
	return " AND seq = :seq", ", seq = :seqn", next
}

// hook emits the webhook event of a change (its timeline action) that
// left the order as o.
func (o Order) hook(tx *ledger.Tx, action string, seq int64, at time.Time, refund *webhooks.EventRefund, payout *webhooks.EventPayout) {
	data := &webhooks.EventOrder{ID: o.ID, Status: o.Status, Amount: o.Amount, Captured: o.Captured, Refunded: o.Refunded,
		Customer: o.Customer, CustomerName: o.CustomerName, Memo: o.Memo, CreatedAt: o.CreatedAt.UTC(), ExpiresAt: o.ExpiresAt.UTC()}
	if o.RefundableUntil != nil {
		u := o.RefundableUntil.UTC()
		data.RefundUntil = &u
	}
	webhooks.Emit(tx, o.storeOwner, webhooks.Event{Type: hookTypes[action], Created: at, Store: o.Store, Sequence: seq,
		Data: webhooks.EventData{Order: data, Refund: refund, Payout: payout}})
}
