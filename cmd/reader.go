package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/nfc"
)

// TagAccess is how a reader command reaches a tag: the PC/SC service (an in-memory bus
// in tests), the reader chosen with --reader, and how long to wait for a tag.
type TagAccess struct {
	OpenBus func() (nfc.Bus, error)
	Reader  string        // name, index, or empty for the first reader holding a tag
	Wait    time.Duration // 0 waits until interrupted
	// Waiting, when set, hears once that the command is waiting for a tag.
	Waiting io.Writer
}

// tagAccess builds the TagAccess of a command from the global --reader.
func tagAccess(f *Factory, wait time.Duration) (TagAccess, error) {
	cfg, err := f.Config()
	if err != nil {
		return TagAccess{}, err
	}
	return TagAccess{OpenBus: nfc.OpenPCSC, Reader: cfg.Reader, Wait: wait, Waiting: f.IO.ErrOut}, nil
}

// waitFlag adds --wait to a command that needs a tag.
func waitFlag(c *cobra.Command, wait *time.Duration) {
	c.Flags().DurationVar(wait, "wait", defaultTagWait, "how long to wait for a tag on the reader (0: until interrupted)")
}

// openedTag is an identified tag on a reader, with the APDU counter under it.
type openedTag struct {
	*nfc.Tag
	APDUs  *nfc.CountingCard
	Reader string
	bus    nfc.Bus
	ownBus bool // the bus was opened for this tag alone
	closed bool
	prior  int       // APDUs of connections before the current one
	start  time.Time // when the tag was found, after any wait
}

// Close disconnects from the tag, and releases the bus when it was opened for it.
func (o *openedTag) Close() error {
	var err error
	if !o.closed {
		o.closed = true
		err = o.Tag.Close()
	}
	if o.ownBus {
		o.ownBus = false
		err = errors.Join(err, o.bus.Close())
	}
	return err
}

// apdus counts every APDU sent to the tag, over every connection to it.
func (o *openedTag) apdus() int { return o.prior + o.APDUs.APDUs() }

// open waits for a tag on the chosen reader and identifies it. A tag tagpay cannot use
// (MIFARE Classic) is an error naming it.
func (a TagAccess) open(ctx context.Context) (*openedTag, error) {
	bus, err := a.OpenBus()
	if err != nil {
		return nil, err
	}
	t, err := a.openOn(ctx, bus)
	if err != nil {
		bus.Close()
		return nil, err
	}
	t.ownBus = true
	return t, nil
}

// openOn is open on a bus the caller keeps.
func (a TagAccess) openOn(ctx context.Context, bus nfc.Bus) (*openedTag, error) {
	r, err := a.waitFor(ctx, bus)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	tag, cc, err := nfc.OpenTag(ctx, bus, r.Name)
	if err != nil {
		if tag != nil {
			tag.Close()
		}
		return nil, fmt.Errorf("reader %q: %w", r.Name, err)
	}
	return &openedTag{Tag: tag, APDUs: cc, Reader: r.Name, bus: bus, start: start}, nil
}

// waitFor returns the reader holding a tag, saying once that it waits when none is there
// yet.
func (a TagAccess) waitFor(ctx context.Context, bus nfc.Bus) (nfc.ReaderState, error) {
	if r, err := nfc.SelectReader(ctx, bus, a.Reader); err != nil {
		return r, err
	} else if !r.Present && a.Waiting != nil {
		where := "any reader"
		if a.Reader != "" {
			where = strconv.Quote(r.Name)
		}
		limit := "until interrupted"
		if a.Wait > 0 {
			limit = "for " + a.Wait.String()
		}
		fmt.Fprintf(a.Waiting, "Waiting %s for a tag on %s…\n", limit, where)
	}
	return nfc.WaitForTag(ctx, bus, a.Reader, a.Wait)
}

// waitGone waits until the reader no longer holds a tag, so that a command handling tag
// after tag never handles the same tag twice.
func waitGone(ctx context.Context, bus nfc.Bus, reader string) error {
	states, err := bus.Readers(ctx)
	for {
		if err != nil {
			return err
		}
		present := false
		for _, s := range states {
			if s.Name == reader && s.Present {
				present = true
			}
		}
		if !present {
			return nil
		}
		states, err = bus.Wait(ctx, states)
	}
}

func newReaderCmd(f *Factory) *cobra.Command {
	c := newGroupCmd("reader", "List PC/SC readers and watch tags come and go")
	c.AddCommand(newReaderListCmd(f), newReaderWatchCmd(f))
	return c
}

// ReaderListOptions are the flags of `reader list`.
type ReaderListOptions struct {
	IO      *IOStreams
	Out     *Printer
	OpenBus func() (nfc.Bus, error)
}

// readerRow is one reader as `reader list -o json` prints it.
type readerRow struct {
	Index   int          `json:"index"`
	Name    string       `json:"name"`
	Present bool         `json:"present"`
	ATR     nfc.HexBytes `json:"atr,omitempty"`
	Card    string       `json:"card,omitempty"` // what the ATR announces
}

func newReaderListCmd(f *Factory) *cobra.Command {
	opts := &ReaderListOptions{OpenBus: nfc.OpenPCSC}
	return &cobra.Command{
		Use:   "list",
		Short: "List readers, whether each holds a tag, and the tag's ATR",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			opts.IO = f.IO
			if opts.Out, err = f.Printer(); err != nil {
				return err
			}
			return runReaderList(c.Context(), opts)
		},
	}
}

func runReaderList(ctx context.Context, opts *ReaderListOptions) error {
	bus, err := opts.OpenBus()
	if err != nil {
		return err
	}
	defer bus.Close()
	states, err := bus.Readers(ctx)
	if err != nil {
		return err
	}
	rows := make([]readerRow, len(states))
	t := Table{Header: []string{"#", "READER", "TAG", "ATR", "CARD"}}
	for i, s := range states {
		rows[i] = readerRow{Index: i, Name: s.Name, Present: s.Present, ATR: s.ATR}
		if s.Present {
			if a, err := nfc.ParseATR(s.ATR); err == nil {
				rows[i].Card = a.Name()
			}
		}
		t.Rows = append(t.Rows, []string{strconv.Itoa(i), s.Name, fmtPresent(s.Present), fmt.Sprintf("%X", s.ATR), rows[i].Card})
	}
	return opts.Out.List(rows, t)
}

func fmtPresent(b bool) string {
	if b {
		return "present"
	}
	return "none"
}

// ReaderWatchOptions are the flags of `reader watch`.
type ReaderWatchOptions struct {
	IO      *IOStreams
	Out     *Printer
	OpenBus func() (nfc.Bus, error)
	Reader  string // --reader: watch only this one
	Count   int    // stop after this many events (0: until interrupted)
}

func newReaderWatchCmd(f *Factory) *cobra.Command {
	opts := &ReaderWatchOptions{OpenBus: nfc.OpenPCSC}
	c := &cobra.Command{
		Use:   "watch [--count N]",
		Short: "Print one line per tag arrival and removal until interrupted",
		Long: `Print one line per tag arrival and removal (and per reader plugged in or out) until
interrupted with Ctrl-C, or until --count events were seen. Tags already on a reader are
reported as arrivals. With --reader only that reader is watched. With -o json each event
is one JSON object on its own line.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if opts.Count < 0 {
				return Usagef("--count must not be negative")
			}
			opts.IO = f.IO
			if opts.Out, err = f.Printer(); err != nil {
				return err
			}
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			opts.Reader = cfg.Reader
			return runReaderWatch(c.Context(), opts)
		},
	}
	c.Flags().IntVar(&opts.Count, "count", 0, "stop after this many events (default: until interrupted)")
	return c
}

// errWatchDone ends a watch that saw its --count events.
var errWatchDone = errors.New("enough events")

func runReaderWatch(ctx context.Context, opts *ReaderWatchOptions) error {
	bus, err := opts.OpenBus()
	if err != nil {
		return err
	}
	defer bus.Close()
	only := ""
	if opts.Reader != "" {
		r, err := nfc.SelectReader(ctx, bus, opts.Reader)
		if err != nil {
			return err
		}
		only = r.Name
	}
	if opts.IO.IsStdoutTTY() {
		fmt.Fprintln(opts.IO.ErrOut, "Watching the readers; press Ctrl-C to stop.")
	}
	seen := 0
	err = nfc.Watch(ctx, bus, func(ev nfc.Event) error {
		if only != "" && ev.Reader != only {
			return nil
		}
		if err := writeEvent(opts.Out, ev); err != nil {
			return err
		}
		seen++
		if opts.Count > 0 && seen >= opts.Count {
			return errWatchDone
		}
		return nil
	})
	if errors.Is(err, errWatchDone) {
		return nil
	}
	return err
}

// writeEvent prints one event: a JSON line with -o json, else tab-separated fields.
func writeEvent(p *Printer, ev nfc.Event) error {
	if p.JSONOutput() {
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.IO.Out, "%s\n", b)
		return err
	}
	cells := []string{ev.Time.Format(time.RFC3339Nano), string(ev.Kind), ev.Reader}
	if len(ev.UID) > 0 {
		cells = append(cells, fmt.Sprintf("%X", []byte(ev.UID)))
	}
	_, err := fmt.Fprintln(p.IO.Out, strings.Join(cells, "\t"))
	return err
}
