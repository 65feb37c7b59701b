package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/store"
)

// Exit codes, the same locally and against a server: scripts rely on them, so a code
// never changes meaning.
const (
	ExitOK           = 0
	ExitError        = 1
	ExitUsage        = 2
	ExitNotFound     = 3
	ExitConflict     = 4
	ExitDeclined     = 5
	ExitDevice       = 6
	ExitUnauthorized = 7
	ExitUnavailable  = 8
	// ExitInterrupted is the shell's code for a command stopped by SIGINT (128 + 2):
	// Ctrl-C, or SIGTERM, while a command was still at work or waiting for an answer.
	ExitInterrupted = 130
)

// UsageError is a mistake in how the command was called: a flag, an argument, a missing
// answer that only a terminal could have given.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef builds a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ExitFailure is an error whose message has already been printed (a verify listing its
// violations): it only sets the exit code.
type ExitFailure struct {
	Code    int
	Message string
}

func (e *ExitFailure) Error() string { return e.Message }

// runError marks an error returned by a command's own code, as opposed to one cobra
// raised while parsing flags and arguments, which is always a usage error.
type runError struct{ err error }

func (e *runError) Error() string { return e.err.Error() }
func (e *runError) Unwrap() error { return e.err }

// ExitCode maps an error to the process exit code. This is the only place that does.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var usage *UsageError
	var failure *ExitFailure
	switch {
	case errors.As(err, &failure):
		return failure.Code
	case errors.As(err, &usage):
		return ExitUsage
	case errors.Is(err, nfc.ErrDevice):
		return ExitDevice
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	}
	switch store.KindOf(err) {
	case store.KindInvalid:
		return ExitUsage
	case store.KindNotFound:
		return ExitNotFound
	case store.KindConflict:
		return ExitConflict
	case store.KindDeclined:
		return ExitDeclined
	case store.KindUnauthorized, store.KindForbidden:
		return ExitUnauthorized
	case store.KindUnavailable:
		return ExitUnavailable
	}
	return ExitError // internal errors and a corrupt ledger
}

// asUsage turns an error that cobra raised itself (unknown flag, bad flag value, wrong
// number of arguments, missing required flag) into a UsageError; errors of the commands'
// own code pass through unwrapped.
func asUsage(err error) error {
	var re *runError
	if err == nil || errors.As(err, &re) {
		if re != nil {
			return re.err
		}
		return err
	}
	return &UsageError{Err: err}
}

// errorMessage is what the user reads after "tagpay: ".
func errorMessage(err error) string {
	if errors.Is(err, context.Canceled) {
		return "interrupted"
	}
	return err.Error()
}

// ErrorJSON is an error as -o json prints it on stderr: the API's error object, and the
// exit code beside it, so a script reads one shape from a file ledger and from a server.
type ErrorJSON struct {
	Error    ErrorDetail `json:"error"`
	ExitCode int         `json:"exit_code"`
}

// ErrorDetail is the API's {"type", "code", "message", "param"}.
type ErrorDetail struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
}

// errorJSON describes err in the API's terms. Errors the ledger raised keep their kind
// and code; the command line's own (usage, reader, interrupt) get a type of their own.
func errorJSON(err error) ErrorJSON {
	code := ExitCode(err)
	d := ErrorDetail{Message: errorMessage(err)}
	var se *store.Error
	var usage *UsageError
	switch {
	case errors.Is(err, context.Canceled) || code == ExitInterrupted:
		d.Type, d.Code = "interrupted", "interrupted"
	case errors.As(err, &usage) && !errors.As(err, &se):
		d.Type, d.Code = store.KindInvalid.String(), "usage"
	case errors.Is(err, nfc.ErrDevice):
		d.Type, d.Code = "device", "reader_or_tag"
	case errors.As(err, &se):
		d.Type, d.Code, d.Param = se.Kind.String(), se.Code, se.Param
		if d.Code == "" {
			d.Code = d.Type
		}
	default:
		d.Type, d.Code = store.KindInternal.String(), "error"
		var failure *ExitFailure
		if errors.As(err, &failure) {
			d.Code = "failed"
		}
	}
	return ErrorJSON{Error: d, ExitCode: code}
}
