package transfers

// Pending transfers: a transfer that waits for the receiver. The amount is a
// ledger hold on the sender's main account (it counts as spent at once;
// the balance moves only on accept). The hold's id is the transfer's id.
//
//	item              PK                  SK                         notes
//	pending transfer  TRANSFER#<tid>      TRANSFER                   from, to, amount, status, fromName, displayName,
//	                                                                 memo, createdAt, expiresAtMs, remindAtMs,
//	                                                                 remindedAt; due (DUE#pending#nn) while open
//	list pointer      USER#<sender>       SENT#<status>#<tid>        a copy of the transfer's facts and status, for
//	                  USER#<receiver>     RECV#<status>#<tid>        GET /transfers?role=&status=: one Query per page
//	settings          USER#<uid>          SETTINGS#transfers         pendingByDefault (BOOL), PUT /me/settings
//
// tid is a time-ordered movement id, so a pointer prefix sorts by creation
// time. The status is part of the pointer's KEY: a state change deletes the
// old pointer and puts the new one in the same transaction, so a page of
// ?status=pending costs the page, however many resolved transfers exist.
//
// Every state change is ONE transaction conditioned on status = pending,
// the caller's role and the time (before expiry for accept/reject/cancel,
// after it for the sweep), so concurrent accepts, cancels and the sweep end
// with exactly one outcome; the hold's own conditions back it up. The
// notification it causes is written in the same transaction.
//
// Decisions:
//   - Someone who is not the transfer's receiver (accept, reject) or sender
//     (cancel) gets 404 transfer_not_found, as for a transfer that does not
//     exist: nobody learns of others' transfers.
//   - Resolved: 409 transfer_already_accepted|rejected|cancelled; expired
//     (swept, or past its expiry but not swept yet): 410 transfer_expired.
//   - A sweep that finds a transfer already past its expiry (missed runs)
//     expires it without a reminder. Expiry notifies sender and receiver.

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"minipay/shared/capabilities/notify"
	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/ledger"
)

// Pending transfer timing.
const (
	PendingLifetime = 72 * time.Hour
	PendingRemindAt = 48 * time.Hour // 24 h before expiry
)

// Transfer statuses.
const (
	StatusPending   = "pending"
	StatusAccepted  = "accepted"
	StatusRejected  = "rejected"
	StatusCancelled = "cancelled"
	StatusExpired   = "expired"
)

// Statuses is every status, for validation.
var Statuses = []string{StatusPending, StatusAccepted, StatusRejected, StatusCancelled, StatusExpired}

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

// Refusals.
var (
	ErrTransferNotFound = domainerr.New("transfer_not_found")
	ErrAccepted         = domainerr.New("transfer_already_accepted")
	ErrRejected         = domainerr.New("transfer_already_rejected")
	ErrCancelled        = domainerr.New("transfer_already_cancelled")
	ErrExpired          = domainerr.New("transfer_expired")
)

const (
	pkTransfer     = "TRANSFER#"
	skTransfer     = "TRANSFER"
	skSent         = "SENT#"
	skRecv         = "RECV#"
	skSettings     = "SETTINGS#transfers"
	attrDefault    = "pendingByDefault"
	duePendingKind = "pending"
)

// duePending spreads open pending transfers over 16 due-index partitions
// (their reminders and expiries rewrite the entry), by a hash of the id.
var duePending = ddb.DueKind{Name: duePendingKind, Shards: 16}

// PendingTransfer is a pending transfer's facts.
type PendingTransfer struct {
	ID          string    `json:"id"`
	From        string    `json:"from"` // sender's user id
	To          string    `json:"to"`   // receiver's user id
	Amount      int64     `json:"amount"`
	Status      string    `json:"status" openapi:"enum=pending|accepted|rejected|cancelled|expired"`
	FromName    string    `json:"fromName,omitempty"`
	DisplayName string    `json:"displayName,omitempty"`
	Memo        string    `json:"memo,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	ExpiresAt   time.Time `json:"expiresAt"`
	RemindAt    time.Time `json:"-"`
	Reminded    bool      `json:"-"`
	ResolvedAt  time.Time `json:"resolvedAt,omitzero"`
}

func newPending(m ledger.Movement, from, to, fromName string) PendingTransfer {
	at := m.At.UTC()
	// The item keeps the times in milliseconds; the response says the same.
	return PendingTransfer{ID: m.ID, From: from, To: to, Amount: m.Amount, Status: StatusPending,
		FromName: fromName, DisplayName: m.DisplayName, Memo: m.Memo, CreatedAt: at,
		ExpiresAt: at.Add(PendingLifetime).Truncate(time.Millisecond), RemindAt: at.Add(PendingRemindAt).Truncate(time.Millisecond)}
}

// hold is the ledger hold behind p.
func (p PendingTransfer) hold() ledger.Hold {
	return ledger.Hold{ID: p.ID, Debit: ledger.MainAccount(p.From), DebitKind: ledger.KindMain,
		Credit: ledger.MainAccount(p.To), CreditKind: ledger.KindMain, Amount: p.Amount, Timeout: p.ExpiresAt, CreatedAt: p.CreatedAt}
}

func transferKey(id string) ddb.Item { return ddb.Key(pkTransfer+id, skTransfer) }

func pendingFromItem(item ddb.Item) (PendingTransfer, error) {
	d := ddb.Decode(item)
	p := PendingTransfer{
		ID: d.MustS("transferId"), From: d.MustS("from"), To: d.MustS("to"), Amount: d.MustN("amount"),
		Status: d.MustS("status"), FromName: d.S("fromName"), DisplayName: d.S("displayName"), Memo: d.S("memo"),
		CreatedAt: d.MustTime("createdAt"), ExpiresAt: d.Millis("expiresAtMs"), RemindAt: d.Millis("remindAtMs"),
		Reminded: d.Has("remindedAt"), ResolvedAt: d.Time("resolvedAt"),
	}
	return p, d.Err()
}

// facts are the attributes the transfer item and its pointers share.
func (p PendingTransfer) facts(item ddb.Item) ddb.Item {
	item["transferId"] = ddb.S(p.ID)
	item["from"] = ddb.S(p.From)
	item["to"] = ddb.S(p.To)
	item["amount"] = ddb.N(p.Amount)
	item["status"] = ddb.S(p.Status)
	item["createdAt"] = ddb.Time(p.CreatedAt)
	item["expiresAtMs"] = ddb.Millis(p.ExpiresAt)
	item["remindAtMs"] = ddb.Millis(p.RemindAt)
	ddb.SetStrings(item, map[string]string{"fromName": p.FromName, "displayName": p.DisplayName, "memo": p.Memo})
	if !p.ResolvedAt.IsZero() {
		item["resolvedAt"] = ddb.Time(p.ResolvedAt)
		item[ddb.AttrTTL] = ddb.Epoch(p.ResolvedAt.Add(ledger.HistoryRetention))
	}
	return item
}

func pointerSK(prefix, status, id string) string { return prefix + status + "#" + id }

// pointers puts the sender's and the receiver's list pointers for p's
// status and, if old is set, deletes the ones for status old.
func pointers(tx *ledger.Tx, p PendingTransfer, old string) {
	for _, side := range []struct{ user, prefix string }{{p.From, skSent}, {p.To, skRecv}} {
		if old != "" {
			tx.Delete(ddb.Key(ledger.UserPK(side.user), pointerSK(side.prefix, old, p.ID)), ledger.Cond{}, nil)
		}
		tx.Put(p.facts(ddb.Key(ledger.UserPK(side.user), pointerSK(side.prefix, p.Status, p.ID))), ledger.Cond{}, nil)
	}
}

func (p PendingTransfer) notify(tx *ledger.Tx, userID, typ string, at time.Time) {
	notify.Add(tx, notify.Notification{UserID: userID, Type: typ, At: at, Data: map[string]any{
		"transferId": p.ID, "amount": p.Amount, "from": p.From, "to": p.To, "fromName": p.FromName,
		"displayName": p.DisplayName, "transferExpiresAt": p.ExpiresAt,
	}})
}

// createPending adds a pending transfer: the hold on the sender's main
// account (with the automatic charge, if any), the receiver's main account
// check, the transfer item (due for its reminder), both pointers and the
// receiver's notification.
func createPending(tx *ledger.Tx, p PendingTransfer, charge ledger.AutoCharge) {
	tx.HoldWithAutoCharge(p.hold(), charge, "pending transfer "+p.ID)
	tx.RequireAccount(ledger.MainAccount(p.To), ledger.KindMain)
	item := p.facts(transferKey(p.ID))
	duePending.Set(item, p.RemindAt, p.ID)
	tx.Put(item, ledger.Cond{Expr: "attribute_not_exists(PK)"}, func(ddb.Item) error {
		return fmt.Errorf("transfers: id collision for transfer %s", p.ID)
	})
	pointers(tx, p, "")
	p.notify(tx, p.To, NotifPendingReceived, p.CreatedAt)
}

// ---- the sender's setting ----

// defaultChanged is the internal signal of a sender's default that is not
// the variant tried; pending is what it is now.
type defaultChanged struct{ pending bool }

func (e *defaultChanged) Error() string   { return "transfers: the sender's default changed" }
func (e *defaultChanged) Transient() bool { return true }

// requireDefault adds a check that the sender's transfers are pending by
// default (pending) or not (a user without settings: not pending).
func requireDefault(tx *ledger.Tx, userID string, pending bool) {
	cond := "attribute_not_exists(" + attrDefault + ") OR " + attrDefault + " = :b"
	if pending {
		cond = attrDefault + " = :b"
	}
	tx.Check(ddb.Key(ledger.UserPK(userID), skSettings), ledger.Cond{Expr: cond, Values: ddb.Item{":b": ddb.Bool(pending)}},
		func(old ddb.Item) error { return &defaultChanged{pending: ddb.Decode(old).Bool(attrDefault)} })
}

// Settings is the user's settings as stored and returned.
type Settings struct {
	PendingTransfers bool `json:"pendingTransfers"`
}

// SettingsRequest is the body of PUT /me/settings.
type SettingsRequest struct {
	PendingTransfers *bool `json:"pendingTransfers" openapi:"required" doc:"true: my transfers wait for the receiver by default"`
}

// UpdateSettings is PUT /me/settings {pendingTransfers: bool}: the default
// for the caller's outgoing transfers (true: they wait for the receiver).
func UpdateSettings(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "update-settings", httpapi.Body(func(ctx context.Context, r *httpapi.Request, in SettingsRequest) (*httpapi.Response, error) {
		if in.PendingTransfers == nil {
			return nil, domainerr.Field("pendingTransfers", "pendingTransfers (true or false) is required")
		}
		item := ddb.Key(ledger.UserPK(r.Caller), skSettings)
		item[attrDefault] = ddb.Bool(*in.PendingTransfers)
		item["updatedAt"] = ddb.Time(d.Clock.Now())
		tx := &ledger.Tx{}
		tx.Put(item, ledger.Cond{}, nil)
		if err := d.Ledger.Commit(ctx, tx); err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusOK, Settings{PendingTransfers: *in.PendingTransfers})
	}))
}

// ---- accept, reject, cancel ----

// Resolutions a participant may choose.
const (
	actionAccept = "accept" // receiver
	actionReject = "reject" // receiver
	actionCancel = "cancel" // sender
)

// ResolveResponse is what a resolution returns (and replays).
type ResolveResponse struct {
	PendingTransfer
	// MovementID names the history entries of an accepted transfer.
	MovementID string `json:"movementId,omitempty"`
}

// Accept is POST /transfers/{id}/accept (the receiver): the money posts to
// their main account.
func Accept(d httpapi.Services) httpapi.LambdaHandler {
	return resolve(d, "accept-transfer", actionAccept)
}

// Reject is POST /transfers/{id}/reject (the receiver): the hold is released.
func Reject(d httpapi.Services) httpapi.LambdaHandler {
	return resolve(d, "reject-transfer", actionReject)
}

// Cancel is POST /transfers/{id}/cancel (the sender): the hold is released.
func Cancel(d httpapi.Services) httpapi.LambdaHandler {
	return resolve(d, "cancel-transfer", actionCancel)
}

// resolve reads the transfer (one GetItem: its amount and parties), then
// commits ONE transaction whose conditions re-check everything the read
// told: still pending, the caller's role, the amount, not expired.
func resolve(d httpapi.Services, function, action string) httpapi.LambdaHandler {
	return httpapi.Handle(d, function, httpapi.Money(d, func(ctx context.Context, r *httpapi.Request) (*httpapi.Movement, error) {
		if err := r.EmptyBody(); err != nil {
			return nil, err
		}
		id := r.PathParam("id")
		notFound := ErrTransferNotFound.With("you have no pending transfer %s you can %s", id, action)
		if !ddb.ValidTimeID(id) {
			return nil, notFound
		}
		item, err := d.Table.Get(ctx, transferKey(id))
		if err != nil {
			return nil, err
		}
		if item == nil {
			return nil, notFound
		}
		p, err := pendingFromItem(item)
		if err != nil {
			return nil, err
		}
		role, status, notifyUser, notif := p.To, StatusAccepted, p.From, NotifAccepted
		switch action {
		case actionReject:
			status, notif = StatusRejected, NotifRejected
		case actionCancel:
			role, status, notifyUser, notif = p.From, StatusCancelled, p.To, NotifCancelled
		}
		if role != r.Caller {
			return nil, notFound
		}
		now := d.Clock.Now()
		tx := &ledger.Tx{}
		p.transition(tx, status, now, map[string]string{"role": roleAttr(action), "caller": r.Caller})
		mid := ""
		h := p.hold()
		if action == actionAccept {
			mid = ledger.NewMovementID(now)
			tx.PostHold(h, p.Amount, ledger.Movement{ID: mid, Type: TypeTransfer, At: now,
				FromLabel: p.FromName, ToLabel: p.To, Originator: p.FromName, DisplayName: p.DisplayName, Memo: p.Memo})
		} else {
			tx.VoidHold(h, now)
		}
		resolved := p
		resolved.Status, resolved.ResolvedAt = status, now.UTC()
		pointers(tx, resolved, StatusPending)
		resolved.notify(tx, notifyUser, notif, now)
		return &httpapi.Movement{Tx: tx, Status: http.StatusCreated, Body: ResolveResponse{PendingTransfer: resolved, MovementID: mid}}, nil
	}))
}

func roleAttr(action string) string {
	if action == actionCancel {
		return "from"
	}
	return "to"
}

// transition adds the transfer item's update from pending to status at
// now, on the conditions of its kind: a participant's resolution needs the
// caller in the role and now before the expiry; the expiry needs now at or
// after it. Every variant re-checks the amount the read saw.
func (p PendingTransfer) transition(tx *ledger.Tx, status string, now time.Time, participant map[string]string) {
	cond := "#s = :pending AND amount = :amount AND #f = :from AND "
	names := map[string]string{"#s": "status", "#b": ddb.AttrDuePK, "#d": ddb.AttrDueSK, "#f": "from"}
	vals := ddb.Item{
		":status": ddb.S(status), ":at": ddb.Time(now), ":ttl": ddb.Epoch(now.Add(ledger.HistoryRetention)),
		":pending": ddb.S(StatusPending), ":now": ddb.Millis(now), ":amount": ddb.N(p.Amount), ":from": ddb.S(p.From),
	}
	if participant != nil {
		cond += "#role = :caller AND expiresAtMs > :now"
		names["#role"] = participant["role"]
		vals[":caller"] = ddb.S(participant["caller"])
	} else {
		cond += "expiresAtMs <= :now"
	}
	tx.Update(transferKey(p.ID), "SET #s = :status, resolvedAt = :at, expiresAt = :ttl REMOVE #b, #d",
		ledger.Cond{Expr: cond, Values: vals, Names: names}, func(old ddb.Item) error {
			if participant == nil {
				return errNotDue
			}
			return refusal(p.ID, old, participant["role"], participant["caller"], now)
		})
}

func refusal(id string, old ddb.Item, role, caller string, now time.Time) error {
	d := ddb.Decode(old)
	if len(old) == 0 || d.S(role) != caller {
		return ErrTransferNotFound.With("you have no pending transfer %s you can do this to", id)
	}
	expired := ErrExpired.With("transfer %s expired at %s", id, d.Millis("expiresAtMs").Format(time.RFC3339))
	switch d.S("status") {
	case StatusAccepted:
		return ErrAccepted.With("transfer %s was accepted at %s", id, d.S("resolvedAt"))
	case StatusRejected:
		return ErrRejected.With("transfer %s was rejected at %s", id, d.S("resolvedAt"))
	case StatusCancelled:
		return ErrCancelled.With("transfer %s was cancelled at %s", id, d.S("resolvedAt"))
	case StatusExpired:
		return expired
	}
	if !now.Before(d.Millis("expiresAtMs")) {
		return expired
	}
	return fmt.Errorf("transfers: transfer %s changed under its resolution", id) // amount mismatch: never written
}

// ---- lists ----

// TransferList is a page of GET /transfers.
type TransferList struct {
	Transfers  []PendingTransfer `json:"transfers"`
	NextCursor string            `json:"nextCursor,omitempty"`
}

// ListTransfers is GET /transfers?role=sent|received&status=pending|...&limit=&cursor=:
// newest first, one Query per page.
func ListTransfers(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "list-transfers", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		role, ok := httpapi.QueryIn(r, "role", RoleSent, RoleSent, RoleReceived)
		if !ok {
			return nil, domainerr.Field("role", "role must be sent or received")
		}
		status, ok := httpapi.QueryIn(r, "status", StatusPending, Statuses...)
		if !ok {
			return nil, domainerr.Field("status", "status must be one of %v", Statuses)
		}
		page, err := httpapi.Page(r)
		if err != nil {
			return nil, err
		}
		prefix := skSent
		if role == RoleReceived {
			prefix = skRecv
		}
		prefix += status + "#"
		items, next, err := d.Table.QueryPage(ctx, ddb.Listing{
			Name: "transfers", Bind: []string{r.Caller, role, status}, PartitionAttr: ddb.AttrPK, Partition: ledger.UserPK(r.Caller),
			Lower: prefix, Upper: prefix + "~", NewestFirst: true, Now: d.Clock.Now(),
		}, page)
		if err != nil {
			return nil, err
		}
		ts := make([]PendingTransfer, 0, len(items))
		for _, it := range items {
			p, err := pendingFromItem(it)
			if err != nil {
				return nil, err
			}
			ts = append(ts, p)
		}
		return httpapi.JSON(http.StatusOK, TransferList{Transfers: ts, NextCursor: next})
	})
}

// ---- sweep ----

// SweepSummary is what one sweep run did.
type SweepSummary struct {
	httpapi.DueTally
	Reminded int `json:"reminded"`
	Expired  int `json:"expired"`
}

// errNotDue means another run (or a participant) got there first.
var errNotDue = fmt.Errorf("transfers: no longer due")

// PendingJob is the pending-sweep scheduled job. It reads the due index for
// every open pending transfer due at or before now (so missed runs catch
// up) and, for each, expires it if its expiry has passed (hold released,
// sender and receiver notified) or else sends the receiver's one reminder.
// Idempotent: every action is a transaction conditioned on the state it
// changes, so a second run changes nothing.
func PendingJob(d httpapi.Services) httpapi.DueJob[SweepSummary] {
	return httpapi.DueJob[SweepSummary]{
		Services: d,
		Name:     "pending sweep",
		Passes: []httpapi.DuePass[SweepSummary]{{Kinds: duePending.Kinds(), Fetch: true,
			Each: func(ctx context.Context, item ddb.Item, now time.Time, sum *SweepSummary) error {
				return sweepOne(ctx, d, item, now, sum)
			}}},
		Counts: func(sum *SweepSummary) []any { return []any{"reminded", sum.Reminded, "expired", sum.Expired} },
	}
}

// sweepOne expires one due pending transfer whose expiry has passed, or
// else sends the receiver's one reminder.
func sweepOne(ctx context.Context, d httpapi.Services, item ddb.Item, now time.Time, sum *SweepSummary) error {
	p, err := pendingFromItem(item)
	if err != nil || p.Status != StatusPending {
		return err
	}
	tx := &ledger.Tx{}
	if !now.Before(p.ExpiresAt) {
		p.transition(tx, StatusExpired, now, nil)
		tx.ExpireHold(p.hold(), now)
		expired := p
		expired.Status, expired.ResolvedAt = StatusExpired, now
		pointers(tx, expired, StatusPending)
		expired.notify(tx, p.From, NotifExpired, now)
		expired.notify(tx, p.To, NotifExpired, now)
		return commitDue(ctx, d, tx, p.ID, &sum.Expired)
	}
	if p.Reminded {
		return nil
	}
	tx.Update(transferKey(p.ID), "SET remindedAt = :at, #d = :due", ledger.Cond{
		Expr:   "#s = :pending AND attribute_not_exists(remindedAt) AND expiresAtMs > :now",
		Names:  map[string]string{"#s": "status", "#d": ddb.AttrDueSK},
		Values: ddb.Item{":at": ddb.Time(now), ":due": ddb.S(ddb.DueAt(p.ExpiresAt, p.ID)), ":pending": ddb.S(StatusPending), ":now": ddb.Millis(now)},
	}, func(ddb.Item) error { return errNotDue })
	p.notify(tx, p.To, NotifReminder, now)
	return commitDue(ctx, d, tx, p.ID, &sum.Reminded)
}

// commitDue commits the sweep's action on transfer id and counts it in
// done; a transfer that is no longer due is neither an error nor counted.
func commitDue(ctx context.Context, d httpapi.Services, tx *ledger.Tx, id string, done *int) error {
	switch err := d.Ledger.Commit(ctx, tx); err {
	case nil:
		*done++
		return nil
	case errNotDue:
		return nil
	default:
		return fmt.Errorf("transfer %s: %w", id, err)
	}
}
