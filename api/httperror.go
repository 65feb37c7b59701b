package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/tagpay/tagpay/store"
)

// errorBody is the JSON of every error response: {"error": {...}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Type    string `json:"type"`    // the store.Kind, e.g. "declined"
	Code    string `json:"code"`    // stable machine code, e.g. "insufficient_funds"
	Message string `json:"message"` // for people
	Param   string `json:"param,omitempty"`
}

// statusOf is the HTTP status of each kind of error; the client maps it back through the
// body's type, so a command exits the same way against a server as against a file.
func statusOf(k store.Kind) int {
	switch k {
	case store.KindInvalid:
		return http.StatusBadRequest
	case store.KindUnauthorized:
		return http.StatusUnauthorized
	case store.KindDeclined:
		return http.StatusPaymentRequired
	case store.KindForbidden:
		return http.StatusForbidden
	case store.KindNotFound:
		return http.StatusNotFound
	case store.KindConflict:
		return http.StatusConflict
	case store.KindUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// kindOfStatus is the inverse of statusOf for responses without a readable error body
// (a proxy's error page, a server of another kind).
func kindOfStatus(status int) store.Kind {
	switch {
	case status == http.StatusBadRequest, status == http.StatusRequestEntityTooLarge,
		status == http.StatusUnsupportedMediaType, status == http.StatusUnprocessableEntity,
		status == http.StatusRequestTimeout:
		return store.KindInvalid
	case status == http.StatusUnauthorized:
		return store.KindUnauthorized
	case status == http.StatusPaymentRequired:
		return store.KindDeclined
	case status == http.StatusForbidden:
		return store.KindForbidden
	case status == http.StatusNotFound, status == http.StatusMethodNotAllowed:
		return store.KindNotFound
	case status == http.StatusConflict:
		return store.KindConflict
	case status == http.StatusTooManyRequests, status == http.StatusBadGateway,
		status == http.StatusServiceUnavailable, status == http.StatusGatewayTimeout:
		return store.KindUnavailable
	}
	return store.KindInternal
}

// httpError is an error that carries its own status, for the few answers that no store
// kind describes exactly (413, 415, 405, 408).
type httpError struct {
	status int
	err    *store.Error
}

func (e *httpError) Error() string { return e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

func newHTTPError(status int, kind store.Kind, code, format string, args ...any) *httpError {
	return &httpError{status: status, err: store.Errorf(kind, code, format, args...)}
}

// describe turns any error into the status and body the client sees. Internal errors keep
// their code but not their text, which may name server paths; the log has the text.
func describe(err error) (int, errorDetail) {
	var he *httpError
	if errors.As(err, &he) {
		return he.status, detailOf(he.err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return http.StatusServiceUnavailable, errorDetail{Type: store.KindUnavailable.String(), Code: "request_cancelled", Message: "the request was cancelled before it completed"}
	}
	var se *store.Error
	if !errors.As(err, &se) {
		return http.StatusInternalServerError, errorDetail{Type: store.KindInternal.String(), Code: "internal", Message: "internal server error; the server log has the details"}
	}
	d := detailOf(se)
	if se.Kind == store.KindInternal || se.Kind == store.KindCorrupt {
		d.Message = "internal server error (" + se.Code + "); the server log has the details"
	}
	return statusOf(se.Kind), d
}

func detailOf(e *store.Error) errorDetail {
	code := e.Code
	if code == "" {
		code = e.Kind.String()
	}
	return errorDetail{Type: e.Kind.String(), Code: code, Message: e.Error(), Param: e.Param}
}
