package cmd

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/store"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, ExitOK},
		{"plain error", errors.New("boom"), ExitError},
		{"usage", Usagef("bad flag"), ExitUsage},
		{"invalid request", store.Errorf(store.KindInvalid, "invalid_amount", "bad amount"), ExitUsage},
		{"not found", store.Errorf(store.KindNotFound, "account_not_found", "no such account"), ExitNotFound},
		{"conflict", store.Errorf(store.KindConflict, "idempotency_key_reused", "reused"), ExitConflict},
		{"declined", store.Errorf(store.KindDeclined, "insufficient_funds", "poor"), ExitDeclined},
		{"unauthorized", store.Errorf(store.KindUnauthorized, "bad_key", "who are you"), ExitUnauthorized},
		{"forbidden", store.Errorf(store.KindForbidden, "forbidden", "not yours"), ExitUnauthorized},
		{"unavailable", store.Errorf(store.KindUnavailable, "ledger_in_use", "busy"), ExitUnavailable},
		{"corrupt ledger", store.Errorf(store.KindCorrupt, "ledger_corrupt", "damaged"), ExitError},
		{"internal", store.Errorf(store.KindInternal, "bug", "oops"), ExitError},
		{"no tag", nfc.ErrNoTag, ExitDevice},
		{"wrapped reader problem", fmt.Errorf("reading: %w", nfc.ErrTagRemoved), ExitDevice},
		{"wrapped kind", fmt.Errorf("order x: %w", store.Errorf(store.KindDeclined, "d", "declined")), ExitDeclined},
		{"verify failure", &ExitFailure{Code: ExitError, Message: "2 violations"}, ExitError},
		{"interrupted", context.Canceled, ExitInterrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.err); got != tt.want {
				t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestAsUsage(t *testing.T) {
	parsing := errors.New(`unknown flag: --nope`)
	if got := ExitCode(asUsage(parsing)); got != ExitUsage {
		t.Errorf("an error raised by cobra itself exits %d, want %d", got, ExitUsage)
	}
	own := store.Errorf(store.KindNotFound, "x", "missing")
	got := asUsage(&runError{err: own})
	if !errors.Is(got, own) || ExitCode(got) != ExitNotFound {
		t.Errorf("a command's own error became %v (exit %d), want it unchanged (exit %d)", got, ExitCode(got), ExitNotFound)
	}
	if asUsage(nil) != nil {
		t.Error("asUsage(nil) is not nil")
	}
}
