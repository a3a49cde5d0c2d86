// Package domainerr is how every package says "no" to a client without
// knowing HTTP: an error with a stable machine-readable code. The HTTP edge
// (shared/edge/httpapi) holds the ONE table that maps codes to statuses and
// titles; a test checks that every code registered here has a row there.
//
//   - Simple refusals are *Error values made once with New and specialized
//     with With: errors.Is matches by code.
//   - Refusals that carry facts are typed errors (e.g. ledger's
//     *InsufficientFundsError with the available amount) that implement
//     Coded, Is (against their sentinel) and, for the problem document,
//     Members.
//   - Transient errors (a busy item after bounded retries, an internal
//     signal that could not be resolved inside the request) are answered
//     503 + Retry-After and never stored under an Idempotency-Key.
package domainerr

import (
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Coded is an error a client can act on.
type Coded interface {
	error
	ErrorCode() string
}

// WithMembers is a Coded error with machine-readable facts for the problem
// document (e.g. "available": 3000).
type WithMembers interface {
	Members() map[string]any
}

// Transient marks an error worth retrying later; it is never a refusal.
type Transient interface {
	error
	Transient() bool
}

// Error is a refusal: a code and a sentence for people.
type Error struct {
	Code   string
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return e.Code
	}
	return e.Code + ": " + e.Detail
}

// ErrorCode is the stable code.
func (e *Error) ErrorCode() string { return e.Code }

// Is matches any error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(Coded)
	return ok && t.ErrorCode() == e.Code
}

// With returns a copy with a detail sentence.
func (e *Error) With(format string, args ...any) *Error {
	return &Error{Code: e.Code, Detail: fmt.Sprintf(format, args...)}
}

var (
	mu    sync.Mutex
	codes = map[string]bool{}
)

// New registers a code and returns its sentinel. Codes are stable API.
func New(code string) *Error {
	Register(code)
	return &Error{Code: code}
}

// Register records a code used by a typed error.
func Register(code string) {
	mu.Lock()
	codes[code] = true
	mu.Unlock()
}

// Codes lists every registered code, sorted.
func Codes() []string {
	mu.Lock()
	defer mu.Unlock()
	out := make([]string, 0, len(codes))
	for c := range codes {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// CodeOf is the Coded error in err's chain, if any.
func CodeOf(err error) (Coded, bool) {
	var c Coded
	ok := errors.As(err, &c)
	return c, ok
}

// IsTransient reports whether err's chain holds a Transient error.
func IsTransient(err error) bool {
	var t Transient
	return errors.As(err, &t) && t.Transient()
}

// ErrInvalidField is the code of every *FieldError: a request field with a
// value no request may have (a validation error; 400, never stored).
var ErrInvalidField = New("invalid_field")

// FieldError says which field was wrong and why.
type FieldError struct {
	Field  string
	Detail string
}

// Field is a validation error on one field.
func Field(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Detail: fmt.Sprintf(format, args...)}
}

func (e *FieldError) Error() string           { return "invalid_field: " + e.Detail }
func (e *FieldError) ErrorCode() string       { return ErrInvalidField.Code }
func (e *FieldError) Is(target error) bool    { return ErrInvalidField.Is(target) }
func (e *FieldError) Members() map[string]any { return map[string]any{"field": e.Field} }
func (e *FieldError) DetailText() string      { return e.Detail }

// Detailed is an error with a sentence for people apart from its code.
type Detailed interface {
	DetailText() string
}

// DetailText is the sentence for people.
func (e *Error) DetailText() string { return e.Detail }
