// Package merchant is paying stores for food orders: a user registers a
// store, which gets its own merchant and reserve accounts; a customer pays
// an order from their main account with a two-phase payment on the ledger's
// holds (after Stripe's PaymentIntents with manual capture and
// TigerBeetle's pending transfers):
//
//		authorized --accept--> accepted --cook (capture)--> cooking --> cooked --> picked_up --> delivered --complete--> completed
//		    |  \--reject (store)--> rejected <--reject--|
//		    |---cancel (customer)--> cancelled <--cancel--|
//		    \---(authorization lapses, sweep)--> expired <--|
//
//	  - place: a hold of the amount on the customer's main account (with an
//	    automatic charge of a shortfall, exactly as transfers do), credit side
//	    the store's merchant account; status authorized. The hold's timeout
//	    is the authorization's expiry (config.OrderAuthorization, default 15
//	    minutes): the store must accept AND start cooking within it.
//	  - reject (the store) / cancel (the customer) void the hold, from
//	    authorized or accepted (until cooking starts: a store that accepted
//	    and then runs out of stock rejects); the expiry sweep expires it;
//	    cook posts it in full to the store's reserve account (the capture).
//	    Cancelling or rejecting once cooking has started is refused
//	    (order_cooking_started).
//	  - refunds after the capture move money from the reserve account back to
//	    the customer's main account: several, their sum never above the
//	    capture (a counter on the order conditioned in the same transaction),
//	    within RefundWindow of the capture (refund_window_closed after it).
//	  - the rolling reserve: a captured payment stays in the store's reserve
//	    account (kind merchant_reserve, owned by the store's owner, never
//	    withdrawn) for RefundWindow, so a refund is never refused because the
//	    store withdrew; when the window closes the order-expiry job moves
//	    what was not refunded to the merchant account (ONE transaction per
//	    order: the reserve item's delete, the order's released amount, the
//	    movement), which the store may withdraw. A refund and the release
//	    are conditioned on opposite sides of the window's end and on the
//	    order not released, so exactly one of them takes each won.
//	    Orders placed before the reserve existed (no reserveAccount on the
//	    order) are captured into and refunded from the merchant account.
//
// Every transition is ONE transaction conditioned on the order's current
// status (exactly the one read; a status that changed into one the action
// still allows is an internal signal: read again, build again), so
// concurrent transitions resolve exactly once; the hold's own conditions
// back it up. Each transition writes, in the same transaction, the order's
// list pointers (status in the key), a timeline item and the notification
// of the party who did not cause it.
//
//	item                PK                 SK                         notes
//	store               STORE#<sid>        STORE                      name, owner, accountId, status (open|closed), createdAt,
//	                                                                  shards
//	store status copy   STORE#<sid>[#<n>]  STATUS                     status, owner, accountId: one per shard n < shards
//	store counter       USER#<uid>         STORES                     storeCount: at most MaxStores per user
//	merchant account    USER#<owner>       ACCOUNT#ma_<...>           the ledger's account, kind "merchant" (in GET /accounts),
//	                                                                  its credits spread over ledger.MaxShards shards
//	reserve account     USER#<owner>       ACCOUNT#mr_<...>           the ledger's account, kind "merchant_reserve", its credits
//	                                                                  (captures) spread over ledger.MaxShards shards
//	order               ORDER#<oid>        ORDER                      store, storeName, storeOwner, merchantAccount, reserveAccount,
//	                                                                  customer, customerName, amount, memo, status, captured,
//	                                                                  refunded, refundUntilMs, released, releasedAt, createdAt,
//	                                                                  updatedAt, expiresAtMs, storePart; due (DUE#order#nn) until
//	                                                                  captured or resolved; ttl createdAt + 1 year
//	order reserve       ORDER#<oid>        RESERVE                    orderId; due (DUE#order-reserve#nn) at refundUntilMs: written
//	                                                                  by the capture, deleted by the release (a small item of its
//	                                                                  own, so the order's transitions never rewrite the index)
//	timeline event      ORDER#<oid>        EVENT#<time id>            action, status, actor, amount, movementId, at
//	customer pointers   USER#<customer>    ORDERS#<oid>               every order (status as an attribute), newest first
//	                    USER#<customer>    ORDER#<status>#<oid>       the orders of one status
//	store pointers      STORE#<sid>[#<n>]  ORDERS#<oid>, ORDER#<status>#<oid>
//
// Order ids are time-ordered, so pointers and the timeline sort by time and
// newest first is one Query read backwards (ddb.Table.QueryPage).
//
// A popular store is no hot spot: nothing an order does writes or checks
// the store's item. A store has StoreShards shards (n = hash(order id) mod
// StoreShards; shard 0 is STORE#<sid> itself, ddb.ShardKey): an order's
// store pointers live on its shard's partition (storePart on the order), and
// its placement checks "the store is open" on its shard's small status copy,
// which PUT /stores/{id}/status rewrites, all copies and the store item, in
// one transaction: so a close refuses every order whose transaction commits
// after it, exactly as a check of the store item did, while 1,000 placements
// a second meet each copy about 16 times a second. GET /stores/{id}/orders
// merges the shards (one Query per shard, at once). Stores created before
// shards (no shards attribute) keep one partition and the store item's check.
//
// Decisions:
//   - Someone who is neither the order's customer nor its store's owner
//     gets 404 order_not_found (nobody learns of others' orders); the
//     customer doing the store's part gets 403 not_order_store, the store
//     doing the customer's part 403 not_order_customer.
//   - The store's owner cannot order from their own store (own_store).
//   - Only the store refunds; a refund does not change the status.
//   - The merchant account is listed by GET /accounts and readable by GET
//     /accounts/{id} (and its history); it is paid out to the bank by POST
//     /stores/{id}/withdrawals (the main account's withdrawal route stays
//     for main accounts only).
package merchant

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/ledger"
)

// KindMerchant is a store's merchant account: it receives the payments
// whose refund window closed and is withdrawn to its owner's bank.
const KindMerchant ledger.Kind = "merchant"

// KindReserve is a store's reserve account: it receives captured order
// payments, pays refunds within the refund window and is never withdrawn.
const KindReserve ledger.Kind = "merchant_reserve"

// RefundWindow is how long after the capture (cooking started) a store may
// refund an order; until it closes the payment's unrefunded part stays in
// the store's reserve account.
const RefundWindow = 7 * 24 * time.Hour

// Movement types as they appear in history.
const (
	TypeOrderPayment       = "order_payment"
	TypeOrderRefund        = "order_refund"
	TypeMerchantWithdrawal = "merchant_withdrawal"
	TypeReserveRelease     = "order_reserve_release" // reserve -> merchant when the refund window closes
)

// Limits.
const (
	MaxStores      = 10
	MaxOrderAmount = 10_000_000 // won; a food order
	// StoreShards is how many partitions a store's order pointers and
	// status copies are spread over. A whole order life cycle writes about
	// 42 WCU of store pointers (place 2 items + the status check; six
	// transitions of 3 items; 2 WCU each), so 1,000 orders a second are
	// 42,000 WCU/s: 64 partitions take about 660 WCU/s each, under 80 % of
	// a partition's 1,000.
	StoreShards = 64
)

// Store statuses.
const (
	StoreOpen   = "open"
	StoreClosed = "closed"
)

// Order statuses.
const (
	StatusAuthorized = "authorized"
	StatusAccepted   = "accepted"
	StatusRejected   = "rejected"
	StatusCancelled  = "cancelled"
	StatusExpired    = "expired"
	StatusCooking    = "cooking"
	StatusCooked     = "cooked"
	StatusPickedUp   = "picked_up"
	StatusDelivered  = "delivered"
	StatusCompleted  = "completed"
)

// Statuses is every order status, for validation.
var Statuses = []string{StatusAuthorized, StatusAccepted, StatusRejected, StatusCancelled, StatusExpired,
	StatusCooking, StatusCooked, StatusPickedUp, StatusDelivered, StatusCompleted}

// captured are the statuses after the capture: refundable.
var captured = []string{StatusCooking, StatusCooked, StatusPickedUp, StatusDelivered, StatusCompleted}

// open are the statuses whose authorization is still a pending hold.
var open = []string{StatusAuthorized, StatusAccepted}

// Who caused a timeline event.
const (
	ActorCustomer = "customer"
	ActorStore    = "store"
	ActorSystem   = "system"
)

// Notification types.
const (
	NotifReceived     = "order_received"      // store: a new order
	NotifAccepted     = "order_accepted"      // customer
	NotifRejected     = "order_rejected"      // customer
	NotifCancelled    = "order_cancelled"     // store
	NotifExpired      = "order_expired"       // customer and store
	NotifCooking      = "order_cooking"       // customer: the payment was captured
	NotifCooked       = "order_cooked"        // customer
	NotifPickedUp     = "order_picked_up"     // customer
	NotifDelivered    = "order_delivered"     // customer
	NotifCompleted    = "order_completed"     // store
	NotifRefunded     = "order_refunded"      // customer
	NotifRefundIssued = "order_refund_issued" // store
)

// Refusals.
var (
	ErrStoreNotFound    = domainerr.New("store_not_found")
	ErrStoreClosed      = domainerr.New("store_closed")
	ErrNotStoreOwner    = domainerr.New("not_store_owner")
	ErrTooManyStores    = domainerr.New("too_many_stores")
	ErrOwnStore         = domainerr.New("own_store")
	ErrOrderNotFound    = domainerr.New("order_not_found")
	ErrNotOrderStore    = domainerr.New("not_order_store")
	ErrNotOrderCustomer = domainerr.New("not_order_customer")
	ErrCookingStarted   = domainerr.New("order_cooking_started")
	ErrOrderExpired     = domainerr.New("order_expired")
	ErrRefundClosed     = domainerr.New("refund_window_closed")
)

const (
	codeWrongStatus   = "order_status_conflict"
	codeRefundTooMuch = "refund_exceeds_capture"
	codeMerchantFunds = "merchant_insufficient_funds"
)

func init() {
	for _, c := range []string{codeWrongStatus, codeRefundTooMuch, codeMerchantFunds} {
		domainerr.Register(c)
	}
}

// WrongStatusError: the order is not in a status the action starts from.
type WrongStatusError struct {
	Order, Status, Action string
	Want                  []string
}

func (e *WrongStatusError) Error() string     { return codeWrongStatus + ": " + e.DetailText() }
func (e *WrongStatusError) ErrorCode() string { return codeWrongStatus }
func (e *WrongStatusError) DetailText() string {
	return fmt.Sprintf("order %s is %s; %s needs it %s", e.Order, e.Status, e.Action, strings.Join(e.Want, " or "))
}
func (e *WrongStatusError) Members() map[string]any {
	return map[string]any{"orderStatus": e.Status}
}

// RefundTooMuchError: the refund would take the refunded total past the
// captured amount.
type RefundTooMuchError struct {
	Order                     string
	Captured, Refunded, Asked int64
}

func (e *RefundTooMuchError) Error() string     { return codeRefundTooMuch + ": " + e.DetailText() }
func (e *RefundTooMuchError) ErrorCode() string { return codeRefundTooMuch }
func (e *RefundTooMuchError) DetailText() string {
	return fmt.Sprintf("order %s captured %d won and %d are refunded: at most %d more can be, %d asked",
		e.Order, e.Captured, e.Refunded, e.Captured-e.Refunded, e.Asked)
}
func (e *RefundTooMuchError) Members() map[string]any {
	return map[string]any{"captured": e.Captured, "refunded": e.Refunded, "refundable": e.Captured - e.Refunded}
}

// MerchantFundsError: the merchant account cannot pay the refund now (it
// was withdrawn to the bank).
type MerchantFundsError struct {
	Account          string
	Available, Asked int64
}

func (e *MerchantFundsError) Error() string     { return codeMerchantFunds + ": " + e.DetailText() }
func (e *MerchantFundsError) ErrorCode() string { return codeMerchantFunds }
func (e *MerchantFundsError) DetailText() string {
	return fmt.Sprintf("merchant account %s has %d won available; the refund needs %d", e.Account, e.Available, e.Asked)
}
func (e *MerchantFundsError) Members() map[string]any {
	return map[string]any{"available": e.Available}
}

// WithdrawFundsError: the merchant account has less available than the
// withdrawal asks; captured payments still in their refund window are in
// the reserve account, not here.
type WithdrawFundsError struct {
	Account          string
	Available, Asked int64
}

func (e *WithdrawFundsError) Error() string {
	return ledger.ErrInsufficientFunds.Code + ": " + e.DetailText()
}
func (e *WithdrawFundsError) ErrorCode() string { return ledger.ErrInsufficientFunds.Code }
func (e *WithdrawFundsError) Is(t error) bool   { return ledger.ErrInsufficientFunds.Is(t) }
func (e *WithdrawFundsError) DetailText() string {
	return fmt.Sprintf("merchant account %s has %d won available to withdraw; %d asked. A captured payment stays in the "+
		"store's reserve account for refunds until %s after cooking started (GET /stores/{id} shows it)",
		e.Account, e.Available, e.Asked, windowText)
}
func (e *WithdrawFundsError) Members() map[string]any {
	return map[string]any{"available": e.Available}
}

// windowText is RefundWindow in words.
var windowText = func() string {
	if RefundWindow%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", RefundWindow/(24*time.Hour))
	}
	return RefundWindow.String()
}()

// statusChanged is the internal signal of an order whose status changed
// after it was read into one the action still allows: read it again.
type statusChanged struct{ id string }

func (e *statusChanged) Error() string   { return "merchant: order " + e.id + " changed; read it again" }
func (e *statusChanged) Transient() bool { return true }

// ---- keys ----

const (
	pkStore      = "STORE#"
	skStore      = "STORE"
	skStatus     = "STATUS"
	pkOrder      = "ORDER#"
	skOrder      = "ORDER"
	skEventPfx   = "EVENT#"
	skAllPfx     = "ORDERS#"
	skStatusPfx  = "ORDER#"
	skStoreCount = "STORES"
	skReserve    = "RESERVE"
	prefixRes    = "mr_"
	prefixStore  = "st_"
	prefixAcct   = "ma_"
)

// dueOrder spreads open orders' expiries over 32 due-index partitions (a
// thousand placements a second into one store), by a hash of the order id.
var dueOrder = ddb.DueKind{Name: "order", Shards: 32}

// dueReserve spreads captured orders' refund-window ends (the reserve's
// release) the same way: one per capture, at the capture rate.
var dueReserve = ddb.DueKind{Name: "order-reserve", Shards: 32}

func storeKey(id string) ddb.Item { return ddb.Key(pkStore+id, skStore) }

// storeShard is the shard of an order among a store's shards.
func storeShard(orderID string, shards int) int { return ddb.HashShard(orderID, shards) }

// storePart is the partition of an order's store pointers (and of the
// status copy its placement checks).
func storePart(storeID, orderID string, shards int) string {
	return ddb.ShardKey(pkStore+storeID, storeShard(orderID, shards))
}

// statusKey is shard n's status copy.
func statusKey(storeID string, n int) ddb.Item {
	return ddb.Key(ddb.ShardKey(pkStore+storeID, n), skStatus)
}

func orderKey(id string) ddb.Item { return ddb.Key(pkOrder+id, skOrder) }

// AccountID is the merchant account id of a store ("st_x" -> "ma_x"), so
// a store's account needs no lookup.
func AccountID(storeID string) string { return prefixAcct + strings.TrimPrefix(storeID, prefixStore) }

// ReserveAccountID is the reserve account id of a store ("st_x" -> "mr_x").
func ReserveAccountID(storeID string) string {
	return prefixRes + strings.TrimPrefix(storeID, prefixStore)
}

func reserveKey(orderID string) ddb.Item { return ddb.Key(pkOrder+orderID, skReserve) }

// ValidStoreID reports whether s has the shape of a store id.
func ValidStoreID(s string) bool { return ddb.ValidID(s, prefixStore) }

// ValidAccountID reports whether s has the shape of a merchant account id.
func ValidAccountID(s string) bool { return ddb.ValidID(s, prefixAcct) }

func has(list []string, s string) bool { return slices.Contains(list, s) }

// retention is how long order items live (TTL), from the order's creation.
const retention = ledger.HistoryRetention

func ttl(created time.Time) ddb.Item { return ddb.Item{ddb.AttrTTL: ddb.Epoch(created.Add(retention))} }
