// Package problem defines minipay's errors as RFC 9457 problem details: an
// HTTP status, a stable machine-readable code, and a sentence for people.
// Every domain error in every package is a *Problem, so the API layer renders
// them without a mapping table of its own.
package problem

import (
	"errors"
	"fmt"
	"net/http"
)

// Problem is an error a client can act on.
type Problem struct {
	Status int            `json:"status"`
	Code   string         `json:"code"`
	Title  string         `json:"title"`
	Detail string         `json:"detail,omitempty"`
	Extra  map[string]any `json:"-"` // extension members, rendered at the top level
}

func (p *Problem) Error() string {
	if p.Detail != "" {
		return p.Code + ": " + p.Detail
	}
	return p.Code
}

// Is makes errors.Is match problems by code, so a Problem with a specific
// detail still matches the sentinel it was derived from.
func (p *Problem) Is(target error) bool {
	t, ok := target.(*Problem)
	return ok && t.Code == p.Code
}

// With returns a copy with a detail sentence.
func (p *Problem) With(format string, args ...any) *Problem {
	c := *p
	c.Detail = fmt.Sprintf(format, args...)
	return &c
}

// WithExtra returns a copy carrying an extension member.
func (p *Problem) WithExtra(key string, value any) *Problem {
	c := *p
	c.Extra = map[string]any{}
	for k, v := range p.Extra {
		c.Extra[k] = v
	}
	c.Extra[key] = value
	return &c
}

// As returns the *Problem in err's chain, if any.
func As(err error) (*Problem, bool) {
	var p *Problem
	ok := errors.As(err, &p)
	return p, ok
}

func def(status int, code, title string) *Problem {
	return &Problem{Status: status, Code: code, Title: title}
}

// The catalogue. Codes are stable API; titles are short and fixed.
var (
	BadRequest        = def(http.StatusBadRequest, "bad_request", "The request is malformed")
	InvalidField      = def(http.StatusBadRequest, "invalid_field", "A field has an invalid value")
	MissingIdemKey    = def(http.StatusBadRequest, "idempotency_key_required", "This request moves money and needs an Idempotency-Key header")
	Unauthorized      = def(http.StatusUnauthorized, "unauthorized", "A valid bearer token is required")
	Forbidden         = def(http.StatusForbidden, "forbidden", "This token may not call this endpoint")
	NotFound          = def(http.StatusNotFound, "not_found", "No such resource")
	AccountNotFound   = def(http.StatusNotFound, "account_not_found", "No such account")
	UserNotFound      = def(http.StatusNotFound, "user_not_found", "No such user")
	MethodNotAllowed  = def(http.StatusMethodNotAllowed, "method_not_allowed", "Method not allowed on this path")
	IdemInFlight      = def(http.StatusConflict, "idempotency_key_in_use", "A request with this Idempotency-Key is still in progress")
	TooLarge          = def(http.StatusRequestEntityTooLarge, "body_too_large", "The request body is too large")
	UnsupportedMedia  = def(http.StatusUnsupportedMediaType, "unsupported_media_type", "Send application/json")
	IdemKeyReused     = def(http.StatusUnprocessableEntity, "idempotency_key_reused", "This Idempotency-Key was used with a different request")
	InsufficientFunds = def(http.StatusUnprocessableEntity, "insufficient_funds", "The account's available balance is too low")
	LimitExceeded     = def(http.StatusUnprocessableEntity, "daily_limit_exceeded", "The daily charge limit does not allow this amount")
	WrongAccountKind  = def(http.StatusUnprocessableEntity, "wrong_account_kind", "This operation is not allowed on this kind of account")
	SelfTransfer      = def(http.StatusUnprocessableEntity, "self_transfer", "Money cannot be sent to yourself")
	TooManyAccounts   = def(http.StatusUnprocessableEntity, "too_many_accounts", "The maximum number of savings accounts is reached")
	Contention        = def(http.StatusServiceUnavailable, "contention", "The account is busy; retry shortly")
	Internal          = def(http.StatusInternalServerError, "internal", "Something went wrong on our side")
)

// Rooms and sprinkles (issue 5).
var (
	RoomNotFound      = def(http.StatusNotFound, "room_not_found", "No such room")
	NotAMember        = def(http.StatusForbidden, "not_a_member", "You are not a member of this room")
	SprinkleNotFound  = def(http.StatusNotFound, "sprinkle_not_found", "No such sprinkle in this room")
	OwnSprinkle       = def(http.StatusForbidden, "own_sprinkle", "You cannot claim your own sprinkle")
	AlreadyClaimed    = def(http.StatusConflict, "already_claimed", "You already claimed a share of this sprinkle")
	SprinkleExhausted = def(http.StatusConflict, "sprinkle_exhausted", "All shares are taken")
	ClaimWindowClosed = def(http.StatusGone, "claim_window_closed", "The claim window of this sprinkle has closed")
	// ShareTaken and TokenTaken are answered inside the handler (another
	// share, another token); a client sees them only if the bounded retries
	// all lose.
	ShareTaken = def(http.StatusConflict, "share_taken", "The share was taken by someone else; retry")
	TokenTaken = def(http.StatusConflict, "token_taken", "The sprinkle token collided; retry")
)

// Pending transfers (issue 4).
var (
	TransferNotFound = def(http.StatusNotFound, "transfer_not_found", "No such pending transfer")
	// Resolved transfers answer 409 with the state that won; an expired one 410.
	TransferAccepted  = def(http.StatusConflict, "transfer_already_accepted", "The transfer was already accepted")
	TransferRejected  = def(http.StatusConflict, "transfer_already_rejected", "The transfer was already rejected")
	TransferCancelled = def(http.StatusConflict, "transfer_already_cancelled", "The transfer was already cancelled")
	TransferExpired   = def(http.StatusGone, "transfer_expired", "The transfer expired and its money went back to the sender")
	// PendingByDefault and NotPendingByDefault are internal signals of
	// POST /transfers: the sender's setting (checked inside the transaction)
	// disagrees with the variant tried, and the handler retries with the
	// other one. A client sees them only if its setting keeps flipping
	// while the bounded retries run.
	PendingByDefault    = def(http.StatusConflict, "pending_by_default", "The sender's transfers are pending by default; retry")
	NotPendingByDefault = def(http.StatusConflict, "not_pending_by_default", "The sender's transfers are immediate by default; retry")
)
