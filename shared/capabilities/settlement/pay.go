package settlement

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"minipay/shared/capabilities/users"
	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// PayResponse is what paying a share returns (and replays).
type PayResponse struct {
	SettlementID string    `json:"settlementId"`
	UserID       string    `json:"userId"`
	Amount       int64     `json:"amount"`
	Status       string    `json:"status"` // paid
	MovementID   string    `json:"movementId"`
	FromAccount  string    `json:"fromAccount"` // the payer's main account
	ToAccount    string    `json:"toAccount"`   // the requester's main account
	AutoCharged  int64     `json:"autoCharged"` // charged from the payer's bank for this payment; 0 if none
	PaidAt       time.Time `json:"paidAt"`
	// SettlementStatus is open, or completed when this was the last open share.
	SettlementStatus string `json:"settlementStatus"`
}

// DeclineResponse is what declining a share returns.
type DeclineResponse struct {
	SettlementID     string    `json:"settlementId"`
	UserID           string    `json:"userId"`
	Amount           int64     `json:"amount"`
	Status           string    `json:"status"` // declined
	DeclinedAt       time.Time `json:"declinedAt"`
	SettlementStatus string    `json:"settlementStatus"`
}

// maxSwitches bounds how often one resolution switches between "not the
// last share" and "the last share" (then 503: retry).
const maxSwitches = 4

// Pay is POST /settlements/{id}/shares/{userId}/pay (the participant
// userId): their share moves from their main account into the
// requester's, with an automatic charge of the shortfall as transfers do.
// One GetItem (the share: amount, requester, memo), then ONE transaction
// (see the package doc); a second only for the last open share, whose
// first try finds it is the last.
func Pay(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "pay-settlement", httpapi.Money(d, func(ctx context.Context, r *httpapi.Request) (*httpapi.Movement, error) {
		x, err := resolve(ctx, d, r, SharePaid, "pay")
		if err != nil {
			return nil, err
		}
		return x.movement(), nil
	}))
}

// Decline is POST /settlements/{id}/shares/{userId}/decline (the
// participant userId): the share will not be paid. One GetItem, then one
// transaction (two for the last open share). No money moves, so no
// Idempotency-Key: a repeated decline is answered 409
// settlement_share_declined.
func Decline(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "decline-settlement", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		x, err := resolve(ctx, d, r, ShareDeclined, "decline")
		if err != nil {
			return nil, err
		}
		tx, body := x.build()
		err = d.Ledger.Rebuild(ctx, tx, func(_ context.Context, err error) (*ledger.Tx, error) {
			var changed *metaChanged
			if !errors.As(err, &changed) || !x.adjust(changed) {
				return nil, nil
			}
			tx, body = x.build()
			return tx, nil
		})
		if err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusOK, body)
	})
}

// resolve is the resolution (action: SharePaid or ShareDeclined) of the
// share the path names, by its participant (an optional empty body).
func resolve(ctx context.Context, d httpapi.Services, r *httpapi.Request, action, verb string) (*resolution, error) {
	if err := r.EmptyBody(); err != nil {
		return nil, err
	}
	sh, err := readShare(ctx, d, r, verb)
	if err != nil {
		return nil, err
	}
	name, err := users.CallerName(ctx, d, r)
	if err != nil {
		return nil, err
	}
	return &resolution{d: d, sh: sh, action: action, name: name}, nil
}

// readShare reads the share the path names, for its participant. Only
// the participant acts on a share: anyone else who may see the settlement
// (its requester, or a participant whose share is published) is told
// that the share is not theirs (403), whoever the path names, so the
// answer tells a participant nothing about the others; anyone else learns
// nothing (404). The caller's own share costs one GetItem; a refusal at
// most two more.
func readShare(ctx context.Context, d httpapi.Services, r *httpapi.Request, verb string) (share, error) {
	sid, notFound, err := pathSettlement(r, "")
	if err != nil {
		return share{}, err
	}
	uid := r.PathParam("userId")
	sees := isMember
	why := fmt.Sprintf("only the participant may %s their share: the share of %s in settlement %s is not yours", verb, uid, sid)
	if uid == r.Caller {
		item, err := d.Table.Get(ctx, shareKey(sid, uid))
		if err != nil {
			return share{}, err
		}
		if item != nil {
			return shareFromItem(item)
		}
		// No share of the caller's: the requester is told so.
		sees = isRequester
		why = fmt.Sprintf("you are not a participant of your settlement %s: there is no share of yours to %s", sid, verb)
	}
	ok, err := sees(ctx, d, sid, r.Caller)
	if err != nil {
		return share{}, err
	}
	if !ok {
		return share{}, notFound
	}
	return share{}, refuse(ErrNotYourShare, map[string]any{"userId": uid}, "%s", why)
}

// isMember reports whether uid may see settlement sid: a published share
// of theirs, or they requested it.
func isMember(ctx context.Context, d httpapi.Services, sid, uid string) (bool, error) {
	if users.ValidUserID(uid) {
		item, err := d.Table.Get(ctx, shareKey(sid, uid))
		if err != nil || item != nil {
			return item != nil, err
		}
	}
	return isRequester(ctx, d, sid, uid)
}

// isRequester reports whether uid requested settlement sid.
func isRequester(ctx context.Context, d httpapi.Services, sid, uid string) (bool, error) {
	item, err := d.Table.Get(ctx, metaKey(sid))
	if err != nil || item == nil {
		return false, err
	}
	return ddb.Decode(item).S("requester") == uid, nil
}

// counters are the settlement item's counters.
type counters struct{ open, paid, declined, collected int64 }

// metaChanged is the internal signal of a settlement whose open count is
// not what the variant tried assumed (the last share, or not); it carries
// the counters the transaction saw.
type metaChanged struct{ counters }

func (*metaChanged) Error() string {
	return "settlement: the open shares are not what the resolution assumed"
}
func (*metaChanged) Transient() bool { return true }

// resolution is one share's payment or decline being built.
type resolution struct {
	d      httpapi.Services
	sh     share
	action string // SharePaid or ShareDeclined
	name   string // the participant's name
	// last: build the variant that completes the request; seen are the
	// counters it is conditioned on (from the refusal that said so).
	last     bool
	seen     counters
	charge   int64 // automatic charge (pay)
	switches int
}

func (x *resolution) movement() *httpapi.Movement {
	tx, body := x.build()
	return &httpapi.Movement{Tx: tx, Status: http.StatusCreated, Body: body, Retry: x.retry}
}

// adjust takes in what a refusal said about the counters; false: give up.
func (x *resolution) adjust(c *metaChanged) bool {
	if x.switches++; x.switches > maxSwitches {
		return false
	}
	x.last, x.seen = c.open == 1, c.counters
	return true
}

// retry: the other variant when the open count said so; for a payment the
// automatic charge the refusal's balance needs; any other refusal stands.
func (x *resolution) retry(_ context.Context, err error) (*httpapi.Movement, error) {
	var changed *metaChanged
	if errors.As(err, &changed) {
		if !x.adjust(changed) {
			return nil, err
		}
		return x.movement(), nil
	}
	if x.action == SharePaid && !x.sh.Self {
		if charge, ok := ledger.NextAutoCharge(err, x.sh.Amount); ok {
			x.charge = charge
			return x.movement(), nil
		}
	}
	return nil, nil
}

// build is the resolution's transaction, in this order (the first failing
// item decides the refusal): the settlement (open; counters; completion
// if last), the share (open -> paid/declined), the money, the pointers,
// the requester's notifications.
func (x *resolution) build() (*ledger.Tx, any) {
	now := x.d.Clock.Now().UTC()
	sh := x.sh
	tx := &ledger.Tx{}
	x.settlementUpdate(tx, now)

	set := "SET #s = :new, declinedAt = :at"
	vals := ddb.Item{":new": ddb.S(x.action), ":open": ddb.S(StatusOpen), ":u": ddb.S(sh.UserID), ":amount": ddb.N(sh.Amount), ":at": ddb.Time(now)}
	var mid string
	var charge ledger.AutoCharge
	if x.action == SharePaid {
		mid, charge = ledger.PaymentIDs(now, x.charge)
		set = "SET #s = :new, paidAt = :at, movementId = :mid, autoCharged = :charge"
		vals[":mid"], vals[":charge"] = ddb.S(mid), ddb.N(x.charge)
	}
	tx.Update(shareKey(sh.ID, sh.UserID), set, ledger.Cond{Expr: "#s = :open AND userId = :u AND amount = :amount",
		Values: vals, Names: map[string]string{"#s": "status"}}, x.shareRefused)
	if x.action == SharePaid && !sh.Self { // the requester's own share was settled at creation: its condition refuses
		x.money(tx, mid, charge, now)
	}
	notif := NotifDeclined
	if x.action == SharePaid {
		notif = NotifPaid
	}
	moveIn(tx, sh.facts, sh.UserID, sh.Amount, x.action, now)
	// The completion's notification id is the larger: the inbox (newest
	// first) shows it above the payment that caused it.
	notifID, completionID := "", ""
	if x.last {
		notifID, completionID = ledger.TwoMovementIDs(now)
	}
	sh.notifyAs(tx, notifID, sh.Requester, notif, now, map[string]any{"userId": sh.UserID, "name": x.name, "amount": sh.Amount, "movementId": mid})
	status := StatusOpen
	if x.last {
		status = StatusCompleted
		moveOut(tx, sh.facts, StatusCompleted, now)
		c := x.seen
		c.open--
		if x.action == SharePaid {
			c.paid++
			c.collected += sh.Amount
		} else {
			c.declined++
		}
		sh.notifyAs(tx, completionID, sh.Requester, NotifCompleted, now, map[string]any{"collected": c.collected, "paidCount": c.paid, "declinedCount": c.declined})
	}
	if x.action == SharePaid {
		return tx, PayResponse{SettlementID: sh.ID, UserID: sh.UserID, Amount: sh.Amount, Status: SharePaid, MovementID: mid,
			FromAccount: ledger.MainAccountID(sh.UserID), ToAccount: ledger.MainAccountID(sh.Requester), AutoCharged: x.charge,
			PaidAt: now, SettlementStatus: status}
	}
	return tx, DeclineResponse{SettlementID: sh.ID, UserID: sh.UserID, Amount: sh.Amount, Status: ShareDeclined, DeclinedAt: now,
		SettlementStatus: status}
}

// money adds the movement of the share from the participant's main account
// to the requester's, with the automatic charge if one is due.
func (x *resolution) money(tx *ledger.Tx, mid string, charge ledger.AutoCharge, now time.Time) {
	sh := x.sh
	to := sh.RequesterName
	if to == "" {
		to = sh.Requester
	}
	m := ledger.Movement{ID: mid, Type: TypeSettlement, Amount: sh.Amount, At: now,
		From: ledger.MainAccount(sh.UserID), FromKind: ledger.KindMain, FromLabel: x.name,
		To: ledger.MainAccount(sh.Requester), ToKind: ledger.KindMain, ToLabel: to,
		Originator: x.name, Memo: sh.Memo, Reference: reference(sh.ID)}
	tx.DebitWithAutoCharge(m, charge, reference(sh.ID))
}

// settlementUpdate adds the settlement item's update: the counters, on
// the condition that it is open, and either not this share's last
// (openCount > 1) or its last (openCount = 1 and the counters as seen):
// then also completed, out of the due index.
func (x *resolution) settlementUpdate(tx *ledger.Tx, now time.Time) {
	sh := x.sh
	names := map[string]string{"#s": "status", "#req": "requester"}
	vals := ddb.Item{":open": ddb.S(StatusOpen), ":req": ddb.S(sh.Requester), ":one": ddb.N(1), ":m1": ddb.N(-1)}
	update := "ADD openCount :m1, declinedCount :one"
	if x.action == SharePaid {
		update = "ADD openCount :m1, paidCount :one, #col :amt"
		vals[":amt"] = ddb.N(sh.Amount)
		names["#col"] = "collected"
	}
	cond := "#s = :open AND #req = :req AND "
	if x.last {
		cond += "openCount = :one AND paidCount = :pc AND declinedCount = :dc AND #col = :c"
		vals[":pc"], vals[":dc"], vals[":c"] = ddb.N(x.seen.paid), ddb.N(x.seen.declined), ddb.N(x.seen.collected)
		names["#col"] = "collected"
		update += ", workRev :one SET #s = :done, completedAt = :at REMOVE #b, #d, autoRemindAtMs"
		vals[":done"], vals[":at"] = ddb.S(StatusCompleted), ddb.Time(now)
		names["#b"], names["#d"] = ddb.AttrDuePK, ddb.AttrDueSK
	} else {
		cond += "openCount > :one"
	}
	tx.Update(metaKey(sh.ID), update, ledger.Cond{Expr: cond, Values: vals, Names: names}, func(old ddb.Item) error {
		if err := requestRefusal(sh.ID, old, sh.Requester); err != nil {
			return err
		}
		o := ddb.Decode(old)
		c := counters{open: o.N("openCount"), paid: o.N("paidCount"), declined: o.N("declinedCount"), collected: o.N("collected")}
		if err := o.Err(); err != nil {
			return err
		}
		return &metaChanged{c}
	})
}

// requestRefusal reads a settlement item that refused: gone, cancelled or
// completed; nil if it is open (the counters decided).
func requestRefusal(sid string, old ddb.Item, requester string) error {
	o := ddb.Decode(old)
	switch {
	case len(old) == 0 || o.S("requester") != requester:
		return ErrNotFound.With("no settlement %s", sid)
	case o.S("status") == StatusCancelled:
		return refuse(ErrCancelled, map[string]any{"cancelledAt": o.S("cancelledAt")}, "settlement %s was cancelled at %s", sid, o.S("cancelledAt"))
	case o.S("status") == StatusCompleted:
		return refuse(ErrCompleted, map[string]any{"completedAt": o.S("completedAt")}, "settlement %s was completed at %s", sid, o.S("completedAt"))
	}
	return nil
}

// shareRefused reads a share that was not open.
func (x *resolution) shareRefused(old ddb.Item) error {
	sh := x.sh
	o := ddb.Decode(old)
	switch o.S("status") {
	case SharePaid:
		if o.Bool("self") {
			return refuse(ErrSharePaid, map[string]any{"paidAt": o.S("paidAt")},
				"your own share of settlement %s was settled when you created it", sh.ID)
		}
		return refuse(ErrSharePaid, map[string]any{"paidAt": o.S("paidAt"), "movementId": o.S("movementId")},
			"your share of settlement %s was paid at %s", sh.ID, o.S("paidAt"))
	case ShareDeclined:
		return refuse(ErrShareDeclined, map[string]any{"declinedAt": o.S("declinedAt")},
			"your share of settlement %s was declined at %s", sh.ID, o.S("declinedAt"))
	case StatusCancelled:
		return refuse(ErrCancelled, nil, "settlement %s was cancelled", sh.ID)
	case "":
		return ErrNotFound.With("no share of yours in settlement %s", sh.ID)
	}
	return fmt.Errorf("settlement: share %s of %s changed under its resolution", sh.UserID, sh.ID)
}
