package nfc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SelectReader picks the reader spec names: an index into the reader list ("0",
// "1"), a reader's exact name, or a case-insensitive part of exactly one name. An
// empty spec picks the first reader holding a tag, else the first reader.
func SelectReader(ctx context.Context, bus Bus, spec string) (ReaderState, error) {
	readers, err := bus.Readers(ctx)
	if err != nil {
		return ReaderState{}, err
	}
	return pickReader(readers, spec)
}

func pickReader(readers []ReaderState, spec string) (ReaderState, error) {
	if len(readers) == 0 {
		return ReaderState{}, fmt.Errorf("%w: no reader is connected; plug one in", ErrNoReader)
	}
	if spec == "" {
		for _, r := range readers {
			if r.Present {
				return r, nil
			}
		}
		return readers[0], nil
	}
	if i, err := strconv.Atoi(spec); err == nil {
		if i < 0 || i >= len(readers) {
			return ReaderState{}, fmt.Errorf("%w: no reader number %d; readers are numbered 0 to %d", ErrNoReader, i, len(readers)-1)
		}
		return readers[i], nil
	}
	var matches []ReaderState
	for _, r := range readers {
		if r.Name == spec {
			return r, nil
		}
		if strings.Contains(strings.ToLower(r.Name), strings.ToLower(spec)) {
			matches = append(matches, r)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return ReaderState{}, fmt.Errorf("%w: no reader matches %q; readers: %s", ErrNoReader, spec, readerNames(readers))
	}
	return ReaderState{}, fmt.Errorf("%w: %q matches %d readers (%s); give more of the name or its number", ErrNoReader, spec, len(matches), readerNames(matches))
}

func readerNames(rs []ReaderState) string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = strconv.Quote(r.Name)
	}
	return strings.Join(names, ", ")
}

// WaitForTag waits until a tag is on the reader spec names (as SelectReader; empty
// means any reader) and returns that reader's state. A timeout of 0 waits until ctx
// ends. It fails with ErrNoTag when the timeout passes and ctx's error when ctx ends.
func WaitForTag(ctx context.Context, bus Bus, reader string, timeout time.Duration) (ReaderState, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, timeout, errWaitTimeout)
		defer cancel()
	}
	states, err := bus.Readers(ctx)
	for {
		if err != nil {
			return ReaderState{}, waitErr(ctx, err, reader, timeout)
		}
		if r, ok := tagHolder(states, reader); ok {
			return r, nil
		}
		states, err = bus.Wait(ctx, states)
	}
}

var errWaitTimeout = errors.New("wait for a tag timed out")

func waitErr(ctx context.Context, err error, reader string, timeout time.Duration) error {
	if errors.Is(context.Cause(ctx), errWaitTimeout) {
		where := "any reader"
		if reader != "" {
			where = fmt.Sprintf("reader %q", reader)
		}
		return fmt.Errorf("%w: no tag came to %s within %s; place a tag on it", ErrNoTag, where, timeout)
	}
	return err
}

// tagHolder finds the reader spec names holding a tag, or any holder when spec is empty.
func tagHolder(states []ReaderState, spec string) (ReaderState, bool) {
	if spec == "" {
		for _, r := range states {
			if r.Present {
				return r, true
			}
		}
		return ReaderState{}, false
	}
	r, err := pickReader(states, spec)
	return r, err == nil && r.Present
}

// OpenTag connects to the tag on the reader spec names (see SelectReader) and
// identifies it. The CountingCard under the Tag counts the APDUs of everything done
// with it. For an unsupported tag it returns the Tag too, as Open does.
func OpenTag(ctx context.Context, bus Bus, spec string) (*Tag, *CountingCard, error) {
	r, err := SelectReader(ctx, bus, spec)
	if err != nil {
		return nil, nil, err
	}
	if !r.Present {
		return nil, nil, fmt.Errorf("%w: no tag on reader %q; place a tag on it", ErrNoTag, r.Name)
	}
	card, err := bus.Connect(ctx, r.Name)
	if err != nil {
		return nil, nil, err
	}
	cc := NewCountingCard(card)
	t, err := Open(cc)
	if t == nil {
		_ = card.Close()
	}
	return t, cc, err
}

// EventKind says what happened on a reader.
type EventKind string

const (
	EventArrival       EventKind = "arrival"        // a tag came into the field
	EventRemoval       EventKind = "removal"        // the tag left
	EventReaderAdded   EventKind = "reader_added"   // a reader was plugged in
	EventReaderRemoved EventKind = "reader_removed" // a reader was unplugged
)

// Event is one line of `reader watch`.
type Event struct {
	Time   time.Time `json:"time"`
	Kind   EventKind `json:"event"`
	Reader string    `json:"reader"`
	UID    HexBytes  `json:"uid,omitempty"` // arrival: as GET UID read it; removal: the tag that left
	ATR    HexBytes  `json:"atr,omitempty"`
}

// Watch reports tags coming and going, and readers plugged in and out, until ctx
// ends (then it returns nil) or emit fails. Tags already present at the start are
// reported as arrivals.
func Watch(ctx context.Context, bus Bus, emit func(Event) error) error {
	var known []ReaderState
	uids := map[string][]byte{}
	now, err := bus.Readers(ctx)
	if err != nil && !errors.Is(err, ErrNoReader) {
		return err
	}
	for {
		for _, ev := range diffStates(known, now) {
			ev.Time = time.Now()
			switch ev.Kind {
			case EventArrival:
				ev.UID = readUID(ctx, bus, ev.Reader)
				uids[ev.Reader] = ev.UID
			case EventRemoval:
				ev.UID = uids[ev.Reader]
				delete(uids, ev.Reader)
			}
			if err := emit(ev); err != nil {
				return err
			}
		}
		known = now
		now, err = bus.Wait(ctx, known)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// diffStates lists what changed from before to after, removals first.
func diffStates(before, after []ReaderState) []Event {
	prev := map[string]ReaderState{}
	for _, r := range before {
		prev[r.Name] = r
	}
	next := map[string]bool{}
	var evs []Event
	for _, r := range after {
		next[r.Name] = true
	}
	for _, r := range before {
		if !next[r.Name] {
			if r.Present {
				evs = append(evs, Event{Kind: EventRemoval, Reader: r.Name, ATR: r.ATR})
			}
			evs = append(evs, Event{Kind: EventReaderRemoved, Reader: r.Name})
		}
	}
	for _, r := range after {
		p, had := prev[r.Name]
		if !had && before != nil {
			evs = append(evs, Event{Kind: EventReaderAdded, Reader: r.Name})
		}
		switch {
		case p.Present && (!r.Present || !bytes.Equal(p.ATR, r.ATR)):
			evs = append(evs, Event{Kind: EventRemoval, Reader: r.Name, ATR: p.ATR})
			if r.Present {
				evs = append(evs, Event{Kind: EventArrival, Reader: r.Name, ATR: r.ATR})
			}
		case !p.Present && r.Present:
			evs = append(evs, Event{Kind: EventArrival, Reader: r.Name, ATR: r.ATR})
		}
	}
	return evs
}

// readUID asks the reader for the UID of the tag it holds (GET UID); nil when the
// tag left already or the reader cannot tell.
func readUID(ctx context.Context, bus Bus, reader string) []byte {
	card, err := bus.Connect(ctx, reader)
	if err != nil {
		return nil
	}
	defer card.Close()
	r, err := card.Transmit(apduGetUID)
	if err != nil || len(r) < 3 || r[len(r)-2] != 0x90 || r[len(r)-1] != 0x00 {
		return nil
	}
	return bytes.Clone(r[:len(r)-2])
}

// sameStates reports whether two reader lists describe the same readers and tags.
func sameStates(a, b []ReaderState) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Present != b[i].Present {
			return false
		}
		if a[i].Present && !bytes.Equal(a[i].ATR, b[i].ATR) {
			return false
		}
	}
	return true
}
