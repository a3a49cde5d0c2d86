// orders.go holds the order item and what every verb shares (summary,
// pointers, events, notifications); the verbs live in place.go,
// transitions.go, refunds.go and reads.go.

package merchant

import (
	"time"

	"minipay/shared/capabilities/notify"
	"minipay/shared/kernel/ddb"
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
	for _, pk := range []string{ledger.UserPK(o.Customer), part} {
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
