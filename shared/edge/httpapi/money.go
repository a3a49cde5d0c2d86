package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode"

	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/ledger"
)

// MaxIdempotencyKeyLen caps the Idempotency-Key header.
const MaxIdempotencyKeyLen = 200

// Movement is what a money handler decides: the transaction to commit and
// the response it will have. The response is fixed before the commit so it
// is stored in the same transaction as the money.
type Movement struct {
	Tx     *ledger.Tx
	Status int
	Body   any
	// Retry, if set, is asked what to do when Commit refuses Tx: with a
	// refusal (a domain error) or an internal signal (a transient error such
	// as *ledger.TopUpStaleError). It may return another movement to commit
	// instead (e.g. with an automatic charge after insufficient funds); nil
	// and no error accepts the refusal; an error replaces it. A refused
	// transaction moved nothing and did not spend the key, so the
	// idempotency record goes into whichever transaction finally commits.
	Retry func(ctx context.Context, err error) (*Movement, error)
}

// MovementResponse is what a completed movement between two accounts
// returns (and replays): a main account's charge, withdrawal or transfer,
// a savings deposit.
type MovementResponse struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Amount    int64     `json:"amount"`
	Memo      string    `json:"memo,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// Moved is the movement that commits tx and answers 201 with m.
func Moved(m ledger.Movement, tx *ledger.Tx) *Movement {
	return &Movement{Tx: tx, Status: http.StatusCreated, Body: MovementResponse{
		ID: m.ID, Type: m.Type, From: m.From.ID, To: m.To.ID, Amount: m.Amount, Memo: m.Memo, CreatedAt: m.At.UTC(),
	}}
}

// MoneyFunc validates a request and builds its movement. It must not write.
type MoneyFunc func(ctx context.Context, r *Request) (*Movement, error)

// Money makes fn idempotent: one Idempotency-Key per caller; the first
// completed response, success or refusal, replayed byte for byte with
// Idempotent-Replayed; the same key with another request refused (422); a
// key whose first request is in flight 409. The key's record is written in
// the movement's own transaction, so money moves and the key is spent
// together. Refusals are stored whether the ledger or the handler decided
// them (a 422 daily limit, a 404 account, a 409 already claimed);
// validation errors (400) are not, so a corrected retry may reuse the key;
// internal signals never reach the client: resolved inside the request, or
// answered 503 + Retry-After and not stored.
func Money(d Services, fn MoneyFunc) HandlerFunc {
	return func(ctx context.Context, r *Request) (*Response, error) {
		key, err := IdempotencyKey(r)
		if err != nil {
			return nil, err
		}
		m, err := fn(ctx, r)
		var resp *Response
		if err == nil {
			resp, err = commit(ctx, d, key, m)
		}
		if err == nil {
			return resp, nil
		}
		var replay *ledger.Replay
		if errors.As(err, &replay) { // also fn's, if it asked the key's record first (ledger.Answered)
			return replayed(replay), nil
		}
		p, ok := storable(err)
		if !ok {
			return nil, err
		}
		stored := ledger.StoredResponse{Status: p.Status, Body: p.Body(r.Event.RawPath)}
		if err := d.Ledger.SaveOutcome(ctx, key, stored); err != nil {
			var replay *ledger.Replay
			if errors.As(err, &replay) {
				return replayed(replay), nil
			}
			return nil, err
		}
		return &Response{Status: stored.Status, Body: stored.Body}, nil
	}
}

// MoneyBody is Money for a movement whose request is a JSON body, decoded
// into In before fn runs (Body).
func MoneyBody[In any](d Services, fn func(ctx context.Context, r *Request, in In) (*Movement, error)) HandlerFunc {
	return Money(d, func(ctx context.Context, r *Request) (*Movement, error) {
		var in In
		if err := r.Decode(&in); err != nil {
			return nil, err
		}
		return fn(ctx, r, in)
	})
}

// commit commits the movement with its idempotency record and response;
// a refusal asks m.Retry for the movement to try instead (ledger.Rebuild:
// bounded; a fault or a replay is never retried).
func commit(ctx context.Context, d Services, key ledger.IdemKey, m *Movement) (*Response, error) {
	resp, err := m.withRecord(d, key)
	if err != nil {
		return nil, err
	}
	err = d.Ledger.Rebuild(ctx, m.Tx, func(ctx context.Context, refusal error) (*ledger.Tx, error) {
		var replay *ledger.Replay
		if m.Retry == nil || errors.As(refusal, &replay) {
			return nil, nil
		}
		next, err := m.Retry(ctx, refusal)
		if next == nil || err != nil {
			return nil, err
		}
		m = next
		resp, err = m.withRecord(d, key)
		return m.Tx, err
	})
	return resp, err
}

// withRecord adds the idempotency record, with the response m will have,
// to m's transaction.
func (m *Movement) withRecord(d Services, key ledger.IdemKey) (*Response, error) {
	body, err := json.Marshal(m.Body)
	if err != nil {
		return nil, err
	}
	stored := ledger.StoredResponse{Status: m.Status, Body: body}
	m.Tx.Idempotency(key, stored, d.Clock.Now())
	return &Response{Status: stored.Status, Body: stored.Body}, nil
}

func replayed(r *ledger.Replay) *Response {
	return &Response{Status: r.Response.Status, Body: r.Response.Body, Replayed: true}
}

// IdempotencyKey is the caller's key with the hash of what was asked: the
// method, the path and the body as decoded (canonical JSON: keys sorted,
// insignificant spaces dropped), so the same request re-encoded is the
// same request. A body that is not JSON is hashed as bytes (it is refused
// anyway).
func IdempotencyKey(r *Request) (ledger.IdemKey, error) {
	k := r.Header("Idempotency-Key")
	if k == "" {
		return ledger.IdemKey{}, ErrMissingIdemKey.With("send a unique Idempotency-Key header (e.g. a UUID) and reuse it only to retry this same request")
	}
	if len(k) > MaxIdempotencyKeyLen || strings.IndexFunc(k, func(c rune) bool { return c > unicode.MaxASCII || !unicode.IsPrint(c) }) >= 0 {
		return ledger.IdemKey{}, domainerr.Field("Idempotency-Key", "Idempotency-Key must be 1-%d printable ASCII characters", MaxIdempotencyKeyLen)
	}
	h := sha256.New()
	h.Write([]byte(r.Event.RequestContext.HTTP.Method + " " + r.Event.RawPath + "\n"))
	h.Write(canonicalJSON(r.Body))
	return ledger.IdemKey{Scope: r.Caller, Key: k, RequestHash: hex.EncodeToString(h.Sum(nil))}, nil
}

// canonicalJSON is body decoded and encoded again: map keys sorted, no
// insignificant white space, numbers as written. An empty body is "{}", the
// same as an empty object.
func canonicalJSON(body []byte) []byte {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return body
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return body
	}
	return bytes.TrimSpace(buf.Bytes())
}
