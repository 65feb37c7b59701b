package emu

import (
	"context"
	"errors"
	"testing"

	"github.com/tagpay/tagpay/nfc"
)

func TestBusReadersAndConnect(t *testing.T) {
	a, b := NewReader("Reader A", ACR122), NewReader("Reader B", Part3)
	tag := newTestTag(t, blankImage(t, nfc.TypeNTAG215))
	b.Insert(tag, Faults{})
	bus := NewBus(a, b)
	defer bus.Close()
	ctx := context.Background()

	states, err := bus.Readers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 2 || states[0].Name != "Reader A" || states[0].Present || !states[1].Present || len(states[1].ATR) != 20 {
		t.Fatalf("Readers = %+v", states)
	}
	if _, err := bus.Connect(ctx, "Reader A"); !errors.Is(err, nfc.ErrNoTag) {
		t.Errorf("Connect to an empty reader: %v, want ErrNoTag", err)
	}
	if _, err := bus.Connect(ctx, "Reader C"); !errors.Is(err, nfc.ErrNoReader) {
		t.Errorf("Connect to an unknown reader: %v, want ErrNoReader", err)
	}
	card, err := bus.Connect(ctx, "Reader B")
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := card.Transmit(mustHex("FFCA000000")); err != nil || len(resp) != 9 {
		t.Fatalf("GET UID = %X, %v", resp, err)
	}
	if len(card.ATR()) != 20 {
		t.Errorf("card ATR = %X", card.ATR())
	}

	// The connection belongs to the tag that was there: once it leaves, even a new tag
	// in the same reader needs a new Connect.
	b.Remove()
	b.Insert(tag, Faults{})
	if _, err := card.Transmit(mustHex("FFCA000000")); !errors.Is(err, nfc.ErrTagRemoved) {
		t.Errorf("Transmit on a stale connection: %v, want ErrTagRemoved", err)
	}
	card2, err := bus.Connect(ctx, "Reader B")
	if err != nil {
		t.Fatal(err)
	}
	card2.Close()
	if _, err := card2.Transmit(mustHex("FFCA000000")); err == nil {
		t.Error("Transmit on a closed connection succeeded")
	}
}

func TestBusWaitSeesInsertAndRemove(t *testing.T) {
	r := NewReader("Reader A", ACR122)
	bus := NewBus(r)
	defer bus.Close()
	ctx := context.Background()
	known, err := bus.Readers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tag := newTestTag(t, blankImage(t, nfc.TypeNTAG213))

	type result struct {
		states []nfc.ReaderState
		err    error
	}
	wait := func(known []nfc.ReaderState) chan result {
		ch := make(chan result, 1)
		go func() {
			s, err := bus.Wait(ctx, known)
			ch <- result{s, err}
		}()
		return ch
	}

	done := wait(known)
	r.Insert(tag, Faults{})
	got := <-done
	if got.err != nil || len(got.states) != 1 || !got.states[0].Present {
		t.Fatalf("Wait after Insert = %+v, %v", got.states, got.err)
	}

	done = wait(got.states)
	r.Remove()
	got = <-done
	if got.err != nil || got.states[0].Present {
		t.Fatalf("Wait after Remove = %+v, %v", got.states, got.err)
	}

	// A removal through faults wakes a watcher too.
	r.Insert(tag, Faults{RemoveAfter: 1})
	present, _ := bus.Readers(ctx)
	done = wait(present)
	if _, err := r.Transmit(mustHex("FFCA000000")); err != nil {
		t.Fatal(err)
	}
	if got = <-done; got.err != nil || got.states[0].Present {
		t.Fatalf("Wait after a fault removal = %+v, %v", got.states, got.err)
	}
}

func TestBusWaitReturnsAtOnceWhenStatesDiffer(t *testing.T) {
	r := NewReader("Reader A", ACR122)
	r.Insert(newTestTag(t, blankImage(t, nfc.TypeNTAG213)), Faults{})
	bus := NewBus(r)
	defer bus.Close()
	states, err := bus.Wait(context.Background(), nil)
	if err != nil || len(states) != 1 || !states[0].Present {
		t.Errorf("Wait with nothing known = %+v, %v", states, err)
	}
}

func TestBusWaitEnds(t *testing.T) {
	r := NewReader("Reader A", ACR122)
	bus := NewBus(r)
	known, _ := bus.Readers(context.Background())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := bus.Wait(ctx, known); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Wait after cancel: %v", err)
	}

	go func() { _, err := bus.Wait(context.Background(), known); done <- err }()
	bus.Close()
	if err := <-done; err == nil {
		t.Error("Wait after Close returned no error")
	}
	if _, err := bus.Readers(context.Background()); err == nil {
		t.Error("Readers after Close returned no error")
	}
}
