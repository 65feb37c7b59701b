package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/emu"
)

// memReaderName names the in-memory reader a virtual tag sits on when pcscd cannot
// take it.
const memReaderName = "tagpay in-memory reader"

// virtualTag is an emulated tag placed where tagpay's reader code reaches it: in a vpcd
// reader of the running pcscd when there is one, else on an in-memory reader. Either
// way it is read through Access, exactly as `tag provision` and `pay` read real tags.
type virtualTag struct {
	Access TagAccess
	Tag    *emu.Tag
	PCSC   bool   // served into pcscd through vpcd
	Reader string // the reader's name
	Why    string // why the in-memory reader was used, when PCSC is false
	stop   func() error
}

// Stop takes the tag out of the reader.
func (v *virtualTag) Stop() error { return v.stop() }

// placeVirtualTag puts the tag img describes behind a reader of personality p. With
// openPCSC it probes pcscd for a free vpcd reader (waiting up to busyWait while every
// one holds another program's tag); when pcscd, vpcd or a free reader is missing, the
// tag goes on an in-memory reader and Why says what was missing. tagWait bounds each
// later wait for the tag.
func placeVirtualTag(ctx context.Context, img *nfc.Image, p emu.Personality, openPCSC func() (nfc.Bus, error), busyWait, tagWait time.Duration) (*virtualTag, error) {
	tag, err := emu.NewTag(img)
	if err != nil {
		return nil, fmt.Errorf("virtual tag: %w", err)
	}
	why := "this build has no PC/SC access"
	if openPCSC != nil {
		e, reason, err := serveInVPCD(ctx, img, p, openPCSC, busyWait)
		if err != nil {
			return nil, err
		}
		if e != nil {
			return &virtualTag{
				Access: TagAccess{OpenBus: openPCSC, Reader: e.name, Wait: tagWait},
				Tag:    e.Tag, PCSC: true, Reader: e.name, stop: e.Stop,
			}, nil
		}
		why = reason
	}
	r := emu.NewReader(memReaderName, p)
	r.Insert(tag, emu.Faults{})
	return &virtualTag{
		Access: TagAccess{OpenBus: func() (nfc.Bus, error) { return emu.NewBus(r), nil }, Reader: memReaderName, Wait: tagWait},
		Tag:    tag, Reader: memReaderName, Why: why,
		stop: func() error { r.Remove(); return nil },
	}, nil
}

// serveInVPCD serves the tag in the first vpcd reader of pcscd that holds no tag and
// that no other emulator has taken. It returns a nil emulator and the reason when pcscd
// cannot take the tag, and an error only when ctx ends.
func serveInVPCD(ctx context.Context, img *nfc.Image, p emu.Personality, openPCSC func() (nfc.Bus, error), busyWait time.Duration) (*emulator, string, error) {
	bus, err := openPCSC()
	if err != nil {
		return nil, fmt.Sprintf("pcscd is not reachable (%v)", err), nil
	}
	defer bus.Close()
	wctx, cancel := context.WithTimeout(ctx, busyWait)
	defer cancel()
	states, err := bus.Readers(wctx)
	for {
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		if err != nil {
			return nil, fmt.Sprintf("pcscd did not list its readers (%v)", err), nil
		}
		found, lastBusy := 0, error(nil)
		for slot := range vpcdSlots {
			name := vpcdReaderName(slot)
			i := indexOfReader(states, name)
			if i < 0 {
				continue
			}
			found++
			if states[i].Present {
				continue
			}
			e, err := startEmulator(ctx, img, slot, p, emu.Faults{}, openPCSC, 0)
			if err == nil {
				err = checkServed(ctx, bus, e, img.UID)
			}
			switch {
			case err == nil:
				return e, "", nil
			case errors.Is(err, errSlotOccupied):
				lastBusy = err
			default:
				return nil, fmt.Sprintf("the vpcd reader %q did not take the tag (%v)", name, err), nil
			}
		}
		if found == 0 {
			return nil, "pcscd has no vpcd reader (see scripts/pcscd)", nil
		}
		// Every vpcd reader holds another program's tag: wait for one to leave.
		if states, err = bus.Wait(wctx, states); wctx.Err() != nil && ctx.Err() == nil {
			why := fmt.Sprintf("every vpcd reader stayed busy for %s", busyWait)
			if lastBusy != nil {
				why += fmt.Sprintf(" (%v)", lastBusy)
			}
			return nil, why, nil
		}
	}
}

// checkServed reads the UID of the tag pcscd reports in e's reader: a program that
// serves vpcd without taking tagpay's slot lock may have put its tag there first, and
// vpcd then holds ours back. Such a slot is occupied; e is stopped.
func checkServed(ctx context.Context, bus nfc.Bus, e *emulator, uid []byte) error {
	tag, _, err := nfc.OpenTag(ctx, bus, e.name)
	if tag != nil {
		if err == nil && !bytes.Equal(tag.UID, uid) {
			err = fmt.Errorf("%q serves another program's tag (%X): %w", e.name, tag.UID, errSlotOccupied)
		}
		tag.Close()
	}
	if err != nil {
		return errors.Join(err, e.Stop())
	}
	return nil
}

func indexOfReader(states []nfc.ReaderState, name string) int {
	for i, s := range states {
		if s.Name == name {
			return i
		}
	}
	return -1
}
