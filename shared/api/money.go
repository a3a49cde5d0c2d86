package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"unicode"

	"minipay/shared/money"
	"minipay/shared/problem"
	"minipay/shared/store"
)

// MaxIdempotencyKeyLen caps the Idempotency-Key header.
const MaxIdempotencyKeyLen = 200

// Movement is what a money handler decides: the transaction to commit and
// the response it will have. The response is fixed before the commit so it
// can be stored in the same transaction as the money.
type Movement struct {
	Tx     *store.Tx
	Status int
	Body   any
	// Retry, if set, is asked what to do when the ledger refuses Tx (a 4xx
	// problem from Commit; never a replay or an idempotency conflict). It
	// may return another movement to commit instead, e.g. one that adds an
	// automatic charge after insufficient funds (nil: accept the refusal),
	// or an error that replaces the refusal. A refused transaction moved
	// nothing and did not spend the key, so the idempotency record goes into
	// whichever transaction finally commits.
	Retry func(ctx context.Context, refusal *problem.Problem) (*Movement, error)
}

// MaxMovementAttempts bounds how many transactions one request may try
// through Movement.Retry.
const MaxMovementAttempts = 5

// MoneyFunc validates a request and builds its movement. It must not write.
type MoneyFunc func(ctx context.Context, r *Request) (*Movement, error)

// Money makes fn idempotent: one Idempotency-Key per caller, the first
// completed response replayed byte for byte, the same key with another
// request refused (422). The key's record is written in the movement's own
// transaction, so money moves and the key is spent together: a concurrent
// duplicate either replays the committed response or, while the first is
// still in flight (DynamoDB reports a conflict on the record), gets 409.
// Refusals (a 4xx from the ledger) are stored too, so a retry cannot
// succeed later with the same key. Validation errors are not stored.
func Money(d Deps, fn MoneyFunc) HandlerFunc {
	return func(ctx context.Context, r *Request) (*Response, error) {
		key, err := idempotencyKey(r)
		if err != nil {
			return nil, err
		}
		m, err := fn(ctx, r)
		if err != nil {
			return nil, err
		}
		var p *problem.Problem
		for attempt := 1; ; attempt++ {
			resp, err := commit(ctx, d, key, m)
			if err == nil {
				return resp, nil
			}
			if replay, ok := asReplay(err); ok {
				return replayed(replay), nil
			}
			if p = refusal(err); p == nil {
				return nil, err
			}
			if m.Retry == nil || attempt >= MaxMovementAttempts {
				break
			}
			next, err := m.Retry(ctx, p)
			if err != nil {
				if p = refusal(err); p == nil {
					return nil, err
				}
				break
			}
			if next == nil {
				break
			}
			m = next
		}
		stored := store.StoredResponse{Status: p.Status, Body: ProblemBody(p, r.Event.RawPath)}
		if err := d.Store.SaveOutcome(ctx, key, stored); err != nil {
			if replay, ok := asReplay(err); ok {
				return replayed(replay), nil
			}
			return nil, err
		}
		return &Response{Status: stored.Status, Body: stored.Body}, nil
	}
}

// commit commits the movement with its idempotency record and response.
func commit(ctx context.Context, d Deps, key store.IdemKey, m *Movement) (*Response, error) {
	body, err := json.Marshal(m.Body)
	if err != nil {
		return nil, err
	}
	resp := store.StoredResponse{Status: m.Status, Body: body}
	m.Tx.Idempotency(key, resp, d.Clock.Now())
	if err := d.Store.Commit(ctx, m.Tx); err != nil {
		return nil, err
	}
	return &Response{Status: resp.Status, Body: resp.Body}, nil
}

// refusal is err as a storable refusal: a 4xx problem other than the
// idempotency key's own (nil for anything else).
func refusal(err error) *problem.Problem {
	p, ok := problem.As(err)
	if !ok || p.Status >= 500 || p.Code == problem.IdemKeyReused.Code || p.Code == problem.IdemInFlight.Code {
		return nil
	}
	return p
}

func asReplay(err error) (*store.Replay, bool) {
	var r *store.Replay
	return r, errors.As(err, &r)
}

func replayed(r *store.Replay) *Response {
	return &Response{Status: r.Response.Status, Body: r.Response.Body, Replayed: true}
}

func idempotencyKey(r *Request) (store.IdemKey, error) {
	k := r.Header("Idempotency-Key")
	if k == "" {
		return store.IdemKey{}, problem.MissingIdemKey.With("send a unique Idempotency-Key header (e.g. a UUID) and reuse it only to retry this same request")
	}
	if len(k) > MaxIdempotencyKeyLen || strings.IndexFunc(k, func(c rune) bool { return c > unicode.MaxASCII || !unicode.IsPrint(c) }) >= 0 {
		return store.IdemKey{}, problem.InvalidField.With("Idempotency-Key must be 1-%d printable ASCII characters", MaxIdempotencyKeyLen).WithExtra("field", "Idempotency-Key")
	}
	h := sha256.New()
	h.Write([]byte(r.Event.RequestContext.HTTP.Method + " " + r.Event.RawPath + "\n"))
	h.Write(r.Body)
	return store.IdemKey{Scope: r.Caller, Key: k, RequestHash: hex.EncodeToString(h.Sum(nil))}, nil
}

// AmountField is an amount as it arrives in JSON: only a number literal is
// accepted (json.Number alone would also take the string "100").
type AmountField string

func (a *AmountField) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] == '"' || b[0] == '{' || b[0] == '[' || string(b) == "null" || string(b) == "true" || string(b) == "false" {
		return errNotNumber
	}
	*a = AmountField(b)
	return nil
}

var errNotNumber = errors.New("must be a JSON number of won, e.g. 10000")

// Amount validates a JSON amount field.
func Amount(field string, a AmountField) (int64, error) {
	n := json.Number(a)
	if n == "" {
		return 0, problem.InvalidField.With("%s is required", field).WithExtra("field", field)
	}
	v, err := money.ParseAmount(n)
	if err != nil {
		return 0, problem.InvalidField.With("%s %s", field, err.Error()).WithExtra("field", field)
	}
	return v, nil
}

// Text validates an optional free-text field: at most max characters, no
// control characters.
func Text(field, s string, max int, required bool) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" && required:
		return "", problem.InvalidField.With("%s is required", field).WithExtra("field", field)
	case len([]rune(s)) > max:
		return "", problem.InvalidField.With("%s must be at most %d characters", field, max).WithExtra("field", field)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", problem.InvalidField.With("%s must not contain control characters", field).WithExtra("field", field)
	}
	return s, nil
}
