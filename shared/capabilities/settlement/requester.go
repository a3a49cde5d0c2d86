package settlement

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/ledger"
)

// update assembles an update expression of the settlement item.
type update struct {
	set, remove, add []string
	vals             ddb.Item
	names            map[string]string
}

func newUpdate() *update {
	return &update{vals: ddb.Item{}, names: map[string]string{}}
}

func (u *update) expr() string {
	var parts []string
	for _, c := range []struct {
		verb    string
		clauses []string
	}{{"SET", u.set}, {"REMOVE", u.remove}, {"ADD", u.add}} {
		if len(c.clauses) > 0 {
			parts = append(parts, c.verb+" "+strings.Join(c.clauses, ", "))
		}
	}
	return strings.Join(parts, " ")
}

// due sets the due entry after needs.
func (u *update) due(after state, now time.Time) {
	after.setDue(now, &u.set, &u.remove, u.vals, u.names)
}

// Cancel is POST /settlements/{id}/cancel (the requester): the open shares
// are released; paid shares stay paid, declined stay declined (see the
// package doc). One Query (the settlement), ONE transaction (the
// settlement: open -> cancelled, out of reach of any payment from then on;
// the requester's pointer), then each open share is cancelled with its
// pointer and its participant's notification (the sweep finishes if this
// stops). Returns the settlement as it stands afterwards (one more Query):
// what was paid before the cancellation, and nothing else, is collected.
func Cancel(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "cancel-settlement", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		if err := r.EmptyBody(); err != nil {
			return nil, err
		}
		sid, notFound, err := pathSettlement(r, " you can cancel")
		if err != nil {
			return nil, err
		}
		l, err := load(ctx, d, sid)
		if err != nil {
			return nil, err
		}
		if l == nil || l.st.Requester != r.Caller {
			return nil, notFound
		}
		if l.st.Status != StatusOpen {
			return nil, terminal(l.st)
		}
		now := d.Clock.Now().UTC()
		after := l.st
		after.Status, after.CancelledAt, after.AutoRemindAt = StatusCancelled, now, time.Time{}
		u := newUpdate()
		u.names["#s"], u.names["#req"] = "status", "requester"
		u.set = append(u.set, "#s = :cancelled", "cancelledAt = :at")
		u.remove = append(u.remove, "autoRemindAtMs")
		u.add = append(u.add, "workRev :one")
		u.due(after, now)
		u.vals[":cancelled"], u.vals[":at"], u.vals[":one"] = ddb.S(StatusCancelled), ddb.Time(now), ddb.N(1)
		u.vals[":open"], u.vals[":req"] = ddb.S(StatusOpen), ddb.S(r.Caller)
		tx := &ledger.Tx{}
		tx.Update(metaKey(sid), u.expr(), ledger.Cond{Expr: "#s = :open AND #req = :req", Values: u.vals, Names: u.names},
			func(old ddb.Item) error {
				if err := requestRefusal(sid, old, r.Caller); err != nil {
					return err
				}
				return fmt.Errorf("settlement %s: cancel refused by an open settlement", sid)
			})
		moveOut(tx, l.st.facts, StatusCancelled, now)
		if err := d.Ledger.Commit(ctx, tx); err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil, notFound
			}
			return nil, err
		}
		if _, werr := work(ctx, d, sid); werr != nil {
			d.Log.WarnContext(ctx, "settlement: cancellation left to the sweep", "settlement", sid, "error", werr.Error())
		}
		if l, err = load(ctx, d, sid); err != nil || l == nil {
			return nil, fmt.Errorf("settlement %s: read after cancel: %v", sid, err)
		}
		v, _ := l.view(r.Caller)
		return httpapi.JSON(http.StatusOK, v)
	})
}

// terminal is the refusal of acting on a settlement that is no longer open.
func terminal(st state) error {
	if st.Status == StatusCancelled {
		return refuse(ErrCancelled, map[string]any{"cancelledAt": st.CancelledAt}, "settlement %s was cancelled at %s",
			st.ID, st.CancelledAt.Format(time.RFC3339))
	}
	return refuse(ErrCompleted, map[string]any{"completedAt": st.CompletedAt}, "settlement %s was completed at %s",
		st.ID, st.CompletedAt.Format(time.RFC3339))
}

// RemindResponse is what a reminder returns.
type RemindResponse struct {
	SettlementID string    `json:"settlementId"`
	RemindedAt   time.Time `json:"remindedAt"`
	// Reminded is how many open participants this request reminded (the
	// sweep reminds the rest if it stopped early).
	Reminded int `json:"reminded"`
	// NextReminderAt is the earliest time of the next reminder.
	NextReminderAt time.Time `json:"nextReminderAt"`
}

// Remind is POST /settlements/{id}/remind (the requester): every open
// participant gets a reminder, at most once an hour per request (429
// settlement_remind_too_soon, with retryAfterSeconds). ONE transaction
// records the reminder on the settlement (the rate limit is its
// condition), then each open share is reminded with its participant's
// notification, once per reminder.
func Remind(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "remind-settlement", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		if err := r.EmptyBody(); err != nil {
			return nil, err
		}
		sid, notFound, err := pathSettlement(r, " you can remind")
		if err != nil {
			return nil, err
		}
		now := d.Clock.Now().UTC()
		u := newUpdate()
		u.names["#s"], u.names["#req"] = "status", "requester"
		u.set = append(u.set, "remindedAtMs = :now", "remindReason = :why")
		u.add = append(u.add, "remindSeq :one", "workRev :one")
		u.due(state{facts: facts{ID: sid}, Status: StatusOpen, RemindSeq: 1}, now) // work is now pending
		u.vals[":now"], u.vals[":why"], u.vals[":one"] = ddb.Millis(now), ddb.S(ReasonRequester), ddb.N(1)
		u.vals[":open"], u.vals[":req"], u.vals[":since"] = ddb.S(StatusOpen), ddb.S(r.Caller), ddb.Millis(now.Add(-RemindEvery))
		tx := &ledger.Tx{}
		tx.Update(metaKey(sid), u.expr(), ledger.Cond{
			Expr:   "attribute_exists(PK) AND #req = :req AND #s = :open AND (attribute_not_exists(remindedAtMs) OR remindedAtMs <= :since)",
			Values: u.vals, Names: u.names,
		}, func(old ddb.Item) error {
			if err := requestRefusal(sid, old, r.Caller); err != nil {
				if errors.Is(err, ErrNotFound) {
					return notFound
				}
				return err
			}
			next := ddb.Decode(old).Millis("remindedAtMs").Add(RemindEvery)
			wait := int64(next.Sub(now).Seconds()) + 1
			return refuse(ErrRemindTooSoon, map[string]any{"retryAfterSeconds": wait, "nextReminderAt": next.Format(time.RFC3339)},
				"settlement %s was reminded less than an hour ago; the next reminder can go at %s", sid, next.Format(time.RFC3339))
		})
		if err := d.Ledger.Commit(ctx, tx); err != nil {
			return nil, err
		}
		done, werr := work(ctx, d, sid)
		if werr != nil {
			d.Log.WarnContext(ctx, "settlement: reminders left to the sweep", "settlement", sid, "error", werr.Error())
		}
		return httpapi.JSON(http.StatusOK, RemindResponse{SettlementID: sid, RemindedAt: now, Reminded: done.Reminded, NextReminderAt: now.Add(RemindEvery)})
	})
}
