package nfc

import (
	"errors"
	"fmt"
	"time"
)

// ErrReaderBusy is a reader another program holds for itself (a PC/SC transaction
// or an exclusive connection) for longer than tagpay waits. It matches ErrDevice.
var ErrReaderBusy error = deviceError("reader held by another program")

// DefaultExclusiveWait is how long Exclusive waits, by default, for a reader another
// program holds.
const DefaultExclusiveWait = 10 * time.Second

// Transactor is a Card that can hold its reader for this program alone (PC/SC
// SCardBeginTransaction), so that no other program's APDUs land between its own.
type Transactor interface {
	// BeginTransaction takes the reader, waiting at most wait while another program
	// holds it; then it fails with an error matching ErrReaderBusy.
	BeginTransaction(wait time.Duration) error
	// EndTransaction gives the reader back, leaving the tag powered.
	EndTransaction() error
}

// SetExclusiveWait changes how long Exclusive waits for a reader another program
// holds (0 restores DefaultExclusiveWait).
func (t *Tag) SetExclusiveWait(d time.Duration) { t.wait = d }

// Exclusive runs fn while holding the tag's reader for this program alone, so that
// another program on the same reader cannot slip its commands between fn's: writes,
// locking and password changes run inside it. A reader another program holds is
// waited for (see SetExclusiveWait), then refused with an error matching
// ErrReaderBusy. Calls nest: an inner Exclusive runs inside the outer's hold. Cards
// without transactions (the in-memory bus) just run fn.
func (t *Tag) Exclusive(fn func() error) error {
	if t.held > 0 {
		t.held++
		defer func() { t.held-- }()
		return fn()
	}
	tr, ok := t.card.(Transactor)
	if !ok {
		return fn()
	}
	wait := t.wait
	if wait <= 0 {
		wait = DefaultExclusiveWait
	}
	if err := tr.BeginTransaction(wait); err != nil {
		return err
	}
	t.held++
	err := fn()
	t.held--
	if eerr := tr.EndTransaction(); eerr != nil && err == nil && !errors.Is(eerr, ErrTagRemoved) {
		err = fmt.Errorf("release the reader: %w", eerr)
	}
	return err
}

// BeginTransaction passes through to the card under the counter, when it has
// transactions.
func (c *CountingCard) BeginTransaction(wait time.Duration) error {
	if tr, ok := c.Card.(Transactor); ok {
		return tr.BeginTransaction(wait)
	}
	return nil
}

// EndTransaction passes through to the card under the counter.
func (c *CountingCard) EndTransaction() error {
	if tr, ok := c.Card.(Transactor); ok {
		return tr.EndTransaction()
	}
	return nil
}
