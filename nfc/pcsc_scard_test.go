//go:build cgo && !nopcsc

package nfc

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ebfe/scard"
)

func TestPCSCErrorMapping(t *testing.T) {
	cases := []struct {
		err    scard.Error
		want   error
		advice string
	}{
		{scard.ErrNoService, ErrNoReader, "pcscd"},
		{scard.ErrServiceStopped, ErrNoReader, "pcscd"},
		{scard.ErrNoReadersAvailable, ErrNoReader, "plug one in"},
		{scard.ErrUnknownReader, ErrNoReader, "not available"},
		{scard.ErrReaderUnavailable, ErrNoReader, "not available"},
		{scard.ErrNoSmartcard, ErrNoTag, "place a tag"},
		{scard.ErrRemovedCard, ErrTagRemoved, "hold it still"},
		{scard.ErrResetCard, ErrTagRemoved, "hold it still"},
		{scard.ErrUnresponsiveCard, ErrReaderFault, "does not answer"},
		{scard.ErrSharingViolation, ErrReaderBusy, "another program"},
		{scard.ErrCommError, ErrReaderFault, "failed"},
	}
	for _, c := range cases {
		t.Run(c.err.Error(), func(t *testing.T) {
			err := pcscError("transmit", "ACS ACR122U", c.err)
			if !errors.Is(err, c.want) || !errors.Is(err, ErrDevice) || !errors.Is(err, c.err) {
				t.Errorf("%v does not match %v, ErrDevice and the PC/SC error", err, c.want)
			}
			if !strings.Contains(err.Error(), c.advice) {
				t.Errorf("message %q lacks %q", err, c.advice)
			}
		})
	}
	if err := pcscError("wait", "", scard.ErrCancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v, want context.Canceled", err)
	}
}
