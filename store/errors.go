// Package store is the tagpay ledger: accounts, double-entry transfers, idempotency
// records, audit events and the records of the domain packages (orders, cards), whose
// buckets are declared here once. It keeps them in a bbolt file or in a PostgreSQL
// database, behind one transaction API.
//
// The package imports nothing of the project. Domain rules run inside one store
// transaction (Update, Batch), so that both engines serve the same domain code.
package store

import (
	"errors"
	"fmt"
)

// Kind classifies an error for callers: the command line turns it into an exit code and
// the server into an HTTP status, each in one place.
type Kind int

const (
	KindInternal     Kind = iota // a bug or an unexpected failure
	KindInvalid                  // the request is malformed: bad amount, unknown currency, bad flag value
	KindNotFound                 // the named thing does not exist
	KindConflict                 // state does not allow it: idempotency key reuse, illegal transition
	KindDeclined                 // a payment, tag or token was rejected by a business rule
	KindUnauthorized             // no or bad credentials
	KindForbidden                // credentials fine, but the role does not own the thing
	KindUnavailable              // ledger in use, server down
	KindCorrupt                  // the ledger file is damaged or not a ledger
)

var kindNames = map[Kind]string{
	KindInternal:     "internal",
	KindInvalid:      "invalid",
	KindNotFound:     "not_found",
	KindConflict:     "conflict",
	KindDeclined:     "declined",
	KindUnauthorized: "unauthorized",
	KindForbidden:    "forbidden",
	KindUnavailable:  "unavailable",
	KindCorrupt:      "corrupt",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// ParseKind is the inverse of Kind.String, for errors that crossed the wire.
func ParseKind(s string) (Kind, bool) {
	for k, name := range kindNames {
		if name == s {
			return k, true
		}
	}
	return KindInternal, false
}

// Error is an error with a kind, a stable machine code (e.g. "insufficient_funds") and
// optionally the parameter it is about.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Param   string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil && e.Message == "" {
		return e.Err.Error()
	}
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an Error of the given kind and code.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithParam names the request parameter the error is about.
func (e *Error) WithParam(p string) *Error {
	e.Param = p
	return e
}

// Wrap gives err a kind and code, keeping it reachable through errors.Is/As.
func Wrap(kind Kind, code string, err error, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// KindOf finds the kind of err; errors without one are internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// CodeOf finds the machine code of err, or "" when it has none.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// IsKind reports whether err carries the kind k.
func IsKind(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}
