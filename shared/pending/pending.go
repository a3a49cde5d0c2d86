// Package pending is pending transfers (issue 4) apart from their creation
// (POST /transfers with a pending default or "pending": true, see
// transfers): the sender's setting, accept / reject / cancel, the lists, the
// notification inbox and the sweep that reminds and expires.
//
// Money rules: creating holds the amount on the sender's main account (one
// transaction, auto-charge included); each resolution is ONE transaction
// conditioned on status = pending, the caller's role and the time, so
// exactly one of concurrent accepts, rejects, cancels and the expiry wins.
// See store/pending.go for the items and conditions.
//
// Decisions:
//   - Someone who is not the transfer's receiver (accept, reject) or sender
//     (cancel) gets 404 transfer_not_found, as for a transfer that does not
//     exist: nobody learns of others' transfers.
//   - Resolved: 409 transfer_already_accepted|rejected|cancelled; expired
//     (by the sweep, or past its expiry but not swept yet): 410
//     transfer_expired.
//   - A sweep that finds a transfer already past its expiry (missed runs)
//     expires it without a reminder: a reminder of something already gone
//     helps nobody. Expiry notifies both sender and receiver.
//   - GET /transfers lists by role (sent|received, default sent) and status
//     (default pending); the status is part of the pointer's key.
package pending

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"minipay/shared/api"
	"minipay/shared/problem"
	"minipay/shared/routes"
	"minipay/shared/store"
)

// ---- settings ----

type settingsRequest struct {
	PendingTransfers *bool `json:"pendingTransfers"`
}

// Settings is the user's settings as stored and returned.
type Settings struct {
	PendingTransfers bool `json:"pendingTransfers"`
}

// UpdateSettings is PUT /me/settings {pendingTransfers: bool}: the default
// for the caller's outgoing transfers (true: they wait for the receiver).
func UpdateSettings(d api.Deps) api.LambdaHandler {
	return api.Handle(d, "update-settings", func(ctx context.Context, r *api.Request) (*api.Response, error) {
		var in settingsRequest
		if err := r.Decode(&in); err != nil {
			return nil, err
		}
		if in.PendingTransfers == nil {
			return nil, problem.InvalidField.With("pendingTransfers (true or false) is required").WithExtra("field", "pendingTransfers")
		}
		if err := d.Store.SetPendingDefault(ctx, r.Caller, *in.PendingTransfers); err != nil {
			return nil, err
		}
		return api.JSON(http.StatusOK, Settings{PendingTransfers: *in.PendingTransfers})
	})
}

// ---- accept, reject, cancel ----

// ResolveResponse is what a resolution returns (and replays).
type ResolveResponse struct {
	store.PendingTransfer
	// MovementID names the history entries of an accepted transfer.
	MovementID string `json:"movementId,omitempty"`
}

// Accept is POST /transfers/{id}/accept (the receiver): the money posts to
// their main account.
func Accept(d api.Deps) api.LambdaHandler { return resolve(d, "accept-transfer", store.ActionAccept) }

// Reject is POST /transfers/{id}/reject (the receiver): the hold is released.
func Reject(d api.Deps) api.LambdaHandler { return resolve(d, "reject-transfer", store.ActionReject) }

// Cancel is POST /transfers/{id}/cancel (the sender): the hold is released.
func Cancel(d api.Deps) api.LambdaHandler { return resolve(d, "cancel-transfer", store.ActionCancel) }

// resolve reads the transfer (one GetItem: its amount and parties), then
// commits ONE transaction whose conditions re-check everything the read
// told: still pending, the caller's role, the amount, not expired.
func resolve(d api.Deps, function, action string) api.LambdaHandler {
	return api.Handle(d, function, api.Money(d, func(ctx context.Context, r *api.Request) (*api.Movement, error) {
		if len(r.Body) > 0 {
			var empty struct{}
			if err := r.Decode(&empty); err != nil {
				return nil, err
			}
		}
		id := r.PathParam("id")
		if !store.ValidTransferID(id) {
			return nil, problem.TransferNotFound.With("you have no pending transfer %s", id)
		}
		p, err := d.Store.GetPendingTransfer(ctx, id, r.Caller)
		if err != nil {
			return nil, err
		}
		role := p.To
		if action == store.ActionCancel {
			role = p.From
		}
		if role != r.Caller {
			return nil, problem.TransferNotFound.With("you have no pending transfer %s you can %s", id, action)
		}
		now := d.Clock.Now()
		mid := ""
		if action == store.ActionAccept {
			mid = store.NewMovementID(now)
		}
		tx := &store.Tx{}
		tx.Resolve(p, action, r.Caller, mid, now)
		body := p
		body.Status, body.ResolvedAt = resolvedStatus[action], now.UTC()
		body.CreatedAt, body.ExpiresAt = body.CreatedAt.UTC(), body.ExpiresAt.UTC()
		return &api.Movement{Tx: tx, Status: http.StatusCreated, Body: ResolveResponse{PendingTransfer: body, MovementID: mid}}, nil
	}))
}

var resolvedStatus = map[string]string{
	store.ActionAccept: store.StatusAccepted, store.ActionReject: store.StatusRejected, store.ActionCancel: store.StatusCancelled,
}

// ---- lists ----

// TransferList is a page of GET /transfers.
type TransferList struct {
	Transfers  []store.PendingTransfer `json:"transfers"`
	NextCursor string                  `json:"nextCursor,omitempty"`
}

// ListTransfers is GET /transfers?role=sent|received&status=pending|...&limit=&cursor=:
// newest first, one Query per page.
func ListTransfers(d api.Deps) api.LambdaHandler {
	return api.Handle(d, "list-transfers", func(ctx context.Context, r *api.Request) (*api.Response, error) {
		role := r.QueryParam("role")
		if role == "" {
			role = store.RoleSent
		}
		if role != store.RoleSent && role != store.RoleReceived {
			return nil, problem.InvalidField.With("role must be sent or received").WithExtra("field", "role")
		}
		status := r.QueryParam("status")
		if status == "" {
			status = store.StatusPending
		}
		if !slices.Contains(store.TransferStatuses, status) {
			return nil, problem.InvalidField.With("status must be one of %v", store.TransferStatuses).WithExtra("field", "status")
		}
		page, err := pageParams(r)
		if err != nil {
			return nil, err
		}
		ts, next, err := d.Store.ListTransfers(ctx, r.Caller, role, status, page)
		if err != nil {
			return nil, err
		}
		for i := range ts {
			ts[i].CreatedAt, ts[i].ExpiresAt = ts[i].CreatedAt.UTC(), ts[i].ExpiresAt.UTC()
		}
		return api.JSON(http.StatusOK, TransferList{Transfers: ts, NextCursor: next})
	})
}

// NotificationList is a page of GET /me/notifications.
type NotificationList struct {
	Notifications []store.Notification `json:"notifications"`
	NextCursor    string               `json:"nextCursor,omitempty"`
}

// ListNotifications is GET /me/notifications?limit=&cursor=: the caller's
// inbox, newest first, one Query per page.
func ListNotifications(d api.Deps) api.LambdaHandler {
	return api.Handle(d, "list-notifications", func(ctx context.Context, r *api.Request) (*api.Response, error) {
		page, err := pageParams(r)
		if err != nil {
			return nil, err
		}
		ns, next, err := d.Store.ListNotifications(ctx, r.Caller, page)
		if err != nil {
			return nil, err
		}
		for i := range ns {
			ns[i].At = ns[i].At.UTC()
		}
		return api.JSON(http.StatusOK, NotificationList{Notifications: ns, NextCursor: next})
	})
}

// DefaultPageSize is a list page's size when ?limit= is absent.
const DefaultPageSize = 20

func pageParams(r *api.Request) (store.Page, error) {
	p := store.Page{Limit: DefaultPageSize, Cursor: r.QueryParam("cursor")}
	if s := r.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxPageSize {
			return p, problem.InvalidField.With("limit must be 1-%d", store.MaxPageSize).WithExtra("field", "limit")
		}
		p.Limit = int32(n)
	}
	return p, nil
}

// ---- sweep ----

// SweepSummary is what one sweep run did.
type SweepSummary struct {
	Due      int `json:"due"`
	Reminded int `json:"reminded"`
	Expired  int `json:"expired"`
}

// Sweep is the pending-sweep scheduled job. It Queries the due index for
// every open pending transfer due at or before now (so missed runs catch
// up) and, for each, expires it if its expiry has passed (hold released,
// sender and receiver notified) or else sends the receiver's one reminder.
// Idempotent: every action is a transaction conditioned on the state it
// changes (still pending; not reminded yet), so a second run changes nothing.
func Sweep(d api.Deps) func(context.Context, routes.ScheduledEvent) (SweepSummary, error) {
	return func(ctx context.Context, ev routes.ScheduledEvent) (SweepSummary, error) {
		now := d.Clock.Now()
		var sum SweepSummary
		due, err := d.Store.DuePending(ctx, now)
		if err != nil {
			return sum, err
		}
		sum.Due = len(due)
		var errs []error
		for _, p := range due {
			if p.Status != store.StatusPending {
				continue
			}
			var done bool
			var err error
			if !now.Before(p.ExpiresAt) {
				if done, err = d.Store.ExpirePending(ctx, p, now); done {
					sum.Expired++
				}
			} else if !p.Reminded {
				if done, err = d.Store.RemindPending(ctx, p, now); done {
					sum.Reminded++
				}
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
		d.Log.InfoContext(ctx, "pending sweep", "job", ev.Job, "scheduledTime", ev.ScheduledTime,
			"due", sum.Due, "reminded", sum.Reminded, "expired", sum.Expired, "errors", len(errs))
		if len(errs) > 0 {
			return sum, fmt.Errorf("pending sweep: %d of %d failed: %w", len(errs), len(due), errors.Join(errs...))
		}
		return sum, nil
	}
}
