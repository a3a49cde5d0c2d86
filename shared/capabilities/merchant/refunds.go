package merchant

import (
	"context"
	"errors"
	"net/http"
	"time"

	"minipay/shared/capabilities/webhooks"
	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

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
func Refund(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "refund-order", httpapi.MoneyBody(d, func(ctx context.Context, r *httpapi.Request, in RefundRequest) (*httpapi.Movement, error) {
		f := &refund{d: d, id: r.PathParam("id"), caller: r.Caller, amount: in.Amount.Int64(), reason: string(in.Reason)}
		return f.build(ctx)
	}))
}

type refund struct {
	d          httpapi.Services
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
		case errors.As(err, &changed), webhooks.Hooked(err):
			return f.build(ctx)
		case errors.As(err, &short) && short.Account == from.ID:
			return nil, &MerchantFundsError{Account: from.ID, Available: short.Available, Asked: f.amount}
		}
		return nil, nil
	}}, nil
}
