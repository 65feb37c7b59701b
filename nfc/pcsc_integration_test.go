//go:build cgo && !nopcsc

package nfc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/emu"
)

// The vpcd driver's two virtual readers and the loopback ports their card side
// connects to (scripts/pcscd start).
var vpcdReaders = []struct{ name, addr string }{
	{"Virtual PCD 00 00", "127.0.0.1:35963"},
	{"Virtual PCD 00 01", "127.0.0.1:35964"},
}

// vpcdSlot is the reader these tests put their tags in: the second, leaving the
// first to the emulator's own tests, which run in parallel with these.
const vpcdSlot = 1

// needPCSC skips when pcscd with vpcd is not reachable, except in CI where the
// reader path must be tested.
func needPCSC(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + " (start it with scripts/pcscd start)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func openPCSC(t testing.TB) nfc.Bus {
	t.Helper()
	bus, err := nfc.OpenPCSC()
	if err != nil {
		needPCSC(t, "PC/SC unavailable: %v", err)
	}
	t.Cleanup(func() { bus.Close() })
	readers, err := bus.Readers(context.Background())
	if err != nil {
		needPCSC(t, "no PC/SC readers: %v", err)
	}
	for _, v := range vpcdReaders {
		if !slices.ContainsFunc(readers, func(r nfc.ReaderState) bool { return r.Name == v.name }) {
			needPCSC(t, "reader %q not found among %v", v.name, readers)
		}
	}
	return bus
}

// vpcdBench serves an emulated tag into pcscd through a vpcd reader.
type vpcdBench struct {
	bus    nfc.Bus
	reader *emu.Reader
	tag    *emu.Tag
	name   string
}

func newVPCDBench(t testing.TB, p emu.Personality, img *nfc.Image, f emu.Faults) *vpcdBench {
	t.Helper()
	bus := openPCSC(t)
	holdReaders(t)
	v := vpcdReaders[vpcdSlot]
	tag, err := emu.NewTag(img)
	if err != nil {
		t.Fatal(err)
	}
	r := emu.NewReader(v.name, p)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- emu.ServeVPCD(ctx, v.addr, r) }()
	b := &vpcdBench{bus: bus, reader: r, tag: tag, name: v.name}
	t.Cleanup(func() {
		r.Remove()
		b.waitAbsent(t)
		cancel()
		if err := <-served; err != nil {
			t.Errorf("ServeVPCD: %v", err)
		}
	})
	b.insert(t, f)
	return b
}

// insert puts the tag in and waits until pcscd reports it.
func (b *vpcdBench) insert(t testing.TB, f emu.Faults) {
	t.Helper()
	b.reader.Insert(b.tag, f)
	if _, err := nfc.WaitForTag(context.Background(), b.bus, b.name, 10*time.Second); err != nil {
		t.Fatalf("tag did not reach pcscd: %v", err)
	}
}

// waitAbsent waits until pcscd saw the tag go, so the next test starts clean.
func (b *vpcdBench) waitAbsent(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	states, err := b.bus.Readers(ctx)
	for err == nil {
		i := slices.IndexFunc(states, func(r nfc.ReaderState) bool { return r.Name == b.name })
		if i < 0 || !states[i].Present {
			return
		}
		states, err = b.bus.Wait(ctx, states)
	}
	t.Errorf("tag still in %q: %v", b.name, err)
}

func (b *vpcdBench) open(t testing.TB) (*nfc.Tag, *nfc.CountingCard) {
	t.Helper()
	tag, cc, err := nfc.OpenTag(context.Background(), b.bus, b.name)
	if err != nil {
		t.Fatalf("OpenTag: %v", err)
	}
	return tag, cc
}

func genuineImage(t testing.TB, msg []byte) *nfc.Image {
	img, err := nfc.NewImage(nfc.TypeNTAG215, unhex(t, genuineUID), msg)
	if err != nil {
		t.Fatal(err)
	}
	img.Signature = unhex(t, genuineSig)
	return img
}

func TestPCSCReaders(t *testing.T) {
	bus := openPCSC(t)
	for i, v := range vpcdReaders {
		r, err := nfc.SelectReader(context.Background(), bus, v.name)
		if err != nil || r.Name != v.name {
			t.Errorf("select %q: %+v, %v", v.name, r, err)
		}
		if _, err := nfc.SelectReader(context.Background(), bus, fmt.Sprint(i)); err != nil {
			t.Errorf("select by index %d: %v", i, err)
		}
	}
	_, err := bus.Connect(context.Background(), "No Such Reader")
	if !errors.Is(err, nfc.ErrNoReader) {
		t.Errorf("connect to a missing reader: %v, want ErrNoReader", err)
	}
}

func TestPCSCNoTag(t *testing.T) {
	bus := openPCSC(t)
	for _, v := range vpcdReaders {
		states, err := bus.Readers(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(states, func(r nfc.ReaderState) bool { return r.Name == v.name })
		if states[i].Present {
			continue // another test's tag
		}
		if _, err := bus.Connect(context.Background(), v.name); !errors.Is(err, nfc.ErrNoTag) {
			t.Errorf("connect to empty %q: %v, want ErrNoTag", v.name, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := nfc.WaitForTag(ctx, bus, v.name, 0)
			done <- err
		}()
		cancel() // what Ctrl-C does
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled wait: %v, want context.Canceled", err)
		}
		return
	}
}

func TestPCSCTagLifecycle(t *testing.T) {
	for _, p := range personalities {
		t.Run(string(p), func(t *testing.T) {
			msg := uriMessage(t, paymentURL)
			b := newVPCDBench(t, p, genuineImage(t, msg), emu.Faults{})

			tag, _ := b.open(t)
			if tag.Type != nfc.TypeNTAG215 || tag.Personality() != string(p) {
				t.Errorf("identified %s through %q", tag.Type, tag.Personality())
			}
			got, err := tag.ReadNDEF()
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("read % X, %v; want % X", got, err, msg)
			}
			newMsg := uriMessage(t, "https://pay.example.com/t/written-through-pcscd")
			if err := tag.WriteNDEF(newMsg, nfc.WriteOptions{}); err != nil {
				t.Fatalf("write: %v", err)
			}
			dump, err := tag.Dump()
			if err != nil {
				t.Fatalf("dump: %v", err)
			}
			want := b.tag.Image()
			for i := range 130 { // user memory and the dynamic lock page
				if !bytes.Equal(dump.Pages[i], want.Pages[i]) {
					t.Errorf("dump page %d % X, tag % X", i, dump.Pages[i], want.Pages[i])
				}
			}
			if err := tag.Close(); err != nil {
				t.Errorf("close: %v", err)
			}

			checks := nfc.Diagnose(context.Background(), b.bus, nfc.DiagnoseOptions{Reader: b.name})
			for _, c := range checks {
				if c.Status != nfc.StatusPass {
					t.Errorf("%s: %s %s", c.Name, c.Status, c.Detail)
				}
			}
			if len(checks) < 9 {
				t.Errorf("only %d checks ran: %+v", len(checks), checks)
			}
		})
	}
}

func TestPCSCTornWrite(t *testing.T) {
	for _, p := range personalities {
		t.Run(string(p), func(t *testing.T) {
			old := uriMessage(t, "https://old.example.org/a-previous-and-longer-content-on-this-tag")
			b := newVPCDBench(t, p, genuineImage(t, old), emu.Faults{})
			tag, cc := b.open(t)
			opening := cc.APDUs()
			// A write first reads the configuration pages, to refuse a write into a
			// password-protected area before anything lands.
			if _, err := tag.Password(); err != nil {
				t.Fatal(err)
			}
			opening = cc.APDUs()
			tag.Close()
			b.reader.Remove()
			b.waitAbsent(t)

			const k = 3 // three pages land, then the tag leaves
			b.insert(t, emu.Faults{RemoveAfter: opening + k})
			tag, _ = b.open(t)
			err := tag.WriteNDEF(uriMessage(t, paymentURL), nfc.WriteOptions{})
			tag.Close()
			var torn *nfc.TornWriteError
			if !errors.As(err, &torn) || !errors.Is(err, nfc.ErrTagRemoved) {
				t.Fatalf("err = %v, want a TornWriteError from a removed tag", err)
			}
			if !slices.Equal(torn.PagesWritten, []int{4, 5, 6}) {
				t.Errorf("pages written %v, want [4 5 6]", torn.PagesWritten)
			}
			b.waitAbsent(t)
			b.insert(t, emu.Faults{})
			ndefCheck := find(t, nfc.Diagnose(context.Background(), b.bus, nfc.DiagnoseOptions{Reader: b.name}), nfc.CheckNDEF)
			if ndefCheck.Status != nfc.StatusFail {
				t.Errorf("torn tag diagnosed %s: %s", ndefCheck.Status, ndefCheck.Detail)
			}
		})
	}
}

func TestPCSCType4(t *testing.T) {
	key := make([]byte, 16)
	img, err := nfc.NewImage(nfc.TypeNTAG424DNA, unhex(t, "04DE5F1EACC040"), nil)
	if err != nil {
		t.Fatal(err)
	}
	img.SUN = &nfc.SUNConfig{BaseURL: "https://pay.example.com/s", MetaKey: key, FileKey: key}
	b := newVPCDBench(t, emu.ACR122, img, emu.Faults{})
	checks := nfc.Diagnose(context.Background(), b.bus, nfc.DiagnoseOptions{Reader: b.name, MetaKey: key, FileKey: key})
	if c := find(t, checks, nfc.CheckSUN); c.Status != nfc.StatusPass {
		t.Errorf("SUN check %s: %s", c.Status, c.Detail)
	}
	if c := find(t, checks, nfc.CheckIC); c.Status != nfc.StatusPass || !bytes.Contains([]byte(c.Detail), []byte("424")) {
		t.Errorf("IC check %s: %s", c.Status, c.Detail)
	}
}

func TestPCSCWatch(t *testing.T) {
	msg := uriMessage(t, shortURL)
	b := newVPCDBench(t, emu.ACR122, genuineImage(t, msg), emu.Faults{})
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan nfc.Event, 16)
	done := make(chan error, 1)
	go func() {
		done <- nfc.Watch(ctx, b.bus, func(e nfc.Event) error {
			if e.Reader == b.name {
				events <- e
			}
			return nil
		})
	}()
	next := func() nfc.Event {
		select {
		case e := <-events:
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event from Watch")
		}
		return nfc.Event{}
	}
	if e := next(); e.Kind != nfc.EventArrival || !bytes.Equal(e.UID, unhex(t, genuineUID)) {
		t.Errorf("first event %+v, want the arrival of %s", e, genuineUID)
	}
	b.reader.Remove()
	if e := next(); e.Kind != nfc.EventRemoval || !bytes.Equal(e.UID, unhex(t, genuineUID)) {
		t.Errorf("event %+v, want the removal of %s", e, genuineUID)
	}
	b.reader.Insert(b.tag, emu.Faults{})
	if e := next(); e.Kind != nfc.EventArrival {
		t.Errorf("event %+v, want an arrival", e)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watch after cancel: %v", err)
	}
}

// BenchmarkPCSCTagRead is `tagpay tag read` through pcscd: connect, identify, read
// the NDEF message (an NTAG215 with a 60-character payment URL), disconnect.
func BenchmarkPCSCTagRead(b *testing.B) {
	for _, p := range personalities {
		b.Run(string(p), func(b *testing.B) {
			msg := uriMessage(b, paymentURL)
			v := newVPCDBench(b, p, genuineImage(b, msg), emu.Faults{})
			apdus, ops := 0, 0
			for b.Loop() {
				tag, cc, err := nfc.OpenTag(context.Background(), v.bus, v.name)
				if err != nil {
					b.Fatal(err)
				}
				got, err := tag.ReadNDEF()
				if err != nil || !bytes.Equal(got, msg) {
					b.Fatalf("read % X, %v", got, err)
				}
				tag.Close()
				apdus += cc.APDUs()
				ops++
			}
			b.ReportMetric(float64(apdus)/float64(ops), "APDUs/op")
		})
	}
}

// holdReaders keeps the vpcd readers to this test until it ends, across processes: go
// test runs packages in parallel, and other packages' tests use the same readers.
func holdReaders(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	release, err := emu.LockReaders(ctx)
	if err != nil {
		tb.Fatalf("waiting for the vpcd readers: %v", err)
	}
	tb.Cleanup(release)
}
