package cmd

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/emu"
	"github.com/tagpay/tagpay/nfc/ndef"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

// Reader faults at every APDU, in memory: `tag write` and `tag provision` run once
// without faults to count their APDUs, then once per position with the tag taken away
// after APDU i (or the reader answering 63 00 from APDU i on). Every interrupted run must
// exit 6 with a message saying what happened, never register a tag as good that does not
// hold its content, and `tag diagnose` must then tell the truth about the tag. The same
// sweep runs through the real pcscd in reader_faults_pcsc_test.go.

const (
	faultOldURI = "https://old.example.org/t/a-previous-and-longer-content-on-this-sticker"
	faultNewURI = "https://tagpay.example/t/written-by-the-fault-sweep"
)

// faultBench is an emulated reader holding the tag under test: on an in-memory bus, or
// served into pcscd through vpcd, where settle waits until pcscd has seen the tag come
// or go.
type faultBench struct {
	reader *emu.Reader
	tag    *emu.Tag
	access TagAccess
	settle func(present bool)
}

func newMemBench(t *testing.T, p emu.Personality, img *nfc.Image, f emu.Faults) *faultBench {
	t.Helper()
	b := memBenchOf(nil, p)
	b.put(t, img, f)
	return b
}

// memBenchOf is an in-memory reader holding tag (which may be nil).
func memBenchOf(tag *emu.Tag, p emu.Personality) *faultBench {
	r := emu.NewReader("Fault Reader 00", p)
	if tag != nil {
		r.Insert(tag, emu.Faults{})
	}
	return &faultBench{reader: r, tag: tag, access: TagAccess{
		OpenBus: func() (nfc.Bus, error) { return emu.NewBus(r), nil },
		Reader:  "Fault Reader 00",
		Wait:    50 * time.Millisecond,
	}}
}

// put places a fresh tag built from img on the reader, with faults f.
func (b *faultBench) put(t *testing.T, img *nfc.Image, f emu.Faults) {
	t.Helper()
	tag, err := emu.NewTag(img)
	if err != nil {
		t.Fatal(err)
	}
	b.tag = tag
	b.reinsert(f)
}

// reinsert takes the tag away and puts it back, memory and all, with faults f.
func (b *faultBench) reinsert(f emu.Faults) {
	b.reader.Remove()
	if b.settle != nil {
		b.settle(false)
	}
	b.reader.Insert(b.tag, f)
	if b.settle != nil {
		b.settle(true)
	}
}

// faultImage is a genuine-looking NTAG215 holding an older, longer URI than the one the
// sweep writes, so a torn write leaves visible debris.
func faultImage(t *testing.T, uid string) *nfc.Image {
	t.Helper()
	img, err := nfc.NewImage(nfc.TypeNTAG215, faultHex(t, uid), faultMsg(t, faultOldURI))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func faultMsg(t *testing.T, uri string) []byte {
	t.Helper()
	msg, err := ndef.Encode(ndef.Message{ndef.NewURI(uri)})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func faultHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// tagTruth reads a Type 2 tag's memory the way the NFC Forum defines it, independently
// of the code under test: the URI of an intact NDEF message (TLV, well-formed message,
// terminator after it), or "" when the tag holds no intact message.
func tagTruth(t *testing.T, img *nfc.Image) string {
	t.Helper()
	l, ok := nfc.LayoutOf(img.Type)
	if !ok {
		t.Fatalf("no layout for %s", img.Type)
	}
	var mem []byte
	for p := 4; p < 4+l.UserPages; p++ {
		mem = append(mem, img.Pages[p]...)
	}
	msg, err := nfc.ParseNDEFTLV(mem)
	if err != nil || len(msg) == 0 {
		return ""
	}
	end := bytes.Index(mem, msg) + len(msg)
	if end >= len(mem) || mem[end] != 0xFE {
		return ""
	}
	m, err := ndef.Decode(msg)
	if err != nil || len(m) != 1 {
		return ""
	}
	return ndef.Describe(m)[0].URI
}

// exitOutcome is what the command line makes of a command's error: exit code and message.
func exitOutcome(err error) (int, string) {
	if err == nil {
		return ExitOK, ""
	}
	// As Main sees it: returned by the command's own code, not by cobra's parsing.
	err = asUsage(&runError{err: err})
	return ExitCode(err), errorMessage(err)
}

// diagnoseNDEF runs `tag diagnose -o json` on the bench's tag, put back without faults,
// and returns its NDEF check and exit code.
func diagnoseNDEF(t *testing.T, b *faultBench) (nfc.Check, int) {
	t.Helper()
	b.reinsert(emu.Faults{})
	ios, _, out, _ := Test()
	err := runTagDiagnose(context.Background(), &TagDiagnoseOptions{IO: ios, Out: NewPrinter(ios, FormatJSON), Access: b.access})
	code, _ := exitOutcome(err)
	var d Diagnosis
	if jerr := json.Unmarshal(out.Bytes(), &d); jerr != nil {
		t.Fatalf("tag diagnose -o json: %v (output %q, error %v)", jerr, out.String(), err)
	}
	for _, c := range d.Checks {
		if c.Name == nfc.CheckNDEF {
			return c, code
		}
	}
	t.Fatalf("tag diagnose ran no NDEF check: %+v", d.Checks)
	return nfc.Check{}, 0
}

// checkDiagnosisTruthful holds `tag diagnose` to what the tag really holds: a PASS
// naming the URI of an intact message, and no PASS for a tag without one.
func checkDiagnosisTruthful(t *testing.T, b *faultBench) string {
	t.Helper()
	truth := tagTruth(t, b.tag.Image())
	c, code := diagnoseNDEF(t, b)
	switch {
	case truth != "" && (c.Status != nfc.StatusPass || !strings.Contains(c.Detail, truth)):
		t.Errorf("the tag holds %s intact, diagnose says %s: %s", truth, c.Status, c.Detail)
	case truth == "" && c.Status == nfc.StatusPass:
		t.Errorf("the tag holds no intact message, diagnose says PASS: %s", c.Detail)
	case truth == "" && c.Status == nfc.StatusFail && code != ExitDeclined:
		t.Errorf("diagnose failed the NDEF check but exited %d, want %d", code, ExitDeclined)
	}
	return truth
}

// deviceMessage is what an interrupted reader command must say: a reader or tag problem
// in words, never a Go panic or an empty line.
func checkDeviceFailure(t *testing.T, what string, code int, msg string) {
	t.Helper()
	if code != ExitDevice {
		t.Errorf("%s exited %d (%s), want %d", what, code, msg, ExitDevice)
	}
	if strings.TrimSpace(msg) == "" || strings.Contains(msg, "panic") || strings.Contains(msg, "goroutine") {
		t.Errorf("%s: unclear message %q", what, msg)
	}
}

// writeOnce runs `tag write --uri faultNewURI -o json` and returns its error and, on
// success, the APDUs it reported.
func writeOnce(b *faultBench) (int, error) {
	ios, _, out, _ := Test()
	err := runTagWrite(context.Background(), &TagWriteOptions{IO: ios, Out: NewPrinter(ios, FormatJSON), Access: b.access, URI: faultNewURI})
	if err != nil {
		return 0, err
	}
	var res TagWriteResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return 0, fmt.Errorf("tag write -o json: %w", err)
	}
	return res.APDUs, nil
}

// sweepFaults runs a reader command once per fault position. First with the tag taken
// away after APDU i, for i = 1, 2, … until a run completes: that i is the number of APDUs
// the command sends, and every earlier position must fail with exit 6. Then with the
// reader answering 63 00 from APDU i on, for every i up to that number, each of which
// must fail with exit 6. try runs the command on a fresh tag with the given faults and
// returns its exit code and message; it checks the aftermath itself. reported is the
// APDU count of a fault-free run, which bounds the search.
func sweepFaults(t *testing.T, what string, reported int, try func(f emu.Faults, what string) (int, string)) int {
	t.Helper()
	n := 0
	for i := 1; n == 0; i++ {
		if i > 2*reported+16 {
			t.Fatalf("%s never completes with the tag removed after APDU %d or earlier", what, i-1)
		}
		pos := fmt.Sprintf("%s, tag removed after APDU %d", what, i)
		code, msg := try(emu.Faults{RemoveAfter: i}, pos)
		if code == ExitOK {
			n = i // gone only after the last answer: nothing was interrupted
			continue
		}
		checkDeviceFailure(t, pos, code, msg)
	}
	if n != reported {
		t.Logf("%s reports %d APDUs but sends %d", what, reported, n)
	}
	for i := 1; i <= n; i++ {
		pos := fmt.Sprintf("%s, 63 00 from APDU %d of %d", what, i, n)
		code, msg := try(emu.Faults{FailAfter: i}, pos)
		checkDeviceFailure(t, pos, code, msg)
	}
	return n
}

func TestTagWriteFaultAtEveryAPDU(t *testing.T) {
	for _, p := range []emu.Personality{emu.ACR122, emu.Part3} {
		t.Run(string(p), func(t *testing.T) {
			reported, err := writeOnce(newMemBench(t, p, faultImage(t, "04A1B2C3D4E5F6"), emu.Faults{}))
			if err != nil || reported < 4 {
				t.Fatalf("fault-free write: %d APDUs, %v", reported, err)
			}
			left := map[string]int{} // what the interrupted writes left on the tag
			n := sweepFaults(t, "tag write", reported, func(f emu.Faults, what string) (int, string) {
				b := newMemBench(t, p, faultImage(t, "04A1B2C3D4E5F6"), f)
				_, err := writeOnce(b)
				code, msg := exitOutcome(err)
				truth := checkDiagnosisTruthful(t, b)
				if code == ExitOK && truth != faultNewURI {
					t.Errorf("%s succeeded but the tag holds %q", what, truth)
				}
				if code != ExitOK {
					left[cmp.Or(truth, "no intact message")]++
				}
				return code, msg
			})
			// A sweep that never tore a message would not be testing anything.
			if left["no intact message"] == 0 || left[faultOldURI] == 0 {
				t.Errorf("the interrupted writes left %v; want damaged and untouched tags among them", left)
			}
			t.Logf("tag write: %d APDUs, every position swept for both faults; the interrupted writes left %v", n, left)
		})
	}
}

// provisionLedger is a fresh local ledger with one merchant account.
func provisionLedger(t *testing.T) (*backend.Local, string) {
	t.Helper()
	local, err := backend.OpenLocal(filepath.Join(t.TempDir(), "ledger.db"), backend.LocalOptions{Store: store.Options{NoSync: true, KeysPath: filepath.Join(t.TempDir(), "keys.json")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	m, err := local.CreateAccount(context.Background(), store.CreateAccountRequest{Name: "Kiosk", Kind: store.AccountMerchant, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	return local, m.ID
}

// provisionOnce runs `tag provision --merchant M -o json` for one tag and returns its
// error and result line.
func provisionOnce(local *backend.Local, merchant string, b *faultBench) (*ProvisionResult, error) {
	ios, _, out, _ := Test()
	env := Env{IO: ios, Out: NewPrinter(ios, FormatJSON), Backend: func(context.Context) (backend.Backend, func() error, error) {
		return local, func() error { return nil }, nil
	}}
	err := runTagProvision(context.Background(), &TagProvisionOptions{Env: env, Access: b.access, Merchant: merchant, Count: 1})
	var res []ProvisionResult
	if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil || len(res) != 1 {
		return nil, errors.Join(err, fmt.Errorf("tag provision -o json printed %q", out.String()))
	}
	return &res[0], err
}

// checkRegistration holds the ledger to the tag: a registration is active only when
// the tag holds exactly its content, and a failed provisioning leaves none active.
func checkRegistration(t *testing.T, local *backend.Local, uid, truth, what string, code int) {
	t.Helper()
	tags, err := local.ListTags(context.Background(), orders.TagFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range tags {
		if tg.UID != uid {
			continue
		}
		switch {
		case tg.Status == orders.TagActive && tg.Content != truth:
			t.Errorf("%s: registration %s is active but the tag holds %q, not %q", what, tg.Ref, truth, tg.Content)
		case tg.Status == orders.TagPending:
			t.Errorf("%s: registration %s left pending", what, tg.Ref)
		case code != ExitOK && tg.Status == orders.TagActive:
			t.Errorf("%s: the command failed (exit %d) yet registration %s is active", what, code, tg.Ref)
		case code == ExitOK && tg.Status != orders.TagActive:
			t.Errorf("%s: the command succeeded but registration %s is %s", what, tg.Ref, tg.Status)
		}
	}
}

func TestTagProvisionFaultAtEveryAPDU(t *testing.T) {
	for _, p := range []emu.Personality{emu.ACR122, emu.Part3} {
		t.Run(string(p), func(t *testing.T) {
			local, merchant := provisionLedger(t)
			res, err := provisionOnce(local, merchant, newMemBench(t, p, faultImage(t, "04B100000000FF"), emu.Faults{}))
			if err != nil || res.Status != orders.ProvisionActive || res.APDUs < 4 {
				t.Fatalf("fault-free provisioning: %+v, %v", res, err)
			}
			uids := 0
			n := sweepFaults(t, "tag provision", res.APDUs, func(f emu.Faults, what string) (int, string) {
				uids++
				uid := fmt.Sprintf("04B1%010X", uids)
				b := newMemBench(t, p, faultImage(t, uid), f)
				_, err := provisionOnce(local, merchant, b)
				code, msg := exitOutcome(err)
				truth := checkDiagnosisTruthful(t, b)
				checkRegistration(t, local, uid, truth, what, code)
				return code, msg
			})
			if v, err := local.Verify(context.Background()); err != nil || len(v) != 0 {
				t.Errorf("ledger verify after the sweep: %v %v", v, err)
			}
			t.Logf("tag provision: %d APDUs, every position swept for both faults", n)
		})
	}
}
