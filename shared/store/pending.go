package store

// Pending transfers (issue 4): a transfer that waits for the receiver. The
// amount is HELD on the sender's main account (held += amount, available -=
// amount; the balance moves only on accept), so it counts as spent at once.
//
//	item              PK                  SK                         notes
//	pending transfer  TRANSFER#<tid>      TRANSFER                   from, to, amount, status, fromName, displayName,
//	                                                                 memo, createdAt, expiresAtMs, remindAtMs,
//	                                                                 remindedAt; dueBucket/dueAt while open
//	list pointer      USER#<sender>       SENT#<status>#<tid>        a copy of the transfer's facts and status, for
//	                  USER#<receiver>     RECV#<status>#<tid>        GET /transfers?role=&status=: one Query per page
//	notification      USER#<uid>          NOTIF#<time-ordered id>    inbox; ttl 90 days; also streamed to EventBridge
//	user profile      USER#<uid>          PROFILE                    pendingByDefault (BOOL), set by PUT /me/settings
//
// tid is a time-ordered movement id, so a pointer prefix sorts by creation
// time and "newest first" is ScanIndexForward=false. The status is part of
// the pointer's KEY (not a FilterExpression): a state change deletes the old
// pointer and puts the new one in the state change's own transaction, so a
// page of ?status=pending costs the page, however many resolved transfers
// the user has.
//
// The transfer item's expiry is expiresAtMs, NOT expiresAt: expiresAt is the
// table's TTL attribute, and DynamoDB would delete the item itself at 72 h.
// Resolved transfers and pointers get expiresAt = resolution + one year, like
// history.
//
// Due work: while the transfer is open it sits in the sparse due index under
// DUE#pending with dueAt = the reminder time (48 h), then, once reminded, the
// expiry time (72 h); resolving it removes both attributes. The sweep Queries
// dueAt <= now: its cost is what is due.
//
// Every state change is ONE transaction conditioned on status = pending, the
// caller's role and the time (now < expiresAtMs for accept/reject/cancel,
// expiresAtMs <= now for the expiry), so concurrent accepts, cancels and the
// sweep end with exactly one outcome. The notification it causes is written
// in the same transaction.

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/problem"
)

// Pending transfer timing.
const (
	PendingLifetime = 72 * time.Hour
	PendingRemindAt = 48 * time.Hour // 24 h before expiry
	// NotificationRetention is the inbox items' TTL.
	NotificationRetention = 90 * 24 * time.Hour
)

// DueBucketPending is the due-index partition of open pending transfers.
const DueBucketPending = "DUE#pending"

// Transfer statuses.
const (
	StatusPending   = "pending"
	StatusAccepted  = "accepted"
	StatusRejected  = "rejected"
	StatusCancelled = "cancelled"
	StatusExpired   = "expired"
)

// TransferStatuses is every status, for validation.
var TransferStatuses = []string{StatusPending, StatusAccepted, StatusRejected, StatusCancelled, StatusExpired}

// Roles in a pending transfer.
const (
	RoleSent     = "sent"
	RoleReceived = "received"
)

// Notification types.
const (
	NotifPendingReceived = "transfer_pending_received" // receiver: money waits for you
	NotifAccepted        = "transfer_accepted"         // sender
	NotifRejected        = "transfer_rejected"         // sender
	NotifCancelled       = "transfer_cancelled"        // receiver
	NotifExpired         = "transfer_expired"          // sender and receiver
	NotifReminder        = "transfer_reminder"         // receiver, 24 h before expiry
)

// TypeTransfer is the movement type of an accepted pending transfer (the same
// as an immediate one).
const TypeTransfer = "transfer"

const (
	prefixTransfer = "TRANSFER#"
	skTransfer     = "TRANSFER"
	prefixSent     = "SENT#"
	prefixRecv     = "RECV#"
	prefixNotif    = "NOTIF#"
	attrPendingDef = "pendingByDefault"
)

// PendingTransfer is a pending transfer's facts.
type PendingTransfer struct {
	ID          string    `json:"id"`
	From        string    `json:"from"` // sender's user id
	To          string    `json:"to"`   // receiver's user id
	Amount      int64     `json:"amount"`
	Status      string    `json:"status"`
	FromName    string    `json:"fromName,omitempty"`
	DisplayName string    `json:"displayName,omitempty"`
	Memo        string    `json:"memo,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	ExpiresAt   time.Time `json:"expiresAt"`
	RemindAt    time.Time `json:"-"`
	Reminded    bool      `json:"-"`
	ResolvedAt  time.Time `json:"resolvedAt,omitzero"`
}

// NewPendingTransfer fills in the times of a transfer created at.
func NewPendingTransfer(id, from, to string, amount int64, fromName, displayName, memo string, at time.Time) PendingTransfer {
	// The item keeps the times in milliseconds; the response says the same.
	at = at.UTC()
	return PendingTransfer{ID: id, From: from, To: to, Amount: amount, Status: StatusPending,
		FromName: fromName, DisplayName: displayName, Memo: memo,
		CreatedAt: at, ExpiresAt: at.Add(PendingLifetime).Truncate(time.Millisecond), RemindAt: at.Add(PendingRemindAt).Truncate(time.Millisecond)}
}

func transferKey(id string) map[string]types.AttributeValue {
	return key(prefixTransfer+id, skTransfer)
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func pendingDue(t time.Time, id string) string { return t.UTC().Format(dueTimeFormat) + "#" + id }

func pendingFromItem(item map[string]types.AttributeValue) PendingTransfer {
	created, _ := time.Parse(time.RFC3339Nano, getS(item, "createdAt"))
	resolved, _ := time.Parse(time.RFC3339Nano, getS(item, "resolvedAt"))
	return PendingTransfer{
		ID: getS(item, "transferId"), From: getS(item, "from"), To: getS(item, "to"), Amount: getN(item, "amount"),
		Status: getS(item, "status"), FromName: getS(item, "fromName"), DisplayName: getS(item, "displayName"), Memo: getS(item, "memo"),
		CreatedAt: created, ExpiresAt: time.UnixMilli(getN(item, "expiresAtMs")).UTC(),
		RemindAt: time.UnixMilli(getN(item, "remindAtMs")).UTC(), Reminded: item["remindedAt"] != nil, ResolvedAt: resolved,
	}
}

// facts are the attributes the transfer item and its pointers share.
func (p PendingTransfer) facts(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	item["transferId"] = str(p.ID)
	item["from"] = str(p.From)
	item["to"] = str(p.To)
	item["amount"] = num(p.Amount)
	item["status"] = str(p.Status)
	item["createdAt"] = str(rfc(p.CreatedAt))
	item["expiresAtMs"] = num(ms(p.ExpiresAt))
	item["remindAtMs"] = num(ms(p.RemindAt))
	if p.FromName != "" {
		item["fromName"] = str(p.FromName)
	}
	if p.DisplayName != "" {
		item["displayName"] = str(p.DisplayName)
	}
	if p.Memo != "" {
		item["memo"] = str(p.Memo)
	}
	if !p.ResolvedAt.IsZero() {
		item["resolvedAt"] = str(rfc(p.ResolvedAt))
		item[AttrTTL] = num(p.ResolvedAt.Add(HistoryRetention).Unix())
	}
	return item
}

func pointerSK(prefix, status, id string) string { return prefix + status + "#" + id }

// pointers puts the sender's and the receiver's list pointers for p's status
// and, if old is set, deletes the ones for status old.
func (tx *Tx) pointers(p PendingTransfer, old string) {
	for _, side := range []struct{ user, prefix string }{{p.From, prefixSent}, {p.To, prefixRecv}} {
		if old != "" {
			tx.add(types.TransactWriteItem{Delete: &types.Delete{Key: key(prefixUser+side.user, pointerSK(side.prefix, old, p.ID))}}, op{})
		}
		tx.add(types.TransactWriteItem{Put: &types.Put{Item: p.facts(key(prefixUser+side.user, pointerSK(side.prefix, p.Status, p.ID)))}}, op{})
	}
}

// Notification is one inbox item.
type Notification struct {
	ID          string    `json:"id"` // time-ordered; also the EventBridge consumers' dedupe key
	UserID      string    `json:"-"`
	Type        string    `json:"type"`
	TransferID  string    `json:"transferId,omitempty"`
	Amount      int64     `json:"amount,omitempty"`
	From        string    `json:"from,omitempty"`
	To          string    `json:"to,omitempty"`
	FromName    string    `json:"fromName,omitempty"`
	DisplayName string    `json:"displayName,omitempty"`
	ExpiresAt   time.Time `json:"transferExpiresAt,omitzero"`
	RoomID      string    `json:"roomId,omitempty"` // sprinkle notifications
	Token       string    `json:"token,omitempty"`
	At          time.Time `json:"at"`
}

// Notify adds an inbox item for n.UserID (n.ID is set if empty).
func (tx *Tx) Notify(n Notification) {
	if n.ID == "" {
		n.ID = NewMovementID(n.At)
	}
	item := key(prefixUser+n.UserID, prefixNotif+n.ID)
	item["notificationId"] = str(n.ID)
	item["userId"] = str(n.UserID)
	item["type"] = str(n.Type)
	item["at"] = str(rfc(n.At))
	item[AttrTTL] = num(n.At.Add(NotificationRetention).Unix())
	for name, v := range map[string]string{"transferId": n.TransferID, "from": n.From, "to": n.To, "fromName": n.FromName, "displayName": n.DisplayName, "roomId": n.RoomID, "token": n.Token} {
		if v != "" {
			item[name] = str(v)
		}
	}
	if n.Amount != 0 {
		item["amount"] = num(n.Amount)
	}
	if !n.ExpiresAt.IsZero() {
		item["transferExpiresAtMs"] = num(ms(n.ExpiresAt))
	}
	tx.add(types.TransactWriteItem{Put: &types.Put{Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		op{onFail: func(map[string]types.AttributeValue) error {
			return fmt.Errorf("store: notification id collision %s", n.ID)
		}})
}

func (p PendingTransfer) notification(userID, typ string, at time.Time) Notification {
	return Notification{UserID: userID, Type: typ, TransferID: p.ID, Amount: p.Amount, From: p.From, To: p.To,
		FromName: p.FromName, DisplayName: p.DisplayName, ExpiresAt: p.ExpiresAt, At: at}
}

// ---- the sender's setting ----

// SetPendingDefault stores the user's default for outgoing transfers on
// their profile (one write: a single-item transaction, so the store's
// client interface needs no UpdateItem).
func (s *Store) SetPendingDefault(ctx context.Context, userID string, pending bool) error {
	tx := &Tx{}
	tx.add(types.TransactWriteItem{Update: &types.Update{
		Key:                       key(prefixUser+userID, skProfile),
		UpdateExpression:          aws.String("SET " + attrPendingDef + " = :b"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":b": &types.AttributeValueMemberBOOL{Value: pending}},
	}}, op{onFail: func(map[string]types.AttributeValue) error {
		return problem.UserNotFound.With("user %s does not exist", userID)
	}})
	return s.Commit(ctx, tx)
}

// RequirePendingDefault adds a check of the sender's setting: that their
// transfers are pending by default (pending) or not (!pending; a profile
// without the setting counts as not pending). A failure is the internal
// signal problem.PendingByDefault / NotPendingByDefault: the caller tries
// the other variant.
func (tx *Tx) RequirePendingDefault(userID string, pending bool) {
	cond := "attribute_not_exists(" + attrPendingDef + ") OR " + attrPendingDef + " = :b"
	signal := problem.PendingByDefault
	if pending {
		cond = attrPendingDef + " = :b"
		signal = problem.NotPendingByDefault
	}
	tx.add(types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		Key:                       key(prefixUser+userID, skProfile),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeValues: map[string]types.AttributeValue{":b": &types.AttributeValueMemberBOOL{Value: pending}},
	}}, op{onFail: func(map[string]types.AttributeValue) error { return signal }})
}

// ---- holds ----

// Hold holds amount on a user account: ONE update ADD held :amount,
// available -amount on the condition available >= amount (the balance does
// not move).
func (tx *Tx) Hold(a AccountRef, kind string, amount int64) { tx.hold(a, kind, amount, 0) }

// HoldWithTopUp is a top-up into a (e.g. the automatic charge from the bank)
// and a hold of amount on it, as ONE update of a (DynamoDB refuses two
// updates of one item in a transaction, as for MoveWithTopUp): ADD balance
// topUp.Amount, available topUp.Amount-amount, held amount, on the condition
// available >= amount - topUp.Amount. Items: the top-up's source debit, a's
// update and the top-up's two entries. The caller adds the charge limit.
func (tx *Tx) HoldWithTopUp(a AccountRef, kind string, amount int64, topUp Movement) {
	if topUp.To != a || topUp.From == a {
		tx.err = fmt.Errorf("store: top-up goes to %s, but the hold is on %s", topUp.To.ID, a.ID)
		return
	}
	tx.debit(topUp.From, topUp.FromKind, topUp.Amount)
	tx.hold(a, kind, amount, topUp.Amount)
	tx.entry(topUp, topUp.From, -topUp.Amount, topUp.To, topUp.ToLabel)
	tx.entry(topUp, topUp.To, topUp.Amount, topUp.From, topUp.FromLabel)
}

func (tx *Tx) hold(a AccountRef, kind string, amount, topUp int64) {
	if a.System() || amount <= 0 || topUp < 0 {
		tx.err = fmt.Errorf("store: bad hold of %d (+%d) on %s", amount, topUp, a.ID)
		return
	}
	needed := amount - topUp
	cond := "attribute_exists(PK) AND available >= :needed"
	values := map[string]types.AttributeValue{":needed": num(needed), ":held": num(amount), ":avail": num(topUp - amount)}
	update := "ADD held :held, available :avail"
	if topUp > 0 {
		update += ", balance :topup"
		values[":topup"] = num(topUp)
	}
	if kind != "" {
		cond += " AND kind = :kind"
		values[":kind"] = str(kind)
	}
	tx.add(types.TransactWriteItem{Update: &types.Update{
		Key: a.key(), UpdateExpression: aws.String(update), ConditionExpression: aws.String(cond), ExpressionAttributeValues: values,
	}}, op{onFail: spendRefused(a, kind, needed)})
}

// release gives a hold back: ADD held -amount, available +amount, on the
// condition held >= amount.
func (tx *Tx) release(a AccountRef, amount int64) {
	tx.add(types.TransactWriteItem{Update: &types.Update{
		Key:                       a.key(),
		UpdateExpression:          aws.String("ADD held :neg, available :amt"),
		ConditionExpression:       aws.String("attribute_exists(PK) AND held >= :amt"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":neg": num(-amount), ":amt": num(amount)},
	}}, op{onFail: func(old map[string]types.AttributeValue) error {
		return fmt.Errorf("store: account %s holds %d, cannot release %d", a.ID, getN(old, "held"), amount)
	}})
}

// ---- create ----

// CreatePending adds a pending transfer, after the caller added the hold on
// the sender's main account (Hold or HoldWithTopUp): the receiver's main
// account must exist (ConditionCheck), the transfer item (with its due-index
// entry for the reminder), both list pointers and the receiver's
// notification.
func (tx *Tx) CreatePending(p PendingTransfer) {
	to := MainAccount(p.To)
	tx.add(types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		Key:                       to.key(),
		ConditionExpression:       aws.String("attribute_exists(PK) AND kind = :kind"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":kind": str(KindMain)},
	}}, op{onFail: func(map[string]types.AttributeValue) error {
		return problem.AccountNotFound.With("account %s does not exist", to.ID)
	}})
	item := p.facts(transferKey(p.ID))
	item[AttrDuePK] = str(DueBucketPending)
	item[AttrDueSK] = str(pendingDue(p.RemindAt, p.ID))
	tx.add(types.TransactWriteItem{Put: &types.Put{Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		op{onFail: func(map[string]types.AttributeValue) error {
			return fmt.Errorf("store: id collision for transfer %s", p.ID)
		}})
	tx.pointers(p, "")
	tx.Notify(p.notification(p.To, NotifPendingReceived, p.CreatedAt))
}

// ---- read ----

// GetPendingTransfer reads a transfer as its sender or receiver sees it
// (one strongly consistent GetItem). Anyone else gets 404, as for a
// transfer that does not exist.
func (s *Store) GetPendingTransfer(ctx context.Context, id, caller string) (PendingTransfer, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: transferKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return PendingTransfer{}, fmt.Errorf("store: get transfer: %w", err)
	}
	p := pendingFromItem(out.Item)
	if len(out.Item) == 0 || (p.From != caller && p.To != caller) {
		return PendingTransfer{}, problem.TransferNotFound.With("you have no pending transfer %s", id)
	}
	return p, nil
}

// ---- resolve ----

// Resolutions a participant may choose.
const (
	ActionAccept = "accept" // receiver
	ActionReject = "reject" // receiver
	ActionCancel = "cancel" // sender
)

// Resolve adds the resolution of p by caller at now: the transfer item's
// update conditioned on status = pending, the caller's role, the amount and
// now < expiresAtMs; the money (accept: the sender's balance and hold go
// down, the receiver's main is credited, two entries; reject/cancel: the
// hold is released); the pointers; the notification. movementID names the
// accept's history entries.
func (tx *Tx) Resolve(p PendingTransfer, action, caller, movementID string, now time.Time) {
	role, status, notifyUser, notif := "to", StatusAccepted, p.From, NotifAccepted
	switch action {
	case ActionAccept:
	case ActionReject:
		status, notif = StatusRejected, NotifRejected
	case ActionCancel:
		role, status, notifyUser, notif = "from", StatusCancelled, p.To, NotifCancelled
	default:
		tx.err = fmt.Errorf("store: unknown resolution %q", action)
		return
	}
	// The condition requires status = pending, so the pointers to replace
	// are the pending ones whatever the read saw (a read that saw another
	// status builds a transaction that fails on the transfer item).
	p.Status, p.ResolvedAt = status, now
	set := "SET #s = :status, resolvedAt = :at, expiresAt = :ttl"
	values := map[string]types.AttributeValue{
		":status": str(status), ":at": str(rfc(now)), ":ttl": num(now.Add(HistoryRetention).Unix()),
		":pending": str(StatusPending), ":caller": str(caller), ":now": num(ms(now)), ":amount": num(p.Amount),
	}
	if action == ActionAccept {
		set += ", movementId = :mid"
		values[":mid"] = str(movementID)
	}
	tx.add(types.TransactWriteItem{Update: &types.Update{
		Key:                       transferKey(p.ID),
		UpdateExpression:          aws.String(set + " REMOVE #b, #d"),
		ConditionExpression:       aws.String("#s = :pending AND #role = :caller AND amount = :amount AND expiresAtMs > :now"),
		ExpressionAttributeNames:  map[string]string{"#s": "status", "#role": role, "#b": AttrDuePK, "#d": AttrDueSK},
		ExpressionAttributeValues: values,
	}}, op{onFail: func(old map[string]types.AttributeValue) error { return resolveRefusal(p.ID, old, role, caller, now) }})
	from := MainAccount(p.From)
	if action == ActionAccept {
		to := MainAccount(p.To)
		tx.add(types.TransactWriteItem{Update: &types.Update{
			Key:                       from.key(),
			UpdateExpression:          aws.String("ADD balance :neg, held :neg"),
			ConditionExpression:       aws.String("attribute_exists(PK) AND held >= :amt"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":neg": num(-p.Amount), ":amt": num(p.Amount)},
		}}, op{onFail: func(old map[string]types.AttributeValue) error {
			return fmt.Errorf("store: account %s holds %d, cannot pay %d", from.ID, getN(old, "held"), p.Amount)
		}})
		tx.credit(to, KindMain, p.Amount)
		m := Movement{ID: movementID, Type: TypeTransfer, Amount: p.Amount, At: now,
			From: from, FromLabel: p.FromName, To: to, ToLabel: p.To,
			Originator: p.FromName, DisplayName: p.DisplayName, Memo: p.Memo}
		tx.entry(m, from, -p.Amount, to, m.ToLabel)
		tx.entry(m, to, p.Amount, from, m.FromLabel)
	} else {
		tx.release(from, p.Amount)
	}
	tx.pointers(p, StatusPending)
	tx.Notify(p.notification(notifyUser, notif, now))
}

func resolveRefusal(id string, old map[string]types.AttributeValue, role, caller string, now time.Time) error {
	switch {
	case len(old) == 0 || getS(old, role) != caller:
		return problem.TransferNotFound.With("you have no pending transfer %s you can do this to", id)
	}
	switch getS(old, "status") {
	case StatusAccepted:
		return problem.TransferAccepted.With("transfer %s was accepted at %s", id, getS(old, "resolvedAt"))
	case StatusRejected:
		return problem.TransferRejected.With("transfer %s was rejected at %s", id, getS(old, "resolvedAt"))
	case StatusCancelled:
		return problem.TransferCancelled.With("transfer %s was cancelled at %s", id, getS(old, "resolvedAt"))
	case StatusExpired:
		return problem.TransferExpired.With("transfer %s expired at %s", id, time.UnixMilli(getN(old, "expiresAtMs")).UTC().Format(time.RFC3339))
	}
	if getN(old, "expiresAtMs") <= ms(now) {
		return problem.TransferExpired.With("transfer %s expired at %s", id, time.UnixMilli(getN(old, "expiresAtMs")).UTC().Format(time.RFC3339))
	}
	return fmt.Errorf("store: transfer %s changed under its resolution", id) // amount mismatch: never written
}

// ---- sweep ----

// DuePending Queries the due index for open pending transfers due at or
// before now (reminder or expiry), oldest first. Its cost is what is due.
// The index is eventually consistent; every action re-checks in its
// transaction.
func (s *Store) DuePending(ctx context.Context, now time.Time) ([]PendingTransfer, error) {
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		IndexName:                aws.String(IndexDue),
		KeyConditionExpression:   aws.String("#b = :b AND #d <= :upper"),
		ExpressionAttributeNames: map[string]string{"#b": AttrDuePK, "#d": AttrDueSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":b": str(DueBucketPending), ":upper": str(now.UTC().Format(dueTimeFormat) + "#~"),
		},
	}
	var due []PendingTransfer
	err := s.queryAll(ctx, in, func(item map[string]types.AttributeValue) bool {
		due = append(due, pendingFromItem(item))
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("store: due pending transfers: %w", err)
	}
	return due, nil
}

// errNotDue means another run (or a participant) got there first.
var errNotDue = fmt.Errorf("store: no longer due")

// ExpirePending voids p at now if it is still pending and its expiry has
// passed: the hold goes back, the pointers move, sender and receiver are
// notified; ONE transaction conditioned on status = pending AND expiresAtMs
// <= now. It reports whether this call expired it (false: already resolved).
func (s *Store) ExpirePending(ctx context.Context, p PendingTransfer, now time.Time) (bool, error) {
	tx := &Tx{}
	p.Status, p.ResolvedAt = StatusExpired, now
	tx.add(types.TransactWriteItem{Update: &types.Update{
		Key:                      transferKey(p.ID),
		UpdateExpression:         aws.String("SET #s = :status, resolvedAt = :at, expiresAt = :ttl REMOVE #b, #d"),
		ConditionExpression:      aws.String("#s = :pending AND expiresAtMs <= :now AND amount = :amount AND #f = :from"),
		ExpressionAttributeNames: map[string]string{"#s": "status", "#b": AttrDuePK, "#d": AttrDueSK, "#f": "from"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":status": str(StatusExpired), ":at": str(rfc(now)), ":ttl": num(now.Add(HistoryRetention).Unix()),
			":pending": str(StatusPending), ":now": num(ms(now)), ":amount": num(p.Amount), ":from": str(p.From),
		},
	}}, op{onFail: func(map[string]types.AttributeValue) error { return errNotDue }})
	tx.release(MainAccount(p.From), p.Amount)
	tx.pointers(p, StatusPending)
	tx.Notify(p.notification(p.From, NotifExpired, now))
	tx.Notify(p.notification(p.To, NotifExpired, now))
	return s.commitDue(ctx, tx, p.ID)
}

// RemindPending writes the receiver's one reminder and moves p's due time to
// its expiry: ONE transaction conditioned on status = pending, not reminded
// yet and not expired. It reports whether this call reminded.
func (s *Store) RemindPending(ctx context.Context, p PendingTransfer, now time.Time) (bool, error) {
	tx := &Tx{}
	tx.add(types.TransactWriteItem{Update: &types.Update{
		Key:                      transferKey(p.ID),
		UpdateExpression:         aws.String("SET remindedAt = :at, #d = :due"),
		ConditionExpression:      aws.String("#s = :pending AND attribute_not_exists(remindedAt) AND expiresAtMs > :now"),
		ExpressionAttributeNames: map[string]string{"#s": "status", "#d": AttrDueSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":at": str(rfc(now)), ":due": str(pendingDue(p.ExpiresAt, p.ID)), ":pending": str(StatusPending), ":now": num(ms(now)),
		},
	}}, op{onFail: func(map[string]types.AttributeValue) error { return errNotDue }})
	tx.Notify(p.notification(p.To, NotifReminder, now))
	return s.commitDue(ctx, tx, p.ID)
}

func (s *Store) commitDue(ctx context.Context, tx *Tx, id string) (bool, error) {
	err := s.Commit(ctx, tx)
	switch {
	case err == nil:
		return true, nil
	case err == errNotDue:
		return false, nil
	default:
		return false, fmt.Errorf("store: transfer %s: %w", id, err)
	}
}

// ---- lists ----

// Page is a generic page request: at most Limit items after Cursor.
type Page struct {
	Limit  int32
	Cursor string
}

// ListTransfers returns one page of the user's pending-transfer pointers for
// role (RoleSent or RoleReceived) and status, newest first: one Query on the
// key prefix SENT#<status># or RECV#<status>#.
func (s *Store) ListTransfers(ctx context.Context, userID, role, status string, p Page) ([]PendingTransfer, string, error) {
	prefix := prefixSent
	if role == RoleReceived {
		prefix = prefixRecv
	}
	prefix += status + "#"
	items, next, err := s.pageQuery(ctx, prefixUser+userID, prefix, p)
	if err != nil {
		return nil, "", fmt.Errorf("store: list transfers: %w", err)
	}
	out := make([]PendingTransfer, 0, len(items))
	for _, it := range items {
		out = append(out, pendingFromItem(it))
	}
	return out, next, nil
}

// ListNotifications returns one page of the user's inbox, newest first: one
// Query. Items past their TTL are never returned.
func (s *Store) ListNotifications(ctx context.Context, userID string, p Page) ([]Notification, string, error) {
	items, next, err := s.pageQuery(ctx, prefixUser+userID, prefixNotif, p)
	if err != nil {
		return nil, "", fmt.Errorf("store: list notifications: %w", err)
	}
	out := make([]Notification, 0, len(items))
	for _, it := range items {
		at, _ := time.Parse(time.RFC3339Nano, getS(it, "at"))
		n := Notification{ID: getS(it, "notificationId"), UserID: userID, Type: getS(it, "type"), TransferID: getS(it, "transferId"),
			Amount: getN(it, "amount"), From: getS(it, "from"), To: getS(it, "to"), FromName: getS(it, "fromName"),
			DisplayName: getS(it, "displayName"), RoomID: getS(it, "roomId"), Token: getS(it, "token"), At: at}
		if e := getN(it, "transferExpiresAtMs"); e != 0 {
			n.ExpiresAt = time.UnixMilli(e).UTC()
		}
		out = append(out, n)
	}
	return out, next, nil
}

// pageQuery is one newest-first Query of pk's items under the SK prefix,
// skipping items past their TTL; the cursor is the opaque last id.
func (s *Store) pageQuery(ctx context.Context, pk, prefix string, p Page) ([]map[string]types.AttributeValue, string, error) {
	limit := p.Limit
	if limit <= 0 || limit > MaxPageSize {
		limit = MaxPageSize
	}
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		KeyConditionExpression:   aws.String("PK = :pk AND begins_with(SK, :sk)"),
		FilterExpression:         aws.String("attribute_not_exists(#ttl) OR #ttl > :now"),
		ExpressionAttributeNames: map[string]string{"#ttl": AttrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(pk), ":sk": str(prefix), ":now": num(s.clock.Now().Unix()),
		},
		ScanIndexForward: aws.Bool(false),
		Limit:            aws.Int32(limit),
		ConsistentRead:   aws.Bool(true),
	}
	if p.Cursor != "" {
		id, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, "", err
		}
		in.ExclusiveStartKey = key(pk, prefix+id)
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out.LastEvaluatedKey) > 0 {
		next = base64.RawURLEncoding.EncodeToString([]byte(strings.TrimPrefix(getS(out.LastEvaluatedKey, AttrSK), prefix)))
	}
	return out.Items, next, nil
}

// ValidTransferID reports whether id has the shape of a transfer id (a
// 26-character time-ordered movement id).
func ValidTransferID(id string) bool {
	if len(id) != 26 {
		return false
	}
	for _, c := range id {
		if !strings.ContainsRune(crockford, c) {
			return false
		}
	}
	return true
}
