// Package settlement is splitting a bill: a requester asks participants to
// pay their part of a total; shares are computed once, at creation
// (equal, random or explicit, exact to the won: money.EqualShares,
// money.RandomShares), stored and never recomputed; each participant pays
// their share (one movement from their main account into the requester's,
// with the automatic charge transfers use) or declines it; the requester
// sees the progress, may remind the open participants (at most once an
// hour) or cancel the open remainder; a scheduled job reminds the open
// participants when the due date is near.
//
//	item           PK                   SK                          notes
//	settlement     SETTLEMENT#<sid>     META                        requester, requesterName, total, split, memo, createdAt,
//	                                                                dueAtMs; status; counters: participantCount, publishable,
//	                                                                publishedCount, openCount, paidCount, declinedCount,
//	                                                                collected, selfAmount; work: remindSeq, remindSentSeq,
//	                                                                remindReason, remindedAtMs, autoRemindAtMs, cancelDone, workRev;
//	                                                                due (DUE#settlement#nn) while work is pending
//	plan           SETTLEMENT#<sid>     PLAN                        users, amounts: the shares as computed, in request order (immutable)
//	share          SETTLEMENT#<sid>     SHARE#<uid>                 userId, amount, status, self, remindSeq, paidAt, movementId,
//	                                                                autoCharged, declinedAt, cancelledAt, + the settlement's facts
//	received list  USER#<participant>   SETTLE_IN#<status>#<sid>    the share's status (open|paid|declined|cancelled) in the key
//	requested list USER#<requester>     SETTLE_OUT#<status>#<sid>   the request's status (open|completed|cancelled) in the key
//
// sid is "sr_" (settlement request) + a time-ordered id, so each list sorts by creation time;
// the status is part of a pointer's KEY (a change deletes the old pointer
// and puts the new one in the same transaction), so a page of
// ?status=open costs the page, as in shared/capabilities/transfers.
//
// Paying a share is ONE transaction: the settlement item (status open;
// counters), the share (open -> paid), the movement (with the automatic
// charge and the day's charge counter if the balance is short), both list
// pointers of the share, the requester's notification and, for the last
// open share, the completion (status, the requester's pointer, the
// completion notification). Declining is the same without the money.
//
// The last share completes the request exactly once: the settlement item
// counts the open shares, and a resolution's update is conditioned either
// on openCount > 1 (not the last: ADD -1) or on openCount = 1 (the last:
// ADD -1 and SET status = completed). A resolution first tries "not the
// last"; when the condition fails the refusal carries the counters (an
// internal signal) and the other variant is built. Both are conditions on
// one item, so however many participants pay at once exactly one
// transaction takes openCount from 1 to 0. This touches the settlement
// item on every payment: a request has at most 100 participants, so it is
// small fan-in, and it buys an exact completion, exact counters and the
// request-level refusals (cancelled, completed) while reading nothing but
// the share. On DynamoDB the concurrent payers of one request conflict on
// that item (not on the requester's account: its credits are postings,
// shared/kernel/ledger) and the kernel retries them: `make bench` runs the
// scenario through the contention model too (README, Performance).
//
// Work that cannot fit one transaction is recorded on the settlement item
// and done by the handler that caused it, right after its commit; the
// settlement is put on the due index (DUE#settlement#nn) meanwhile, so the
// settlement-sweep job finishes whatever a crash left (work.go):
//   - publishing: a request for more participants than one transaction
//     holds (23 or 24) publishes the rest (share, pointer, notification)
//     in chunks of 33, counted by publishedCount; until a share is
//     published, paying it is 404 (the participant has not been told of
//     it yet);
//   - cancellation: each open share becomes cancelled with its pointer and
//     the participant's notification, one transaction per share;
//   - reminders: each open share is reminded once per reminder
//     (remindSeq), with the participant's notification.
//
// Decisions:
//   - Cancelling releases the open shares only: paid shares stay paid (a
//     payment is a finished movement the participant chose; refunding it
//     would be a new movement out of the requester's account, which may no
//     longer hold the money; the requester can send it back with a
//     transfer), declined shares stay declined.
//   - Completed means no share is open any more (each paid or declined);
//     collected says how much came in.
//   - The requester may be a participant: their share is settled
//     ("paid", self) at creation without moving money, and counted in
//     paidCount from then on (the counts always sum to the shares), but
//     not in collected (money that came in). At least one other
//     participant is required; at most 100 participants.
//   - Reminders (the requester's and the automatic one) share the limit of
//     one per hour per request. The automatic reminder is due 24 h before
//     dueAt (no earlier than 1 h after creation; none if that is not before
//     dueAt); a requester's reminder within the hour before covers it.
//     Past the due date the request stays open.
//   - Someone who is neither the requester nor a participant gets 404
//     settlement_not_found, as for a settlement that does not exist.
//     Only a share's participant pays or declines it: the requester or a
//     participant naming any other share (or the requester, without a
//     share, their own) gets 403 settlement_not_your_share, the same
//     whether the named user has a share or not.
//   - Refusal precedence for a share: the request's state (cancelled,
//     completed) first, then the share's (paid, declined).
//   - Only creating and paying need an Idempotency-Key (a double-tap must
//     not ask friends twice, nor pay twice); declining, cancelling and
//     reminding are answered 409/429 when repeated.
package settlement

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/capabilities/notify"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/ledger"
)

// Limits.
const (
	MaxParticipants = 100
	MaxDueAhead     = 90 * 24 * time.Hour
	// RemindEvery is the least time between two reminders of a request.
	RemindEvery = time.Hour
	// AutoRemindLead is how long before dueAt the automatic reminder goes.
	AutoRemindLead = 24 * time.Hour
	// workGrace is how long the sweep leaves recorded work to the handler
	// that recorded it.
	workGrace = 2 * time.Minute
)

// Split kinds.
const (
	SplitEqual    = "equal"
	SplitRandom   = "random"
	SplitExplicit = "explicit"
)

// Request statuses.
const (
	StatusOpen      = "open"
	StatusCompleted = "completed"
	StatusCancelled = "cancelled"
)

// Share statuses (open and cancelled as above).
const (
	SharePaid     = "paid"
	ShareDeclined = "declined"
)

// RequestStatuses and ShareStatuses are the valid list filters.
var (
	RequestStatuses = []string{StatusOpen, StatusCompleted, StatusCancelled}
	ShareStatuses   = []string{StatusOpen, SharePaid, ShareDeclined, StatusCancelled}
)

// List roles.
const (
	RoleReceived  = "received"
	RoleRequested = "requested"
)

// TypeSettlement is the movement type history shows.
const TypeSettlement = "settlement"

// Notification types.
const (
	NotifRequested = "settlement_requested" // participant: a share to pay
	NotifReminder  = "settlement_reminder"  // participant: reason "requester" or "due"
	NotifCancelled = "settlement_cancelled" // participant whose share was open
	NotifPaid      = "settlement_paid"      // requester: a participant paid
	NotifDeclined  = "settlement_declined"  // requester: a participant declined
	NotifCompleted = "settlement_completed" // requester: no share is open any more
)

// Reminder reasons.
const (
	ReasonRequester = "requester"
	ReasonDue       = "due"
)

// Refusals.
var (
	ErrNotFound           = domainerr.New("settlement_not_found")
	ErrNotYourShare       = domainerr.New("settlement_not_your_share")
	ErrDuplicate          = domainerr.New("settlement_duplicate_participant")
	ErrTooMany            = domainerr.New("settlement_too_many_participants")
	ErrAmountsMismatch    = domainerr.New("settlement_amounts_mismatch")
	ErrUnknownParticipant = domainerr.New("settlement_unknown_participant")
	ErrTotalTooSmall      = domainerr.New("settlement_total_too_small")
	ErrSharePaid          = domainerr.New("settlement_share_paid")
	ErrShareDeclined      = domainerr.New("settlement_share_declined")
	ErrCancelled          = domainerr.New("settlement_cancelled")
	ErrCompleted          = domainerr.New("settlement_completed")
	ErrRemindTooSoon      = domainerr.New("settlement_remind_too_soon")
)

// refusal is a code with a sentence and facts for the problem document.
type refusal struct {
	code    *domainerr.Error
	detail  string
	members map[string]any
}

func refuse(code *domainerr.Error, members map[string]any, format string, args ...any) *refusal {
	return &refusal{code: code, detail: fmt.Sprintf(format, args...), members: members}
}

func (e *refusal) Error() string           { return e.code.Code + ": " + e.detail }
func (e *refusal) ErrorCode() string       { return e.code.Code }
func (e *refusal) Is(t error) bool         { return e.code.Is(t) }
func (e *refusal) Members() map[string]any { return e.members }
func (e *refusal) DetailText() string      { return e.detail }

const (
	pkSettlement = "SETTLEMENT#"
	skMeta       = "META"
	skPlan       = "PLAN"
	skShare      = "SHARE#"
	skIn         = "SETTLE_IN#"
	skOut        = "SETTLE_OUT#"
	idPrefix     = "sr_"
)

// dueKind spreads settlements' pending work and reminders over 16
// due-index partitions, by a hash of the settlement id.
var dueKind = ddb.DueKind{Name: "settlement", Shards: 16}

// NewID is a new settlement id: time-ordered.
func NewID(at time.Time) string { return idPrefix + ddb.NewTimeID(at) }

// ValidID reports whether s has a settlement id's shape.
func ValidID(s string) bool {
	return strings.HasPrefix(s, idPrefix) && ddb.ValidTimeID(s[len(idPrefix):])
}

func metaKey(sid string) ddb.Item            { return ddb.Key(pkSettlement+sid, skMeta) }
func planKey(sid string) ddb.Item            { return ddb.Key(pkSettlement+sid, skPlan) }
func shareKey(sid, uid string) ddb.Item      { return ddb.Key(pkSettlement+sid, skShare+uid) }
func inKey(uid, status, sid string) ddb.Item { return ddb.Key(ledger.UserPK(uid), skIn+status+"#"+sid) }
func outKey(uid, status, sid string) ddb.Item {
	return ddb.Key(ledger.UserPK(uid), skOut+status+"#"+sid)
}

// reference is what both history entries of a payment name.
func reference(sid string) string { return "settlement " + sid }

// ---- the settlement's facts and state ----

// facts are a settlement's immutable facts, copied onto its shares and
// pointers so a payment or a list reads one item.
type facts struct {
	ID, Requester, RequesterName, Split, Memo string
	Total                                     int64
	ParticipantCount                          int64
	CreatedAt                                 time.Time
	DueAt                                     time.Time // zero: none
}

func (f facts) put(item ddb.Item) ddb.Item {
	item["settlementId"] = ddb.S(f.ID)
	item["requester"] = ddb.S(f.Requester)
	item["total"] = ddb.N(f.Total)
	item["participantCount"] = ddb.N(f.ParticipantCount)
	item["createdAt"] = ddb.Time(f.CreatedAt)
	ddb.SetStrings(item, map[string]string{"requesterName": f.RequesterName, "memo": f.Memo, "split": f.Split})
	if !f.DueAt.IsZero() {
		item["dueAtMs"] = ddb.Millis(f.DueAt)
	}
	return item
}

func factsFrom(d *ddb.Decoder) facts {
	f := facts{ID: d.MustS("settlementId"), Requester: d.MustS("requester"), RequesterName: d.S("requesterName"),
		Split: d.S("split"), Memo: d.S("memo"), Total: d.MustN("total"), ParticipantCount: d.MustN("participantCount"),
		CreatedAt: d.MustTime("createdAt")}
	if d.Has("dueAtMs") {
		f.DueAt = d.Millis("dueAtMs")
	}
	return f
}

// state is the settlement item: facts, status, counters and recorded work.
type state struct {
	facts
	Status                   string
	Publishable, Published   int64 // shares other than the requester's; of which written
	Open, Paid, Declined     int64
	Collected, SelfAmount    int64
	RemindSeq, RemindSentSeq int64
	RemindReason             string
	RemindedAt, AutoRemindAt time.Time
	CancelDone               bool
	Rev                      int64
	CompletedAt, CancelledAt time.Time
	dueAt                    string // the due index's sort key as stored ("" if none)
}

func stateFromItem(item ddb.Item) (state, error) {
	d := ddb.Decode(item)
	st := state{facts: factsFrom(d), Status: d.MustS("status"),
		Publishable: d.MustN("publishable"), Published: d.MustN("publishedCount"),
		Open: d.MustN("openCount"), Paid: d.MustN("paidCount"), Declined: d.MustN("declinedCount"),
		Collected: d.MustN("collected"), SelfAmount: d.N("selfAmount"),
		RemindSeq: d.N("remindSeq"), RemindSentSeq: d.N("remindSentSeq"), RemindReason: d.S("remindReason"),
		RemindedAt: d.Millis("remindedAtMs"), AutoRemindAt: d.Millis("autoRemindAtMs"), CancelDone: d.Bool("cancelDone"),
		Rev: d.MustN("workRev"), CompletedAt: d.Time("completedAt"), CancelledAt: d.Time("cancelledAt"), dueAt: d.S(ddb.AttrDueSK)}
	return st, d.Err()
}

// workPending reports whether recorded work is left (publishing, a
// cancellation or a reminder to fan out).
func (st state) workPending() bool {
	switch st.Status {
	case StatusOpen:
		return st.Published < st.Publishable || st.RemindSeq > st.RemindSentSeq
	case StatusCancelled:
		return !st.CancelDone
	}
	return false
}

// nextDue is when the sweep must look at st again: soon while work is
// recorded (the handler that recorded it does it first), else at the
// automatic reminder, else never (ok false).
func (st state) nextDue(now time.Time) (at time.Time, ok bool) {
	switch {
	case st.workPending():
		return now.Add(workGrace), true
	case st.Status == StatusOpen && !st.AutoRemindAt.IsZero():
		return st.AutoRemindAt, true
	}
	return time.Time{}, false
}

// setDue adds to an update of the settlement item the due entry st needs
// ("SET ..." clauses and "REMOVE ..." names), with their values.
func (st state) setDue(now time.Time, set, remove *[]string, vals ddb.Item, names map[string]string) {
	names["#b"], names["#d"] = ddb.AttrDuePK, ddb.AttrDueSK
	if at, ok := st.nextDue(now); ok {
		*set = append(*set, "#b = :dueb", "#d = :dued")
		vals[":dueb"], vals[":dued"] = ddb.S(dueKind.Bucket(st.ID)), ddb.S(ddb.DueAt(at, st.ID))
		return
	}
	*remove = append(*remove, "#b", "#d")
}

// plan is the shares as computed at creation, in request order.
type plan struct {
	Users   []string
	Amounts []int64
}

func planFromItem(item ddb.Item) (plan, error) {
	d := ddb.Decode(item)
	p := plan{Amounts: d.Ints("amounts")}
	l, ok := item["users"].(*types.AttributeValueMemberL)
	if !ok {
		return p, fmt.Errorf("settlement: plan %s: users is not a list", keyOf(item))
	}
	for i, v := range l.Value {
		s, ok := v.(*types.AttributeValueMemberS)
		if !ok {
			return p, fmt.Errorf("settlement: plan %s: user %d is not a string", keyOf(item), i)
		}
		p.Users = append(p.Users, s.Value)
	}
	if len(p.Users) != len(p.Amounts) {
		return p, fmt.Errorf("settlement: plan %s: %d users, %d amounts", keyOf(item), len(p.Users), len(p.Amounts))
	}
	return p, d.Err()
}

func keyOf(item ddb.Item) string {
	pk, _ := item[ddb.AttrPK].(*types.AttributeValueMemberS)
	sk, _ := item[ddb.AttrSK].(*types.AttributeValueMemberS)
	if pk == nil || sk == nil {
		return "?"
	}
	return pk.Value + "/" + sk.Value
}

// share is one participant's share as stored.
type share struct {
	facts
	UserID      string
	Amount      int64
	Status      string
	Self        bool
	RemindSeq   int64
	PaidAt      time.Time
	MovementID  string
	AutoCharged int64
	DeclinedAt  time.Time
	CancelledAt time.Time
}

func shareFromItem(item ddb.Item) (share, error) {
	d := ddb.Decode(item)
	s := share{facts: factsFrom(d), UserID: d.MustS("userId"), Amount: d.MustN("amount"), Status: d.MustS("status"),
		Self: d.Bool("self"), RemindSeq: d.N("remindSeq"), PaidAt: d.Time("paidAt"), MovementID: d.S("movementId"),
		AutoCharged: d.N("autoCharged"), DeclinedAt: d.Time("declinedAt"), CancelledAt: d.Time("cancelledAt")}
	return s, d.Err()
}

func (s share) item() ddb.Item {
	item := s.put(shareKey(s.ID, s.UserID))
	item["userId"] = ddb.S(s.UserID)
	item["amount"] = ddb.N(s.Amount)
	item["status"] = ddb.S(s.Status)
	item["remindSeq"] = ddb.N(s.RemindSeq)
	if s.Self {
		item["self"] = ddb.Bool(true)
		item["paidAt"] = ddb.Time(s.PaidAt)
	}
	return item
}

// ---- list pointers ----

// inPointer is a participant's pointer to their share with status.
func inPointer(f facts, uid string, amount int64, status string, at time.Time) ddb.Item {
	item := f.put(inKey(uid, status, f.ID))
	item["userId"] = ddb.S(uid)
	item["amount"] = ddb.N(amount)
	item["status"] = ddb.S(status)
	if status != StatusOpen {
		item["resolvedAt"] = ddb.Time(at)
	}
	return item
}

// outPointer is the requester's pointer to the request with status.
func outPointer(f facts, status string, at time.Time) ddb.Item {
	item := f.put(outKey(f.Requester, status, f.ID))
	item["status"] = ddb.S(status)
	if status != StatusOpen {
		item["resolvedAt"] = ddb.Time(at)
	}
	return item
}

// moveIn moves a participant's pointer from open to status.
func moveIn(tx *ledger.Tx, f facts, uid string, amount int64, status string, at time.Time) {
	tx.Delete(inKey(uid, StatusOpen, f.ID), ledger.Cond{}, nil)
	tx.Put(inPointer(f, uid, amount, status, at), ledger.Cond{}, nil)
}

// moveOut moves the requester's pointer from open to status.
func moveOut(tx *ledger.Tx, f facts, status string, at time.Time) {
	tx.Delete(outKey(f.Requester, StatusOpen, f.ID), ledger.Cond{}, nil)
	tx.Put(outPointer(f, status, at), ledger.Cond{}, nil)
}

// ---- notifications ----

func (f facts) notify(tx *ledger.Tx, userID, typ string, at time.Time, extra map[string]any) {
	f.notifyAs(tx, "", userID, typ, at, extra)
}

// notifyAs is notify with the notification's id ("": a new one).
func (f facts) notifyAs(tx *ledger.Tx, id, userID, typ string, at time.Time, extra map[string]any) {
	data := map[string]any{"settlementId": f.ID, "requester": f.Requester, "requesterName": f.RequesterName,
		"total": f.Total, "memo": f.Memo, "dueAt": f.DueAt}
	for k, v := range extra {
		data[k] = v
	}
	notify.Add(tx, notify.Notification{ID: id, UserID: userID, Type: typ, At: at, Data: data})
}

// strs is a list of strings.
func strs(ss []string) types.AttributeValue {
	l := make([]types.AttributeValue, len(ss))
	for i, s := range ss {
		l[i] = ddb.S(s)
	}
	return &types.AttributeValueMemberL{Value: l}
}
