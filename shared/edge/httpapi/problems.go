package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/ledger"
)

// The edge's own refusals.
var (
	ErrBadRequest       = domainerr.New("bad_request")
	ErrMissingIdemKey   = domainerr.New("idempotency_key_required")
	ErrUnauthorized     = domainerr.New("unauthorized")
	ErrTokenExpired     = domainerr.New("token_expired")
	ErrTokenRevoked     = domainerr.New("token_revoked")
	ErrForbidden        = domainerr.New("forbidden")
	ErrNotFound         = domainerr.New("not_found")
	ErrMethodNotAllowed = domainerr.New("method_not_allowed")
	ErrTooLarge         = domainerr.New("body_too_large")
	ErrUnsupportedMedia = domainerr.New("unsupported_media_type")
	// ErrTimedOut's problem answers any error that wraps
	// context.DeadlineExceeded (Handle's own deadline: AnswerReserve).
	ErrTimedOut = domainerr.New("timed_out")
	ErrInternal = domainerr.New("internal")
)

// ProblemType is one row of the table: the status and title of a code.
type ProblemType struct {
	Status int
	Title  string
}

// Problems is THE table: every domain error code a client can meet, with
// its HTTP status and a short fixed title. Codes are stable API. A test
// checks that every code any package registers has a row, and the OpenAPI
// document's code enum is this table's keys.
var Problems = map[string]ProblemType{
	// Requests.
	"bad_request":              {http.StatusBadRequest, "The request is malformed"},
	"invalid_field":            {http.StatusBadRequest, "A field has an invalid value"},
	"idempotency_key_required": {http.StatusBadRequest, "This request moves money and needs an Idempotency-Key header"},
	"unauthorized":             {http.StatusUnauthorized, "A valid bearer token is required"},
	"token_expired":            {http.StatusUnauthorized, "The token has expired; sign in again for a new one"},
	"token_revoked":            {http.StatusUnauthorized, "The token was revoked"},
	"forbidden":                {http.StatusForbidden, "This token may not call this endpoint"},
	"not_found":                {http.StatusNotFound, "No such resource"},
	"method_not_allowed":       {http.StatusMethodNotAllowed, "Method not allowed on this path"},
	"body_too_large":           {http.StatusRequestEntityTooLarge, "The request body is too large"},
	"unsupported_media_type":   {http.StatusUnsupportedMediaType, "Send the body as application/json"},
	"idempotency_key_in_use":   {http.StatusConflict, "A request with this Idempotency-Key is still in progress"},
	"idempotency_key_reused":   {http.StatusUnprocessableEntity, "This Idempotency-Key was used with a different request"},
	"contention":               {http.StatusServiceUnavailable, "The account is busy; retry shortly"},
	"timed_out":                {http.StatusServiceUnavailable, "The request did not finish in time; retry shortly"},
	"internal":                 {http.StatusInternalServerError, "Something went wrong on our side"},
	// The ledger.
	"account_not_found":    {http.StatusNotFound, "No such account"},
	"insufficient_funds":   {http.StatusUnprocessableEntity, "The account's available balance is too low"},
	"daily_limit_exceeded": {http.StatusUnprocessableEntity, "The daily charge limit does not allow this amount"},
	"wrong_account_kind":   {http.StatusUnprocessableEntity, "This operation is not allowed on this kind of account"},
	"same_account":         {http.StatusUnprocessableEntity, "Money cannot move from an account to itself"},
	"hold_not_found":       {http.StatusNotFound, "No such hold"},
	"hold_already_posted":  {http.StatusConflict, "The hold was already posted"},
	"hold_already_voided":  {http.StatusConflict, "The hold was already voided"},
	"hold_expired":         {http.StatusGone, "The hold expired"},
	// Users and accounts.
	"user_not_found":            {http.StatusNotFound, "No such user"},
	"person_already_registered": {http.StatusConflict, "This verified person already has a user"},
	"too_many_accounts":         {http.StatusUnprocessableEntity, "The maximum number of savings accounts is reached"},
	// Savings.
	"savings_account_closed":      {http.StatusConflict, "The savings account has matured or was closed"},
	"savings_deposit_not_allowed": {http.StatusUnprocessableEntity, "This savings product takes no deposits: its money comes by daily installment"},
	"savings_principal_limit":     {http.StatusUnprocessableEntity, "The savings account's principal would pass its limit"},
	"self_transfer":               {http.StatusUnprocessableEntity, "Money cannot be sent to yourself"},
	"reference_already_credited":  {http.StatusConflict, "This payment reference was already credited"},
	// Pending transfers.
	"transfer_not_found":         {http.StatusNotFound, "No such pending transfer"},
	"transfer_already_accepted":  {http.StatusConflict, "The transfer was already accepted"},
	"transfer_already_rejected":  {http.StatusConflict, "The transfer was already rejected"},
	"transfer_already_cancelled": {http.StatusConflict, "The transfer was already cancelled"},
	"transfer_expired":           {http.StatusGone, "The transfer expired and its money went back to the sender"},
	// Rooms and sprinkles.
	"room_not_found":      {http.StatusNotFound, "No such room"},
	"not_a_member":        {http.StatusForbidden, "You are not a member of this room"},
	"room_full":           {http.StatusUnprocessableEntity, "The room has reached its member limit"},
	"sprinkle_not_found":  {http.StatusNotFound, "No such sprinkle in this room"},
	"own_sprinkle":        {http.StatusForbidden, "You cannot claim your own sprinkle"},
	"already_claimed":     {http.StatusConflict, "You already claimed a share of this sprinkle"},
	"sprinkle_exhausted":  {http.StatusConflict, "All shares are taken"},
	"claim_window_closed": {http.StatusGone, "The claim window of this sprinkle has closed"},
	// Stores and orders (merchant payments).
	"store_not_found":             {http.StatusNotFound, "No such store"},
	"store_closed":                {http.StatusConflict, "The store is closed and takes no orders"},
	"not_store_owner":             {http.StatusForbidden, "Only the store's owner can do this"},
	"too_many_stores":             {http.StatusUnprocessableEntity, "The maximum number of stores is reached"},
	"own_store":                   {http.StatusUnprocessableEntity, "You cannot order from your own store"},
	"order_not_found":             {http.StatusNotFound, "No such order"},
	"not_order_store":             {http.StatusForbidden, "Only the order's store can do this"},
	"not_order_customer":          {http.StatusForbidden, "Only the order's customer can do this"},
	"order_status_conflict":       {http.StatusConflict, "The order's status does not allow this"},
	"order_cooking_started":       {http.StatusConflict, "Cooking has started; the order can no longer be cancelled or rejected"},
	"order_expired":               {http.StatusGone, "The order's authorization expired and its money went back to the customer"},
	"refund_exceeds_capture":      {http.StatusUnprocessableEntity, "Refunds cannot exceed the captured amount"},
	"merchant_insufficient_funds": {http.StatusUnprocessableEntity, "The merchant account's available balance is too low for this refund"},
	"refund_window_closed":        {http.StatusGone, "The order's refund window has closed; its payment was released to the store"},
	// Store webhooks.
	"webhook_not_found":       {http.StatusNotFound, "No such webhook endpoint of this store"},
	"too_many_webhooks":       {http.StatusUnprocessableEntity, "The store has the most webhook endpoints it may have"},
	"webhook_event_not_found": {http.StatusNotFound, "No delivery of this event to this endpoint"},
	// Settlement requests.
	"settlement_not_found":             {http.StatusNotFound, "No such settlement request of yours"},
	"settlement_not_your_share":        {http.StatusForbidden, "Only the participant can pay or decline their share"},
	"settlement_duplicate_participant": {http.StatusBadRequest, "A participant is listed twice"},
	"settlement_too_many_participants": {http.StatusBadRequest, "A settlement request has at most 100 participants"},
	"settlement_amounts_mismatch":      {http.StatusBadRequest, "The amounts do not sum to the total"},
	"settlement_unknown_participant":   {http.StatusUnprocessableEntity, "A participant is not a user"},
	"settlement_total_too_small":       {http.StatusUnprocessableEntity, "The total cannot give every participant the minimum share"},
	"settlement_share_paid":            {http.StatusConflict, "The share was already paid"},
	"settlement_share_declined":        {http.StatusConflict, "The share was declined"},
	"settlement_cancelled":             {http.StatusConflict, "The settlement request was cancelled"},
	"settlement_completed":             {http.StatusConflict, "The settlement request is completed"},
	"settlement_remind_too_soon":       {http.StatusTooManyRequests, "The participants were reminded less than an hour ago"},
}

// Problem is one rendered problem: RFC 9457 problem details plus the code
// and the error's members.
type Problem struct {
	Status  int
	Code    string
	Title   string
	Detail  string
	Members map[string]any
}

// ProblemOf maps err to its problem. Anything that is not a known domain
// error is a 500 whose body says nothing of the cause (the caller logs it);
// a transient error is a 503.
func ProblemOf(err error) (Problem, bool) {
	// First: the SDK's capacity errors have an ErrorCode too, which is no
	// domain error's code.
	if ledger.Throttled(err) {
		return contentionProblem(), true
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return timedOutProblem(), true
	}
	c, ok := domainerr.CodeOf(err)
	if !ok {
		if domainerr.IsTransient(err) {
			return contentionProblem(), true
		}
		return internalProblem(), false
	}
	t, known := Problems[c.ErrorCode()]
	if !known || c.ErrorCode() == ErrInternal.Code {
		return internalProblem(), false
	}
	p := Problem{Status: t.Status, Code: c.ErrorCode(), Title: t.Title}
	var d domainerr.Detailed
	if errors.As(err, &d) {
		p.Detail = d.DetailText()
	}
	var m domainerr.WithMembers
	if errors.As(err, &m) {
		p.Members = m.Members()
	}
	return p, true
}

func internalProblem() Problem {
	t := Problems["internal"]
	return Problem{Status: t.Status, Code: "internal", Title: t.Title}
}

// Body renders the problem document.
func (p Problem) Body(instance string) []byte {
	m := map[string]any{}
	for k, v := range p.Members {
		m[k] = v
	}
	m["type"] = "urn:minipay:problem:" + p.Code
	m["title"] = p.Title
	m["status"] = p.Status
	m["code"] = p.Code
	if p.Detail != "" {
		m["detail"] = p.Detail
	}
	if instance != "" {
		m["instance"] = instance
	}
	b, _ := json.Marshal(m)
	return b
}

// storable reports whether a refusal is a completed answer to store under
// an Idempotency-Key: a 4xx decided by the rules, not a validation error
// (400: a corrected retry may reuse the key), not the key's own answers,
// never a 5xx or a transient signal.
func storable(err error) (Problem, bool) {
	if domainerr.IsTransient(err) {
		return Problem{}, false
	}
	p, ok := ProblemOf(err)
	if !ok || p.Status < 400 || p.Status >= 500 || p.Status == http.StatusBadRequest ||
		p.Code == "idempotency_key_reused" || p.Code == "idempotency_key_in_use" ||
		p.Status == http.StatusUnauthorized || p.Status == http.StatusRequestEntityTooLarge || p.Status == http.StatusUnsupportedMediaType {
		return Problem{}, false
	}
	return p, true
}

// contentionProblem is the 503 a retry with the same key may clear.
func contentionProblem() Problem {
	t := Problems["contention"]
	return Problem{Status: t.Status, Code: "contention", Title: t.Title, Detail: "the request met concurrent changes; retry shortly",
		Members: map[string]any{"retryAfterSeconds": 1}}
}

// timedOutProblem is the 503 of a request still being worked on
// AnswerReserve before its function's timeout (Handle). Whether its write
// took effect is not known: a money request's retry with the same key
// answers (replayed if it did, done now if not).
func timedOutProblem() Problem {
	t := Problems[ErrTimedOut.Code]
	return Problem{Status: t.Status, Code: ErrTimedOut.Code, Title: t.Title,
		Detail:  "the request did not finish in time; retry it shortly (with the same Idempotency-Key: it takes effect once)",
		Members: map[string]any{"retryAfterSeconds": 1}}
}
