package cmd

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/emu"
)

// The reader scenarios (testdata/script/nfc_*.txtar) run against the real pcscd with
// vpcd, with an emulated tag served from this test process by the `emulate` command.
// TestScripts runs them behind an ACR122U-like reader; TestReaderScriptsPart3 runs them
// again behind a PC/SC Part 3 reader.

// TestReaderScriptsPart3 runs the reader scenarios with the part3 personality.
func TestReaderScriptsPart3(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "script", "nfc_*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no reader scenarios found: %v", err)
	}
	p := scriptParams(false, func(e *testscript.Env) error {
		e.Setenv("PERSONALITY", string(emu.Part3))
		return nil
	})
	p.Dir, p.Files = "", files
	testscript.Run(t, p)
}

var (
	pcscOnce   sync.Once
	pcscReason string // why pcscd cannot be used; empty when it can
)

// pcscCondition is the [pcsc] condition: pcscd with both vpcd readers is reachable.
// Under CI=true an unreachable pcscd is an error, so the scenario fails instead of
// skipping.
func pcscCondition() (bool, error) {
	pcscOnce.Do(func() {
		bus, err := nfc.OpenPCSC()
		if err != nil {
			pcscReason = err.Error()
			return
		}
		defer bus.Close()
		states, err := bus.Readers(context.Background())
		if err != nil {
			pcscReason = err.Error()
			return
		}
		for slot := range 2 {
			name := vpcdReaderName(slot)
			if !slices.ContainsFunc(states, func(s nfc.ReaderState) bool { return s.Name == name }) {
				pcscReason = fmt.Sprintf("pcscd has no reader %q", name)
			}
		}
	})
	if pcscReason == "" {
		return true, nil
	}
	if os.Getenv("CI") == "true" {
		return false, fmt.Errorf("pcscd with vpcd is required in CI (scripts/pcscd start): %s", pcscReason)
	}
	return false, nil
}

// holdReaders gives one test or scenario at a time, in any process, the vpcd readers:
// they are shared by the whole machine, and a scenario must read the tag it put there.
func holdReaders(fatalf func(string, ...any)) func() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	release, err := emu.LockReaders(ctx)
	if err != nil {
		fatalf("waiting for the vpcd readers: %v", err)
	}
	return release
}

// scriptEmu is the emulator state of one scenario.
type scriptEmu struct {
	held bool
	emus map[int]*emulator
}

var (
	scriptEmusMu sync.Mutex
	scriptEmus   = map[*testscript.TestScript]*scriptEmu{}
)

// scenarioEmu returns the scenario's emulator state, taking the pcscd lock for the rest
// of the scenario on first use.
func scenarioEmu(ts *testscript.TestScript) *scriptEmu {
	scriptEmusMu.Lock()
	s, ok := scriptEmus[ts]
	if !ok {
		s = &scriptEmu{emus: map[int]*emulator{}}
		scriptEmus[ts] = s
	}
	scriptEmusMu.Unlock()
	if !s.held {
		release := holdReaders(ts.Fatalf)
		s.held = true
		ts.Defer(func() {
			for _, e := range s.emus {
				e.Stop()
				waitSlotEmpty(e.name)
			}
			scriptEmusMu.Lock()
			delete(scriptEmus, ts)
			scriptEmusMu.Unlock()
			release()
		})
	}
	return s
}

// cmdEmulate drives emulated tags in the vpcd readers:
//
//	emulate [-slot N] [-personality P] [-signature HEX] [-remove-after N] [-fail-after N] [-delay D] IMAGE
//	    serve the tag IMAGE describes in slot N (default 0) until the scenario ends, and
//	    point TAGPAY_READER at it; the personality defaults to $PERSONALITY, else acr122;
//	    -signature gives the tag an originality signature (a genuine UID's, from NXP);
//	    -sun-base sets the base URL of an NTAG 424 DNA image's SUN URLs
//	emulate remove [-slot N]      take the tag out of the field (pcscd sees it go)
//	emulate insert [-slot N] [faults]   put the same tag, memory and all, back
//	emulate save [-slot N] FILE   write the tag's memory as a JSON image
//	emulate reserve               only take the readers for this scenario
func cmdEmulate(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! emulate")
	}
	verb := "start"
	if len(args) > 0 && slices.Contains([]string{"remove", "insert", "save", "reserve"}, args[0]) {
		verb, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("emulate", flag.ContinueOnError)
	slot := fs.Int("slot", 0, "")
	personality := fs.String("personality", ts.Getenv("PERSONALITY"), "")
	var faults emu.Faults
	fs.IntVar(&faults.RemoveAfter, "remove-after", 0, "")
	fs.IntVar(&faults.FailAfter, "fail-after", 0, "")
	fs.DurationVar(&faults.Delay, "delay", 0, "")
	signature := fs.String("signature", "", "")
	sunBase := fs.String("sun-base", "", "")
	if err := fs.Parse(args); err != nil {
		ts.Fatalf("emulate: %v", err)
	}
	s := scenarioEmu(ts)
	if verb == "reserve" {
		for slot := range 2 {
			waitSlotEmpty(vpcdReaderName(slot))
		}
		return
	}
	e := s.emus[*slot]
	if verb != "start" && e == nil {
		ts.Fatalf("emulate %s: no tag emulated in slot %d", verb, *slot)
	}
	switch verb {
	case "remove":
		e.Reader.Remove()
		if !waitSlotEmpty(e.name) {
			ts.Fatalf("emulate remove: pcscd still sees a tag in %q", e.name)
		}
	case "insert":
		e.Reader.Insert(e.Tag, faults)
		if !waitSlotPresent(e.name) {
			ts.Fatalf("emulate insert: pcscd does not see the tag in %q", e.name)
		}
	case "save":
		if fs.NArg() != 1 {
			ts.Fatalf("usage: emulate save [-slot N] FILE")
		}
		b, err := nfc.FormatImageJSON(e.Tag.Image())
		ts.Check(err)
		ts.Check(os.WriteFile(ts.MkAbs(fs.Arg(0)), b, 0o644))
	default:
		if fs.NArg() != 1 {
			ts.Fatalf("usage: emulate [-slot N] [-personality P] [faults] IMAGE")
		}
		if e != nil {
			ts.Check(e.Stop())
			waitSlotEmpty(e.name)
		}
		p, err := parsePersonality(*personality)
		if *personality == "" {
			p, err = emu.ACR122, nil
		}
		ts.Check(err)
		img, err := loadImage(ts.MkAbs(fs.Arg(0)))
		ts.Check(err)
		if *sunBase != "" && img.SUN != nil {
			img.SUN.BaseURL = *sunBase
		}
		if *signature != "" {
			img.Signature, err = hex.DecodeString(*signature)
			ts.Check(err)
		}
		name := vpcdReaderName(*slot)
		// Other test programs use the slots too, for a while each: wait for them.
		var e *emulator
		for try := 0; ; try++ {
			e, err = startEmulator(context.Background(), img, *slot, p, faults, nfc.OpenPCSC, 2*time.Minute)
			if !errors.Is(err, errSlotOccupied) || try == 3 {
				break
			}
			waitSlotEmpty(name)
		}
		ts.Check(err)
		s.emus[*slot] = e
		ts.Setenv("TAGPAY_READER", name)
		ts.Setenv("READER", name)
	}
}

// waitSlotEmpty waits (at most 30 s) until pcscd reports no tag in the reader, which
// also lets another test program's tag leave first.
func waitSlotEmpty(name string) bool { return waitSlot(name, false) }

func waitSlotPresent(name string) bool { return waitSlot(name, true) }

func waitSlot(name string, present bool) bool {
	bus, err := nfc.OpenPCSC()
	if err != nil {
		return false
	}
	defer bus.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	states, err := bus.Readers(ctx)
	for err == nil {
		i := slices.IndexFunc(states, func(s nfc.ReaderState) bool { return s.Name == name })
		if i >= 0 && states[i].Present == present {
			return true
		}
		states, err = bus.Wait(ctx, states)
	}
	return false
}

// cmdWaitReader READER present|empty waits until pcscd reports the reader so: a tag
// emulated by a background tagpay process has arrived, or left.
func cmdWaitReader(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 || (args[1] != "present" && args[1] != "empty") {
		ts.Fatalf("usage: waitreader READER present|empty")
	}
	name := args[0]
	if i, err := strconv.Atoi(name); err == nil {
		name = vpcdReaderName(i)
	}
	if !waitSlot(name, args[1] == "present") {
		ts.Fatalf("waitreader: %q did not become %s", name, args[1])
	}
}
