//go:build cgo && !nopcsc

package nfc_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/emu"
)

// Two programs on one reader: while one holds it (a write in progress), the other's
// write waits, then gives up with a plain error, and leaves the tag alone; once the
// reader is free again the other's write goes through.
func TestPCSCExclusiveKeepsOtherProgramsOut(t *testing.T) {
	for _, p := range personalities {
		t.Run(string(p), func(t *testing.T) {
			first := uriMessage(t, "https://pay.example.com/t/first")
			b := newVPCDBench(t, p, image(t, nfc.TypeNTAG213, first), emu.Faults{})
			holder, _ := b.open(t)
			defer holder.Close()
			rivalBus := openPCSC(t)
			rival, _, err := nfc.OpenTag(context.Background(), rivalBus, b.name)
			if err != nil {
				t.Fatalf("OpenTag for the second program: %v", err)
			}
			rival.SetExclusiveWait(300 * time.Millisecond)

			mine := uriMessage(t, "https://pay.example.com/t/holder")
			err = holder.Exclusive(func() error {
				start := time.Now()
				err := rival.WriteNDEF(uriMessage(t, "https://pay.example.com/t/rival"), nfc.WriteOptions{})
				took := time.Since(start)
				if !errors.Is(err, nfc.ErrReaderBusy) || !errors.Is(err, nfc.ErrDevice) {
					t.Errorf("write while another program holds the reader: %v, want ErrReaderBusy", err)
				} else if !strings.Contains(err.Error(), "held by another program") {
					t.Errorf("message %q does not say the reader is held", err)
				}
				if took < 300*time.Millisecond || took > 5*time.Second {
					t.Errorf("the second program waited %v, want about 300ms", took)
				}
				// The holder works on inside its hold; WriteNDEF's own Exclusive nests.
				return holder.WriteNDEF(mine, nfc.WriteOptions{})
			})
			if err != nil {
				t.Fatalf("holder's write: %v", err)
			}
			if got, err := holder.ReadNDEF(); err != nil || !bytes.Equal(got, mine) {
				t.Errorf("after the hold the tag reads % X, %v; want the holder's message", got, err)
			}
			rival.Close()

			again, _, err := nfc.OpenTag(context.Background(), rivalBus, b.name)
			if err != nil {
				t.Fatalf("OpenTag once the reader is free: %v", err)
			}
			defer again.Close()
			theirs := uriMessage(t, "https://pay.example.com/t/rival-later")
			if err := again.WriteNDEF(theirs, nfc.WriteOptions{}); err != nil {
				t.Fatalf("write once the reader is free: %v", err)
			}
			holder.Close()
			check, _ := b.open(t)
			defer check.Close()
			if got, err := check.ReadNDEF(); err != nil || !bytes.Equal(got, theirs) {
				t.Errorf("the tag now reads % X, %v; want the second program's message", got, err)
			}
		})
	}
}

// A program holding the reader with an exclusive connection keeps tagpay waiting,
// not failing, for as long as it is quick about it.
func TestPCSCConnectWaitsForAnExclusiveHolder(t *testing.T) {
	b := newVPCDBench(t, emu.ACR122, image(t, nfc.TypeNTAG213, nil), emu.Faults{})
	other, err := scard.EstablishContext()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release()
	held, err := other.Connect(b.name, scard.ShareExclusive, scard.ProtocolAny)
	if err != nil {
		t.Fatalf("exclusive connection: %v", err)
	}
	go func() {
		time.Sleep(700 * time.Millisecond)
		held.Disconnect(scard.LeaveCard)
	}()
	start := time.Now()
	tag, _, err := nfc.OpenTag(context.Background(), b.bus, b.name)
	if err != nil {
		t.Fatalf("OpenTag while another program held the reader for 0.7 s: %v", err)
	}
	defer tag.Close()
	if took := time.Since(start); took < 600*time.Millisecond {
		t.Errorf("OpenTag returned after %v, before the other program let go", took)
	}
	if tag.Type != nfc.TypeNTAG213 {
		t.Errorf("identified %s", tag.Type)
	}
}
