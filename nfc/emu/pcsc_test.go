//go:build cgo && !nopcsc

package emu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"github.com/tagpay/tagpay/nfc"
)

// pcscUID marks this package's card, so that a card another process put in the same
// slot is told apart.
var pcscUID = mustHex("04E10CDA993C80")

// The first reader vpcd gives pcscd, and where its card side listens.
const (
	vpcdReader = "Virtual PCD 00 00"
	vpcdPort   = 35963
)

var vpcdAddr = fmt.Sprintf("127.0.0.1:%d", vpcdPort)

// pcscContext connects to the running pcscd, or skips the test when there is none with
// the vpcd readers (fails instead under CI=true, where scripts/pcscd must have run).
func pcscContext(tb testing.TB) *scard.Context {
	tb.Helper()
	skip := tb.Skipf
	if os.Getenv("CI") == "true" {
		skip = tb.Fatalf
	}
	lockCtx, cancelLock := context.WithTimeout(context.Background(), 5*time.Minute)
	release, err := LockReaders(lockCtx)
	cancelLock()
	if err != nil {
		tb.Fatalf("waiting for the vpcd readers: %v", err)
	}
	tb.Cleanup(release)
	ctx, err := scard.EstablishContext()
	if err != nil {
		skip("no pcscd (run scripts/pcscd start): %v", err)
		return nil
	}
	tb.Cleanup(func() { ctx.Release() })
	readers, err := ctx.ListReaders()
	if err != nil || !slices.Contains(readers, vpcdReader) {
		skip("pcscd has no %q reader (run scripts/pcscd start): %v %v", vpcdReader, readers, err)
	}
	// vpcd serves one card per slot: tests of other packages may hold it for a while.
	rs := []scard.ReaderState{{Reader: vpcdReader, CurrentState: scard.StateUnaware}}
	for range 150 {
		if err := ctx.GetStatusChange(rs, 200*time.Millisecond); err != nil && !errors.Is(err, scard.ErrTimeout) {
			tb.Fatalf("GetStatusChange: %v", err)
		}
		if rs[0].EventState&scard.StatePresent == 0 {
			return ctx
		}
		rs[0].CurrentState = rs[0].EventState
	}
	tb.Fatalf("%q stays busy with another card: is another test or emulator using it?", vpcdReader)
	return nil
}

// waitCard waits until pcscd sees the reader holding a card (present) or empty.
func waitCard(tb testing.TB, ctx *scard.Context, present bool) {
	tb.Helper()
	rs := []scard.ReaderState{{Reader: vpcdReader, CurrentState: scard.StateUnaware}}
	// Bounded so a broken bridge fails the test instead of hanging it.
	for range 100 {
		err := ctx.GetStatusChange(rs, 200*time.Millisecond)
		if err != nil && !errors.Is(err, scard.ErrTimeout) {
			tb.Fatalf("GetStatusChange: %v", err)
		}
		if (rs[0].EventState&scard.StatePresent != 0) == present {
			return
		}
		rs[0].CurrentState = rs[0].EventState
	}
	tb.Fatalf("pcscd never saw %q with present=%v", vpcdReader, present)
}

// startBridge serves r to vpcd until the test ends.
func startBridge(tb testing.TB, r *Reader) (stop func() error) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeVPCD(ctx, vpcdAddr, r) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	tb.Cleanup(func() { stop() })
	return stop
}

func transmitOK(tb testing.TB, card *scard.Card, apdu []byte) []byte {
	tb.Helper()
	resp, err := card.Transmit(apdu)
	if err != nil {
		tb.Fatalf("Transmit(%X): %v", apdu, err)
	}
	if !bytes.HasSuffix(resp, []byte{0x90, 0x00}) {
		tb.Fatalf("Transmit(%X) = %X", apdu, resp)
	}
	return resp[:len(resp)-2]
}

func TestThroughPCSC(t *testing.T) {
	sc := pcscContext(t)
	img, err := nfc.NewImage(nfc.TypeNTAG213, pcscUID, nil)
	if err != nil {
		t.Fatal(err)
	}
	img.Pages[4] = mustHex("030BD101")
	r := NewReader(vpcdReader, ACR122)
	tag := newTestTag(t, img)
	r.Insert(tag, Faults{})
	stop := startBridge(t, r)
	waitCard(t, sc, true)

	card, err := sc.Connect(vpcdReader, scard.ShareShared, scard.ProtocolAny)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer card.Disconnect(scard.LeaveCard)
	status, err := card.Status()
	if err != nil || !bytes.Equal(status.Atr, r.ATR()) {
		t.Errorf("ATR through pcscd = %X (%v), want %X", status.Atr, err, r.ATR())
	}
	if uid := transmitOK(t, card, mustHex("FFCA000000")); !bytes.Equal(uid, pcscUID) {
		t.Errorf("GET UID = %X, want %X", uid, pcscUID)
	}
	if data := transmitOK(t, card, mustHex("FFB0000410")); !bytes.Equal(data[:4], img.Pages[4]) {
		t.Errorf("READ BINARY page 4 = %X", data)
	}
	if err := stop(); err != nil {
		t.Errorf("ServeVPCD: %v", err)
	}
	waitCard(t, sc, false)
	if _, err := card.Transmit(mustHex("FFCA000000")); err == nil {
		t.Error("Transmit after the card left succeeded")
	}
}

func TestThroughPCSCFaultRemovesTheCard(t *testing.T) {
	sc := pcscContext(t)
	r := NewReader(vpcdReader, Part3)
	img, err := nfc.NewImage(nfc.TypeNTAG215, pcscUID, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Insert(newTestTag(t, img), Faults{RemoveAfter: 1})
	startBridge(t, r)
	waitCard(t, sc, true)
	card, err := sc.Connect(vpcdReader, scard.ShareShared, scard.ProtocolAny)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer card.Disconnect(scard.LeaveCard)
	if uid := transmitOK(t, card, mustHex("FFCA000000")); !bytes.Equal(uid, pcscUID) {
		t.Errorf("GET UID = %X, want %X", uid, pcscUID)
	}
	waitCard(t, sc, false)
	if _, err := card.Transmit(mustHex("FFCA000000")); err == nil {
		t.Error("Transmit after the fault removal succeeded")
	}
}

// BenchmarkThroughPCSC measures one GET UID through pcscd, vpcd and the bridge.
func BenchmarkThroughPCSC(b *testing.B) {
	sc := pcscContext(b)
	r := NewReader(vpcdReader, ACR122)
	tag, err := NewTag(&nfc.Image{Type: nfc.TypeNTAG213, UID: pcscUID})
	if err != nil {
		b.Fatal(err)
	}
	r.Insert(tag, Faults{})
	startBridge(b, r)
	waitCard(b, sc, true)
	card, err := sc.Connect(vpcdReader, scard.ShareShared, scard.ProtocolAny)
	if err != nil {
		b.Fatalf("Connect: %v", err)
	}
	defer card.Disconnect(scard.LeaveCard)
	apdu := mustHex("FFCA000000")
	for b.Loop() {
		if _, err := card.Transmit(apdu); err != nil {
			b.Fatal(err)
		}
	}
}
