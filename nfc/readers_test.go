package nfc_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/emu"
)

var shelfNames = []string{
	"ACS ACR122U PICC Interface 00 00",
	"ACS ACR1252 1S CL Reader PICC 01 00",
	"ACS ACR1252 1S CL Reader SAM 01 01",
}

// shelf is a bus of three readers named shelfNames; withTag lists which hold a tag.
func shelf(t *testing.T, withTag ...int) (nfc.Bus, []*emu.Reader) {
	t.Helper()
	readers := []*emu.Reader{
		emu.NewReader(shelfNames[0], emu.ACR122),
		emu.NewReader(shelfNames[1], emu.Part3),
		emu.NewReader(shelfNames[2], emu.Part3),
	}
	for _, i := range withTag {
		tag, err := emu.NewTag(image(t, nfc.TypeNTAG213, nil))
		if err != nil {
			t.Fatal(err)
		}
		readers[i].Insert(tag, emu.Faults{})
	}
	bus := emu.NewBus(readers...)
	t.Cleanup(func() { bus.Close() })
	return bus, readers
}

func TestSelectReader(t *testing.T) {
	cases := []struct {
		name    string
		withTag []int
		spec    string
		want    string // reader picked, "" for an error
	}{
		{"default is the first reader with a tag", []int{1}, "", "ACS ACR1252 1S CL Reader PICC 01 00"},
		{"default without tags is the first reader", nil, "", "ACS ACR122U PICC Interface 00 00"},
		{"by index", nil, "2", "ACS ACR1252 1S CL Reader SAM 01 01"},
		{"index out of range", nil, "3", ""},
		{"negative index", nil, "-1", ""},
		{"exact name", nil, "ACS ACR122U PICC Interface 00 00", "ACS ACR122U PICC Interface 00 00"},
		{"unique part, any case", nil, "acr122", "ACS ACR122U PICC Interface 00 00"},
		{"ambiguous part", nil, "ACR1252", ""},
		{"no match", nil, "Identiv", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bus, _ := shelf(t, c.withTag...)
			r, err := nfc.SelectReader(context.Background(), bus, c.spec)
			if c.want == "" {
				if !errors.Is(err, nfc.ErrNoReader) {
					t.Errorf("picked %q, %v; want ErrNoReader", r.Name, err)
				}
				return
			}
			if err != nil || r.Name != c.want {
				t.Errorf("picked %q, %v; want %q", r.Name, err, c.want)
			}
		})
	}
	t.Run("no readers at all", func(t *testing.T) {
		_, err := nfc.SelectReader(context.Background(), emu.NewBus(), "")
		if !errors.Is(err, nfc.ErrNoReader) || !errors.Is(err, nfc.ErrDevice) {
			t.Errorf("err = %v, want ErrNoReader", err)
		}
	})
}

func TestOpenTagWithoutTag(t *testing.T) {
	bus, _ := shelf(t)
	_, _, err := nfc.OpenTag(context.Background(), bus, "acr122")
	if !errors.Is(err, nfc.ErrNoTag) || !errors.Is(err, nfc.ErrDevice) {
		t.Errorf("err = %v, want ErrNoTag", err)
	}
}

func TestWaitForTag(t *testing.T) {
	t.Run("tag already there", func(t *testing.T) {
		bus, _ := shelf(t, 2)
		r, err := nfc.WaitForTag(context.Background(), bus, "", time.Minute)
		if err != nil || r.Name != "ACS ACR1252 1S CL Reader SAM 01 01" || !r.Present {
			t.Errorf("got %+v, %v", r, err)
		}
	})
	t.Run("tag arrives on the reader waited for", func(t *testing.T) {
		bus, readers := shelf(t)
		done := make(chan nfc.ReaderState, 1)
		go func() {
			r, err := nfc.WaitForTag(context.Background(), bus, "PICC 01", 0)
			if err != nil {
				t.Error(err)
			}
			done <- r
		}()
		// A tag on another reader does not end the wait; one on ours does.
		tag, _ := emu.NewTag(image(t, nfc.TypeNTAG215, nil))
		readers[0].Insert(tag, emu.Faults{})
		other, _ := emu.NewTag(image(t, nfc.TypeNTAG213, nil))
		readers[1].Insert(other, emu.Faults{})
		if r := <-done; r.Name != shelfNames[1] || !r.Present {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		bus, _ := shelf(t)
		_, err := nfc.WaitForTag(context.Background(), bus, "", time.Millisecond)
		if !errors.Is(err, nfc.ErrNoTag) {
			t.Errorf("err = %v, want ErrNoTag", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		bus, _ := shelf(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := nfc.WaitForTag(ctx, bus, "", time.Minute)
		if !errors.Is(err, context.Canceled) || errors.Is(err, nfc.ErrNoTag) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}

func TestWatch(t *testing.T) {
	bus, readers := shelf(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan nfc.Event)
	done := make(chan error, 1)
	go func() {
		done <- nfc.Watch(ctx, bus, func(e nfc.Event) error {
			events <- e
			return nil
		})
	}()
	present := image(t, nfc.TypeNTAG213, nil).UID
	if e := <-events; e.Kind != nfc.EventArrival || e.Reader != shelfNames[0] || !bytes.Equal(e.UID, present) || len(e.ATR) == 0 {
		t.Errorf("tag present at start: %+v", e)
	}
	img := image(t, nfc.TypeNTAG424DNA, nil)
	img.UID = unhex(t, "04DE5F1EACC040")
	tag, err := emu.NewTag(img)
	if err != nil {
		t.Fatal(err)
	}
	readers[2].Insert(tag, emu.Faults{})
	if e := <-events; e.Kind != nfc.EventArrival || e.Reader != shelfNames[2] || !bytes.Equal(e.UID, img.UID) {
		t.Errorf("arrival: %+v", e)
	}
	readers[0].Remove()
	if e := <-events; e.Kind != nfc.EventRemoval || e.Reader != shelfNames[0] || !bytes.Equal(e.UID, present) {
		t.Errorf("removal: %+v", e)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watch returned %v after cancel, want nil", err)
	}
}

func TestWatchStopsWhenEmitFails(t *testing.T) {
	bus, _ := shelf(t, 1)
	stop := errors.New("output closed")
	err := nfc.Watch(context.Background(), bus, func(nfc.Event) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("err = %v, want the emit error", err)
	}
}
