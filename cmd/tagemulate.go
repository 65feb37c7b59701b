package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/emu"
)

// vpcd, the virtual reader driver of pcscd, gives each slot a reader named
// "Virtual PCD 00 NN" whose card side listens on 127.0.0.1 from port 35963 on.
const (
	vpcdBasePort = 35963
	vpcdSlots    = 10
)

func vpcdReaderName(slot int) string { return fmt.Sprintf("Virtual PCD 00 %02d", slot) }
func vpcdAddr(slot int) string       { return fmt.Sprintf("127.0.0.1:%d", vpcdBasePort+slot) }

// TagEmulateOptions are the flags of `tag emulate`.
type TagEmulateOptions struct {
	IO          *IOStreams
	Image       string
	Slot        int
	Personality emu.Personality
	For         time.Duration // 0: until interrupted
	Faults      emu.Faults
	OpenBus     func() (nfc.Bus, error)
	Save        string // write the tag's memory here when the emulator stops
}

func newTagEmulateCmd(f *Factory) *cobra.Command {
	opts := &TagEmulateOptions{OpenBus: nfc.OpenPCSC}
	var personality string
	c := &cobra.Command{
		Use:   "emulate --image FILE [--slot N] [--personality acr122|part3] [--for DURATION]",
		Short: "Put a virtual tag into pcscd's vpcd reader and serve it",
		Long: `Put the tag an image describes (tagpay JSON or Flipper .nfc) into the virtual reader
"Virtual PCD 00 NN" of pcscd's vpcd driver (slot N, card side on 127.0.0.1:35963+N), so
that every tagpay command, and any other PC/SC program, reads it as a real tag. The
reader answers like an ACR122U (acr122) or a PC/SC Part 3 reader such as the ACR1252U
(part3). It serves until interrupted, or for --for.

Faults for testing: --remove-after N takes the tag away after N APDUs, --fail-after N
answers 63 00 from the Nth APDU on, --delay D slows every answer.`,
		Example: `  tagpay tag emulate --image sticker.json --slot 0 --personality part3
  tagpay tag emulate --image sticker.json --for 60s --remove-after 12`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := requireFlags(c, "image"); err != nil {
				return err
			}
			p, err := parsePersonality(personality)
			if err != nil {
				return err
			}
			opts.Personality = p
			if opts.Slot < 0 || opts.Slot >= vpcdSlots {
				return Usagef("--slot %d: vpcd slots are 0 to %d", opts.Slot, vpcdSlots-1)
			}
			if opts.For < 0 || opts.Faults.RemoveAfter < 0 || opts.Faults.FailAfter < 0 || opts.Faults.Delay < 0 {
				return Usagef("--for, --remove-after, --fail-after and --delay must not be negative")
			}
			opts.IO = f.IO
			return runTagEmulate(c.Context(), opts)
		},
	}
	fl := c.Flags()
	fl.StringVar(&opts.Image, "image", "", "tag image to emulate (tagpay JSON or Flipper .nfc)")
	fl.IntVar(&opts.Slot, "slot", 0, "vpcd slot: 0 is \"Virtual PCD 00 00\", 1 is \"Virtual PCD 00 01\"")
	fl.StringVar(&personality, "personality", string(emu.ACR122), "reader to emulate: acr122 or part3")
	fl.DurationVar(&opts.For, "for", 0, "stop after this long (default: until interrupted)")
	fl.IntVar(&opts.Faults.RemoveAfter, "remove-after", 0, "take the tag away after N APDUs")
	fl.IntVar(&opts.Faults.FailAfter, "fail-after", 0, "answer 63 00 from the Nth APDU on")
	fl.DurationVar(&opts.Faults.Delay, "delay", 0, "delay every answer by this much")
	fl.StringVar(&opts.Save, "save", "", "when the emulator stops, write the tag's memory to FILE (tagpay JSON, or Flipper for .nfc)")
	return c
}

func parsePersonality(s string) (emu.Personality, error) {
	switch p := emu.Personality(strings.ToLower(s)); p {
	case emu.ACR122, emu.Part3:
		return p, nil
	}
	return "", Usagef("--personality %q: want acr122 or part3", s)
}

func runTagEmulate(ctx context.Context, opts *TagEmulateOptions) error {
	img, err := loadImage(opts.Image)
	if err != nil {
		return err
	}
	e, err := startEmulator(ctx, img, opts.Slot, opts.Personality, opts.Faults, opts.OpenBus, 0)
	if err != nil {
		return err
	}
	until := "until interrupted (Ctrl-C)"
	wait := ctx.Done()
	if opts.For > 0 {
		until = "for " + opts.For.String()
		timer := time.NewTimer(opts.For)
		defer timer.Stop()
		stop := make(chan struct{})
		go func() {
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
			close(stop)
		}()
		wait = stop
	}
	fmt.Fprintf(opts.IO.ErrOut, "Serving the %s %X in %q as an %s reader %s\n", img.Type, []byte(img.UID), e.name, opts.Personality, until)
	select {
	case <-wait:
		err = e.Stop()
	case err = <-e.done:
		e.release()
	}
	return errors.Join(err, saveEmulated(opts, e))
}

// saveEmulated writes what the emulated tag holds now, torn writes and all, so that
// it can be emulated again and diagnosed.
func saveEmulated(opts *TagEmulateOptions, e *emulator) error {
	if opts.Save == "" {
		return nil
	}
	format, err := imageFormat("", opts.Save)
	if err != nil {
		return err
	}
	if err := writeImage(opts.IO.Out, e.Tag.Image(), format, opts.Save); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Saved the tag's memory to %s\n", opts.Save)
	return nil
}

// errSlotOccupied is a vpcd slot holding a tag that some other program serves.
var errSlotOccupied = errors.New("slot occupied")

// emulator is a virtual tag served into one vpcd slot.
type emulator struct {
	name    string
	Reader  *emu.Reader
	Tag     *emu.Tag
	cancel  context.CancelFunc
	done    chan error
	release func()
}

// startEmulator takes the slot (waiting up to lockWait for another emulator to leave
// it), inserts the tag and serves it into pcscd. When PC/SC is reachable it returns
// once pcscd sees the tag, so that whatever runs next finds it.
func startEmulator(ctx context.Context, img *nfc.Image, slot int, p emu.Personality, faults emu.Faults, openBus func() (nfc.Bus, error), lockWait time.Duration) (*emulator, error) {
	tag, err := emu.NewTag(img)
	if err != nil {
		return nil, Usagef("tag image: %v", err)
	}
	name := vpcdReaderName(slot)
	unlock, err := lockSlot(ctx, slot, lockWait)
	if err != nil {
		return nil, err
	}
	var bus nfc.Bus
	if openBus != nil {
		if bus, err = openBus(); err == nil {
			defer bus.Close()
			if r, err := nfc.SelectReader(ctx, bus, name); err == nil && r.Name == name && r.Present {
				unlock()
				return nil, fmt.Errorf("%w: %q already holds a tag; another emulator serves slot %d: %w", nfc.ErrReaderFault, name, slot, errSlotOccupied)
			}
		} else {
			bus = nil
		}
	}
	r := emu.NewReader(name, p)
	r.Insert(tag, faults)
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e := &emulator{name: name, Reader: r, Tag: tag, cancel: cancel, done: make(chan error, 1), release: unlock}
	go func() {
		err := emu.ServeVPCD(sctx, vpcdAddr(slot), r)
		if err != nil {
			err = fmt.Errorf("%w: %v (is pcscd running with vpcd? see scripts/pcscd)", nfc.ErrReaderFault, err)
		}
		e.done <- err
	}()
	if bus != nil {
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		_, werr := nfc.WaitForTag(wctx, bus, name, 0)
		wcancel()
		if werr != nil {
			serr := e.Stop()
			return nil, errors.Join(fmt.Errorf("%w: pcscd did not report the tag in %q: %v", nfc.ErrReaderFault, name, werr), serr)
		}
	}
	return e, nil
}

// Stop takes the tag away and ends the bridge.
func (e *emulator) Stop() error {
	e.Reader.Remove()
	e.cancel()
	err := <-e.done
	e.done <- err // a second Stop returns the same
	e.release()
	return err
}

// lockSlot takes the machine-wide lock of a slot, so that two emulators never serve one
// slot, waiting at most wait.
func lockSlot(ctx context.Context, slot int, wait time.Duration) (func(), error) {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	release, err := emu.LockSlot(wctx, vpcdBasePort+slot)
	if err != nil {
		return nil, fmt.Errorf("%w: vpcd slot %d is in use by another tag emulator: %w", nfc.ErrReaderFault, slot, errSlotOccupied)
	}
	return release, nil
}
