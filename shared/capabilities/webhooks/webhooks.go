// Package webhooks pushes a store's order and refund events to the
// store's own HTTPS endpoints, signed the way Stripe signs (so existing
// verification code works), retried with backoff for up to three days,
// never lost (after Stripe's webhooks).
//
//   - Events. Every order and refund state change of a store with an
//     endpoint writes ONE event item (Emit) in the SAME transaction as the
//     change: no event without the change, no change without the event (a
//     store that never had an endpoint writes none: hooked.go). An event carries its id (the
//     receiver's deduplication key), type, time, the order's state and
//     amounts after the change, and the order's sequence number (1 for
//     order.placed, +1 for each change; the order item's own counter,
//     conditioned and incremented by the same transaction, so it is exact).
//
//   - Delivery is outside the request path. The webhook-sweep job (every
//     minute, the due index) fans a new event out to a delivery item per
//     enabled, subscribed endpoint of the store, and sends every due
//     delivery to the webhook-delivery queue after moving its due time a
//     lease ahead; the webhook-worker POSTs it (DeliveryTimeout) and records
//     the attempt in the delivery (status code, latency, error). A 2xx marks
//     it delivered; anything else schedules the next attempt with
//     exponential backoff and jitter (Backoff), until RetryFor has passed:
//     then the delivery is failed and the store's owner notified. A worker
//     that dies before recording leaves the delivery due when its lease
//     ends, so it is sent again: at least once, the event id for dedupe.
//
//   - Ordering: deliveries are not held back behind each other (one slow
//     event never blocks the others); every event carries its order's
//     sequence number, so a receiver orders an order's events by it (and
//     ignores one older than what it has).
//
//   - An endpoint that has failed without one success for DisableAfter is
//     disabled, and the owner notified; re-enabling it starts afresh.
//
//   - Secrets: "whsec_..." shown once, at creation and at rotation. A
//     rotation keeps the old secret valid for RotationGrace, during which
//     every delivery carries both signatures.
//
//   - SSRF (the cloud): https only, the dialed address (after DNS) must be
//     public (Refused), no redirects, the response read at most
//     MaxResponseBytes. Locally (config.WebhookAllowLoopback) http to a
//     loopback address is allowed, so a test's receiver can listen.
//
//     item        PK                 SK                notes
//     endpoint    WHSTORE#<sid>      EP#<we_id>        url, types, status, secret, prevSecret, prevSecretUntilMs,
//     failingSince, owner, createdAt
//     counter     WHSTORE#<sid>      COUNT             endpoints: at most MaxEndpoints per store
//     marker      WHSTORE#<sid>[#<n>] NOHOOK           the store has no endpoint yet (hooked.go)
//     event       WHEVT#<evt_id>     EVENT             store, owner, type, orderId, sequence, body (the exact JSON sent);
//     due (DUE#webhook#nn) until fanned out; ttl 30 days
//     delivery    WHEP#<we_id>[#<n>] DLV#<evt_id>      store, body, status (pending|delivered|failed), attempts, log
//     (each attempt), retryFrom; due (DUE#webhook#nn) while pending;
//     ttl 30 days
//     settings    WHEP#<we_id>[#<n>] SETTINGS          a copy of the endpoint item, one per shard, written in the
//     same transaction as every change of the endpoint (shards.go)
//
// A delivery's partition is shard n of its endpoint's (DeliveryShards, n
// a hash of the event id; shard 0 is the unsharded key). Event ids are
// time-ordered, so an endpoint's delivery log reads newest first with one
// Query per shard, merged (ddb.QueryPageShards). The worker reads the
// endpoint's copy on its delivery's shard, strongly consistent. Nothing a
// delivery does writes the order or the store: the endpoint (and its
// copies) is written only when its failure streak starts, ends or
// disables it.
package webhooks

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/ledger"
)

// Event types.
const (
	OrderPlaced    = "order.placed"
	OrderAccepted  = "order.accepted"
	OrderRejected  = "order.rejected"
	OrderCancelled = "order.cancelled"
	OrderExpired   = "order.expired"
	OrderCaptured  = "order.captured" // cooking started: the payment was captured
	OrderCooked    = "order.cooked"
	OrderPickedUp  = "order.picked_up"
	OrderDelivered = "order.delivered"
	OrderCompleted = "order.completed"
	OrderRefunded  = "order.refunded"
	OrderPayout    = "order.payout" // the refund window closed: the unrefunded payment moved to the merchant account
	Test           = "webhook.test" // POST .../test; sent to that endpoint only, whatever it subscribes to
)

// Types is every event type an endpoint may subscribe to.
var Types = []string{OrderPlaced, OrderAccepted, OrderRejected, OrderCancelled, OrderExpired, OrderCaptured,
	OrderCooked, OrderPickedUp, OrderDelivered, OrderCompleted, OrderRefunded, OrderPayout}

// Limits and timings.
const (
	MaxEndpoints     = 5
	MaxURL           = 2048
	MaxDescription   = 200
	RotationGrace    = 24 * time.Hour      // the old secret keeps signing after a rotation
	RetryFor         = 72 * time.Hour      // a delivery is retried this long, then failed
	DisableAfter     = 72 * time.Hour      // an endpoint failing this long without a success is disabled
	MaxBackoff       = 6 * time.Hour       // the longest wait between two attempts
	FirstBackoff     = time.Minute         // the wait after the first failure (doubling)
	Lease            = 5 * time.Minute     // a delivery sent to the queue is due again after this unless recorded
	MaxResponseBytes = 64 << 10            // what is read of a receiver's answer
	Retention        = 30 * 24 * time.Hour // events and deliveries (the log)
	MaxLog           = 30                  // attempts kept in a delivery's log
)

// DeliveryTimeout bounds one POST (connect to last byte). A variable so
// tests with a hanging receiver need not wait.
var DeliveryTimeout = 5 * time.Second

// Headers of a delivery.
const (
	HeaderSignature = "Minipay-Signature" // t=<unix seconds>,v1=<hex>[,v1=<hex>]
	HeaderEventID   = "Minipay-Event-Id"
	HeaderEventType = "Minipay-Event-Type"
)

// Statuses.
const (
	EndpointEnabled  = "enabled"
	EndpointDisabled = "disabled"

	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Notification types (the store's owner).
const (
	NotifDeliveryFailed   = "webhook_delivery_failed"
	NotifEndpointDisabled = "webhook_endpoint_disabled"
)

// Refusals.
var (
	ErrNotFound      = domainerr.New("webhook_not_found")
	ErrTooMany       = domainerr.New("too_many_webhooks")
	ErrEventNotFound = domainerr.New("webhook_event_not_found")
)

// Event is what a receiver gets: the POST body.
type Event struct {
	ID       string    `json:"id" doc:"evt_<time-ordered id>: deduplicate by it (a delivery may arrive more than once)"`
	Type     string    `json:"type" doc:"order.placed, order.accepted, order.rejected, order.cancelled, order.expired, order.captured, order.cooked, order.picked_up, order.delivered, order.completed, order.refunded, order.payout, or webhook.test"`
	Created  time.Time `json:"created" doc:"when the change happened"`
	Store    string    `json:"store"`
	Sequence int64     `json:"sequence" doc:"the order's change number: 1 for order.placed, then +1 per change; order an order's events by it (0 for webhook.test)"`
	Data     EventData `json:"data"`
}

// EventData is the event's object.
type EventData struct {
	Order  *EventOrder  `json:"order,omitempty"`  // the order after the change (absent for webhook.test)
	Refund *EventRefund `json:"refund,omitempty"` // order.refunded: this refund
	Payout *EventPayout `json:"payout,omitempty"` // order.payout: what moved to the merchant account
}

// EventOrder is the order's state and amounts after the change, whole won.
type EventOrder struct {
	ID           string     `json:"id"`
	Status       string     `json:"status"`
	Amount       int64      `json:"amount"`
	Captured     int64      `json:"captured"`
	Refunded     int64      `json:"refunded"`
	Customer     string     `json:"customer"`
	CustomerName string     `json:"customerName,omitempty"`
	Memo         string     `json:"memo,omitempty"`
	CreatedAt    time.Time  `json:"createdAt"`
	ExpiresAt    time.Time  `json:"authorizationExpiresAt"`
	RefundUntil  *time.Time `json:"refundableUntil,omitempty"`
}

// EventRefund is one refund.
type EventRefund struct {
	ID     string `json:"id" doc:"the refund's movement id"`
	Amount int64  `json:"amount"`
	Reason string `json:"reason,omitempty"`
}

// EventPayout is a release of the reserve to the merchant account.
type EventPayout struct {
	ID     string `json:"id,omitempty" doc:"the movement's id (absent when everything was refunded)"`
	Amount int64  `json:"amount"`
}

// ---- keys ----

const (
	pkStore    = "WHSTORE#"
	skEndpoint = "EP#"
	skCount    = "COUNT"
	pkEvent    = "WHEVT#"
	skEvent    = "EVENT"
	pkEndpoint = "WHEP#"
	skDelivery = "DLV#"
	prefixEP   = "we_"
	prefixEvt  = "evt_"
)

// dueWebhook spreads new events and due deliveries over 64 due-index
// partitions (every order change of a store with an endpoint writes one).
var dueWebhook = ddb.DueKind{Name: "webhook", Shards: 64}

// DueKinds are the sweep's due kinds (routes.Schedule.Due).
func DueKinds() []string { return dueWebhook.Kinds() }

func endpointKey(store, id string) ddb.Item { return ddb.Key(pkStore+store, skEndpoint+id) }
func countKey(store string) ddb.Item        { return ddb.Key(pkStore+store, skCount) }
func eventKey(id string) ddb.Item           { return ddb.Key(pkEvent+id, skEvent) }

// ValidEndpointID reports whether s has the shape of an endpoint id.
func ValidEndpointID(s string) bool { return ddb.ValidID(s, prefixEP) }

// ValidEventID reports whether s has the shape of an event id.
func ValidEventID(s string) bool {
	return strings.HasPrefix(s, prefixEvt) && ddb.ValidTimeID(strings.TrimPrefix(s, prefixEvt))
}

// NewEventID is a time-ordered event id.
func NewEventID(at time.Time) string { return prefixEvt + ddb.NewTimeID(at) }

func ttl(at time.Time) types.AttributeValue { return ddb.Epoch(at.Add(Retention)) }

// Emit puts ev into tx: the event item, due for the sweep's fan-out at
// once; or, for a store without endpoints, the check that it still has
// none (hooked.go). ev.ID is set if empty; ev.Store and owner (the
// store's owner, who is notified of failures) are required.
func Emit(tx *ledger.Tx, owner string, ev Event) {
	if withoutEvent(tx, ev) {
		return
	}
	if ev.ID == "" {
		ev.ID = NewEventID(ev.Created)
	}
	ev.Created = ev.Created.UTC()
	body, err := json.Marshal(ev)
	if err != nil {
		tx.Fail(fmt.Errorf("webhooks: event %s: %w", ev.Type, err))
		return
	}
	item := eventKey(ev.ID)
	item["eventId"] = ddb.S(ev.ID)
	item["storeId"] = ddb.S(ev.Store)
	item["owner"] = ddb.S(owner)
	item["type"] = ddb.S(ev.Type)
	item["sequence"] = ddb.N(ev.Sequence)
	item["body"] = ddb.S(string(body))
	item["createdAt"] = ddb.Time(ev.Created)
	if ev.Data.Order != nil {
		item["orderId"] = ddb.S(ev.Data.Order.ID)
	}
	item[ddb.AttrTTL] = ttl(ev.Created)
	dueWebhook.Set(item, ev.Created, ev.ID)
	tx.Put(item, ledger.Cond{Expr: "attribute_not_exists(PK)"}, func(ddb.Item) error {
		return fmt.Errorf("webhooks: event id collision %s", ev.ID)
	})
}
