//go:build (cgo || windows) && !nopcsc

// On Linux and macOS ebfe/scard links libpcsclite through cgo; on Windows it calls
// winscard.dll directly, so release builds for Windows keep PC/SC without cgo.

package nfc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ebfe/scard"
)

// pnpReader is pcsc-lite's pseudo reader whose state changes when a reader is plugged
// in or out; watching it lets Wait notice new readers without polling.
const pnpReader = `\\?PnP?\Notification`

// waitSlice is the longest one blocking status wait lasts before Wait looks at its
// context again.
const waitSlice = 500 * time.Millisecond

// pcscBus is the system's PC/SC service.
type pcscBus struct {
	mu     sync.Mutex
	ctx    *scard.Context
	waitMu sync.Mutex     // one Wait at a time
	wait   *scard.Context // own context so Cancel aborts only the wait
	closed bool
}

// OpenPCSC connects to the PC/SC service (pcscd on Linux and macOS, the Smart Card
// service on Windows).
func OpenPCSC() (Bus, error) {
	c, err := scard.EstablishContext()
	if err != nil {
		return nil, pcscError("connect to the PC/SC service", "", err)
	}
	return &pcscBus{ctx: c}, nil
}

func (b *pcscBus) context() (*scard.Context, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("%w: PC/SC connection already closed", ErrReaderFault)
	}
	return b.ctx, nil
}

func (b *pcscBus) listReaders(c *scard.Context) ([]string, error) {
	names, err := c.ListReaders()
	if err != nil {
		return nil, pcscError("list readers", "", err)
	}
	if len(names) == 0 {
		return nil, pcscError("list readers", "", scard.ErrNoReadersAvailable)
	}
	return names, nil
}

// snapshot asks PC/SC for the current state of every named reader without waiting.
func snapshot(c *scard.Context, names []string) ([]scard.ReaderState, error) {
	rs := make([]scard.ReaderState, len(names))
	for i, n := range names {
		rs[i] = scard.ReaderState{Reader: n, CurrentState: scard.StateUnaware}
	}
	if err := c.GetStatusChange(rs, 0); err != nil {
		return nil, pcscError("read reader states", "", err)
	}
	return rs, nil
}

func toReaderStates(rs []scard.ReaderState) []ReaderState {
	out := make([]ReaderState, 0, len(rs))
	for _, r := range rs {
		if r.Reader == pnpReader {
			continue
		}
		present := r.EventState&scard.StatePresent != 0 && r.EventState&scard.StateMute == 0
		st := ReaderState{Name: r.Reader, Present: present}
		if present {
			st.ATR = append([]byte(nil), r.Atr...)
		}
		out = append(out, st)
	}
	return out
}

func (b *pcscBus) Readers(ctx context.Context) ([]ReaderState, error) {
	c, err := b.context()
	if err != nil {
		return nil, err
	}
	names, err := b.listReaders(c)
	if err != nil {
		return nil, err
	}
	rs, err := snapshot(c, names)
	if err != nil {
		return nil, err
	}
	return toReaderStates(rs), nil
}

func (b *pcscBus) Connect(ctx context.Context, reader string) (Card, error) {
	if _, err := b.context(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Each card gets its own context: pcsc-lite serialises the calls of one context,
	// so a transaction stuck behind another program must not stall the bus.
	own, err := scard.EstablishContext()
	if err != nil {
		return nil, pcscError("connect to the PC/SC service", "", err)
	}
	// A reader another program holds exclusively refuses the connection at once:
	// try again for a while, as for a transaction, before saying so.
	deadline := time.Now().Add(DefaultExclusiveWait)
	card, err := own.Connect(reader, scard.ShareShared, scard.ProtocolAny)
	for errors.Is(err, scard.ErrSharingViolation) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		card, err = own.Connect(reader, scard.ShareShared, scard.ProtocolAny)
	}
	if err != nil {
		_ = own.Release()
		if errors.Is(err, scard.ErrSharingViolation) {
			return nil, fmt.Errorf("%w: reader %q is held by another program, which kept it for more than %v; close other NFC tools (or let them finish) and retry (PC/SC: %w)", ErrReaderBusy, reader, DefaultExclusiveWait, err)
		}
		return nil, pcscError("connect", reader, err)
	}
	st, err := card.Status()
	if err != nil {
		_ = card.Disconnect(scard.LeaveCard)
		_ = own.Release()
		return nil, pcscError("read the ATR", reader, err)
	}
	return &pcscCard{card: card, ctx: own, reader: reader, atr: append([]byte(nil), st.Atr...)}, nil
}

// Wait blocks in SCardGetStatusChange; a goroutine turns ctx's end (Ctrl-C) into
// SCardCancel, which makes the blocked call return at once.
func (b *pcscBus) Wait(ctx context.Context, known []ReaderState) ([]ReaderState, error) {
	b.waitMu.Lock()
	defer b.waitMu.Unlock()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, fmt.Errorf("%w: PC/SC connection already closed", ErrReaderFault)
	}
	if b.wait == nil {
		w, err := scard.EstablishContext()
		if err != nil {
			b.mu.Unlock()
			return nil, pcscError("connect to the PC/SC service", "", err)
		}
		b.wait = w
	}
	w := b.wait
	b.mu.Unlock()

	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
			_ = w.Cancel()
		case <-stop:
		}
	}()

	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		names, err := w.ListReaders()
		if err != nil && !errors.Is(err, scard.ErrNoReadersAvailable) {
			return nil, pcscError("list readers", "", err)
		}
		rs := make([]scard.ReaderState, 0, len(names)+1)
		for _, n := range names {
			rs = append(rs, scard.ReaderState{Reader: n, CurrentState: scard.StateUnaware})
		}
		if len(rs) > 0 {
			if err := w.GetStatusChange(rs, 0); err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, pcscError("read reader states", "", err)
			}
		}
		now := toReaderStates(rs)
		if !sameStates(now, known) {
			return now, nil
		}
		for i := range rs {
			rs[i].CurrentState = rs[i].EventState &^ scard.StateChanged
		}
		// pcsc-lite keeps the reader count in the upper half of the PnP state.
		rs = append(rs, scard.ReaderState{Reader: pnpReader, CurrentState: scard.StateFlag(len(names) << 16)})
		// Bounded, so a cancel that lands between the ctx check above and this call
		// (pcsc-lite only cancels a wait already blocked) is seen within the bound.
		err = w.GetStatusChange(rs, waitSlice)
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(err, scard.ErrTimeout), errors.Is(err, scard.ErrCancelled):
			b.mu.Lock()
			closed := b.closed
			b.mu.Unlock()
			if closed {
				return nil, fmt.Errorf("%w: PC/SC connection closed while waiting", ErrReaderFault)
			}
		case errors.Is(err, scard.ErrUnknownReader), errors.Is(err, scard.ErrReaderUnavailable):
			// A reader went away between listing and waiting: list again.
			time.Sleep(50 * time.Millisecond)
		case err != nil:
			return nil, pcscError("wait for a reader or tag", "", err)
		}
	}
}

func (b *pcscBus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	if b.wait != nil {
		_ = b.wait.Cancel()
	}
	b.mu.Unlock()

	// A pending Wait returns once cancelled; only then is its context free to release.
	b.waitMu.Lock()
	if b.wait != nil {
		_ = b.wait.Release()
		b.wait = nil
	}
	b.waitMu.Unlock()
	if err := b.ctx.Release(); err != nil {
		return pcscError("release the PC/SC context", "", err)
	}
	return nil
}

// pcscCard is a connected tag.
type pcscCard struct {
	card   *scard.Card
	ctx    *scard.Context // the card's own
	reader string
	atr    []byte
	// pending is closed once a transaction request given up on (another program
	// held the reader too long) has returned and been undone; until then the card's
	// context is blocked inside pcsc-lite and must not be used.
	pending chan struct{}
}

func (c *pcscCard) ATR() []byte { return c.atr }

// stuck tells whether an abandoned transaction request still blocks the card.
func (c *pcscCard) stuck() bool {
	if c.pending == nil {
		return false
	}
	select {
	case <-c.pending:
		c.pending = nil
		return false
	default:
		return true
	}
}

func (c *pcscCard) busy(wait time.Duration) error {
	return fmt.Errorf("%w: reader %q is held by another program, which kept it for more than %v; close other NFC tools (or let them finish) and retry", ErrReaderBusy, c.reader, wait)
}

// BeginTransaction is SCardBeginTransaction, which pcsc-lite lets wait for as long as
// another program holds the reader; past wait the request is abandoned (it finishes,
// and is undone, in the background) and the card refuses further use.
func (c *pcscCard) BeginTransaction(wait time.Duration) error {
	if c.pending != nil {
		select {
		case <-c.pending:
			c.pending = nil
		case <-time.After(wait):
			return c.busy(wait)
		}
	}
	done := make(chan error, 1)
	go func() { done <- c.card.BeginTransaction() }()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			return pcscError("take the reader for this program", c.reader, err)
		}
		return nil
	case <-timer.C:
	}
	pending := make(chan struct{})
	c.pending = pending
	go func() {
		if err := <-done; err == nil {
			_ = c.card.EndTransaction(scard.LeaveCard)
		}
		close(pending)
	}()
	return c.busy(wait)
}

func (c *pcscCard) EndTransaction() error {
	if c.stuck() {
		return nil
	}
	if err := c.card.EndTransaction(scard.LeaveCard); err != nil {
		return pcscError("give the reader back", c.reader, err)
	}
	return nil
}

func (c *pcscCard) Transmit(apdu []byte) ([]byte, error) {
	if c.stuck() {
		return nil, fmt.Errorf("%w: reader %q is held by another program", ErrReaderBusy, c.reader)
	}
	// ebfe/scard indexes cmd[0] and needs a T=0/T=1 protocol: both would panic.
	if len(apdu) == 0 {
		return nil, errors.New("refusing to transmit an empty APDU")
	}
	if c.card.ActiveProtocol() == scard.ProtocolUndefined {
		return nil, fmt.Errorf("%w: the connection to %q has no T=0/T=1 protocol (direct mode) and cannot carry APDUs", ErrReaderFault, c.reader)
	}
	r, err := c.card.Transmit(apdu)
	if err != nil {
		if errors.Is(err, scard.ErrNotTransacted) || errors.Is(err, scard.ErrCommError) {
			if gone := c.removedSince(); gone != nil {
				return nil, pcscError("transmit", c.reader, gone)
			}
		}
		return nil, pcscError("transmit", c.reader, err)
	}
	if len(r) < 2 {
		// vpcd (and some readers) hand back an empty reply when the card vanished
		// mid-exchange, before pcscd has noticed the removal.
		if gone := c.removedSince(); gone != nil {
			return nil, pcscError("transmit", c.reader, gone)
		}
	}
	return r, nil
}

// removedSince tells a tag pulled away mid-exchange from a tag that failed: the
// reader answers "transaction failed" at once and reports the removal only at its
// next poll, a few hundred milliseconds later. It returns the removal error, or nil
// when the tag is still there after a second.
func (c *pcscCard) removedSince() error {
	for range 20 {
		st, err := c.card.Status()
		switch {
		case errors.Is(err, scard.ErrRemovedCard), errors.Is(err, scard.ErrNoSmartcard), errors.Is(err, scard.ErrResetCard):
			return err
		case err != nil:
			return nil
		case st.State&scard.Present == 0:
			return scard.ErrRemovedCard
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func (c *pcscCard) Close() error {
	if c.stuck() {
		// The context is blocked until the other program lets go: clean up then.
		pending := c.pending
		go func() {
			<-pending
			_ = c.card.Disconnect(scard.LeaveCard)
			_ = c.ctx.Release()
		}()
		return nil
	}
	err := c.card.Disconnect(scard.LeaveCard)
	_ = c.ctx.Release()
	if err != nil {
		return pcscError("disconnect", c.reader, err)
	}
	return nil
}

// pcscError turns a PC/SC status into one of the package's reader/tag errors with
// advice a person at the reader can follow. Other errors pass through unchanged.
func pcscError(op, reader string, err error) error {
	var se scard.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("%s: %w", op, err)
	}
	where := ""
	if reader != "" {
		where = fmt.Sprintf(" %q", reader)
	}
	var kind error
	var advice string
	switch se {
	case scard.ErrNoService, scard.ErrServiceStopped:
		kind, advice = ErrNoReader, "the PC/SC service (pcscd) is not running; start it (e.g. systemctl start pcscd) and retry"
	case scard.ErrNoReadersAvailable:
		kind, advice = ErrNoReader, "no reader is connected; plug one in and check that pcscd sees it"
	case scard.ErrUnknownReader, scard.ErrReaderUnavailable:
		kind, advice = ErrNoReader, fmt.Sprintf("reader%s is not available; check it is plugged in and the name is right (see reader list)", where)
	case scard.ErrNoSmartcard:
		kind, advice = ErrNoTag, fmt.Sprintf("no tag on reader%s; place a tag on it", where)
	case scard.ErrRemovedCard, scard.ErrResetCard:
		kind, advice = ErrTagRemoved, fmt.Sprintf("the tag left reader%s during %s; hold it still on the reader and retry", where, op)
	case scard.ErrUnresponsiveCard, scard.ErrUnpoweredCard, scard.ErrUnsupportedCard:
		kind, advice = ErrReaderFault, fmt.Sprintf("the tag on reader%s does not answer; reposition it and retry", where)
	case scard.ErrSharingViolation:
		kind, advice = ErrReaderBusy, fmt.Sprintf("reader%s is held by another program; close other NFC tools and retry", where)
	case scard.ErrCancelled:
		return fmt.Errorf("%s: %w", op, context.Canceled)
	default:
		kind, advice = ErrReaderFault, fmt.Sprintf("%s on reader%s failed", op, where)
	}
	return fmt.Errorf("%w: %s (PC/SC: %w)", kind, advice, se)
}
