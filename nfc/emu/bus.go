package emu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tagpay/tagpay/nfc"
)

// errBusClosed is what a closed bus answers.
var errBusClosed = errors.New("emu: bus closed")

type bus struct {
	readers []*Reader
	done    chan struct{}
	once    sync.Once
}

// NewBus returns an in-memory nfc.Bus over the given readers, for unit tests: Insert
// and Remove on a reader wake a pending Wait.
func NewBus(readers ...*Reader) nfc.Bus {
	return &bus{readers: readers, done: make(chan struct{})}
}

func (b *bus) closed() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

func (b *bus) Readers(ctx context.Context) ([]nfc.ReaderState, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	states, _ := b.snapshot()
	return states, nil
}

func (b *bus) check(ctx context.Context) error {
	if b.closed() {
		return errBusClosed
	}
	return ctx.Err()
}

// snapshot reads every reader's state, with channels closed at each reader's next change.
func (b *bus) snapshot() ([]nfc.ReaderState, []<-chan struct{}) {
	states := make([]nfc.ReaderState, len(b.readers))
	changes := make([]<-chan struct{}, len(b.readers))
	for i, r := range b.readers {
		t, _, ch := r.state()
		states[i] = nfc.ReaderState{Name: r.name, Present: t != nil}
		if t != nil {
			states[i].ATR = t.atr()
		}
		changes[i] = ch
	}
	return states, changes
}

func (b *bus) Connect(ctx context.Context, name string) (nfc.Card, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	for _, r := range b.readers {
		if r.name != name {
			continue
		}
		t, gen, _ := r.state()
		if t == nil {
			return nil, fmt.Errorf("emu: %s: %w", name, nfc.ErrNoTag)
		}
		return &card{r: r, gen: gen, atr: t.atr()}, nil
	}
	return nil, fmt.Errorf("emu: %q: %w", name, nfc.ErrNoReader)
}

func (b *bus) Wait(ctx context.Context, known []nfc.ReaderState) ([]nfc.ReaderState, error) {
	for {
		if err := b.check(ctx); err != nil {
			return nil, err
		}
		states, changes := b.snapshot()
		if !sameStates(states, known) {
			return states, nil
		}
		woken := make(chan struct{})
		stop := make(chan struct{})
		for _, ch := range changes {
			go func() {
				select {
				case <-ch:
					select {
					case woken <- struct{}{}:
					case <-stop:
					}
				case <-stop:
				}
			}()
		}
		select {
		case <-woken:
		case <-ctx.Done():
		case <-b.done:
		}
		close(stop)
	}
}

// sameStates compares what a watcher cares about: which readers exist, which hold a
// tag, and which tag (by ATR).
func sameStates(a, b []nfc.ReaderState) bool {
	if len(a) != len(b) {
		return false
	}
	byName := make(map[string]nfc.ReaderState, len(b))
	for _, s := range b {
		byName[s.Name] = s
	}
	for _, s := range a {
		k, ok := byName[s.Name]
		if !ok || k.Present != s.Present || !bytes.Equal(k.ATR, s.ATR) {
			return false
		}
	}
	return true
}

func (b *bus) Close() error {
	b.once.Do(func() { close(b.done) })
	return nil
}

// card is a connection to the tag a reader held at Connect; once that tag leaves, every
// Transmit fails with nfc.ErrTagRemoved, even if another tag came since.
type card struct {
	r      *Reader
	gen    uint64
	atr    []byte
	mu     sync.Mutex
	closed bool
}

func (c *card) ATR() []byte { return bytes.Clone(c.atr) }

func (c *card) Transmit(apdu []byte) ([]byte, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("emu: %s: connection closed", c.r.name)
	}
	return c.r.transmit(c.gen, apdu)
}

func (c *card) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}
