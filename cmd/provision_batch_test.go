package cmd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/emu"
	"github.com/tagpay/tagpay/orders"
)

// operator plays the person at the reader: each step waits for a line on stderr, then
// moves a tag.
type operator struct {
	t      *testing.T
	errOut *lockedBuffer
	reader *emu.Reader
	seen   int // stderr bytes already acted on
}

// after waits until stderr shows want past what was already acted on, then runs do.
func (o *operator) after(want string, do func()) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := o.errOut.String()
		if i := strings.Index(s[o.seen:], want); i >= 0 {
			o.seen += i + len(want)
			do()
			return
		}
		if time.Now().After(deadline) {
			o.t.Errorf("operator waited in vain for %q; stderr:\n%s", want, s)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func provisionEnv(t *testing.T, be backend.Backend) (Env, *lockedBuffer, *strings.Builder) {
	io, _, out, _ := Test()
	errOut := &lockedBuffer{}
	io.ErrOut = errOut
	env := Env{IO: io, Out: NewPrinter(io, FormatJSON), Backend: func(context.Context) (backend.Backend, func() error, error) {
		return be, func() error { return nil }, nil
	}}
	sb := &strings.Builder{}
	t.Cleanup(func() { sb.WriteString(out.String()) })
	return env, errOut, sb
}

func TestProvisionRefusesALockedTagBeforeRegistering(t *testing.T) {
	local, merchant := provisionLedger(t)
	img := faultImage(t, "04C10C0000000A")
	img.Pages[3][3] = 0x0F // the CC says read-only
	b := newMemBench(t, emu.Part3, img, emu.Faults{})
	res, err := provisionOnce(local, merchant, b)
	if res == nil || res.Status != orders.ProvisionRefused || !strings.Contains(res.Reason, "locked") {
		t.Fatalf("provisioning a read-only tag: %+v, %v", res, err)
	}
	if code := ExitCode(err); code != ExitDevice {
		t.Errorf("exit %d, want %d", code, ExitDevice)
	}
	tags, _ := local.ListTags(context.Background(), orders.TagFilter{})
	if len(tags) != 0 {
		t.Errorf("the ledger registered %d tag(s) for a tag it could not write", len(tags))
	}
}

func TestProvisionCountsEachTagOnce(t *testing.T) {
	local, merchant := provisionLedger(t)
	b := newBench(t, emu.Part3, nfc.TypeNTAG213, "04000000000001", "", emu.Faults{})
	first := b.tag
	second := newEmuTag(t, nfc.TypeNTAG215, "04000000000002", "")
	env, errOut, _ := provisionEnv(t, local)
	op := &operator{t: t, errOut: errOut, reader: b.reader}
	go func() {
		// The first tag is presented a second time: it uses no slot.
		op.after("present the next one", func() { b.reader.Remove() })
		op.after("Waiting", func() { b.reader.Insert(first, emu.Faults{}) })
		op.after("provisioned already", func() {})
		op.after("present the next one", func() { b.reader.Remove() })
		op.after("Waiting", func() { b.reader.Insert(second, emu.Faults{}) })
	}()
	opts := &TagProvisionOptions{Env: env, Access: b.access(5 * time.Second), Merchant: merchant, Count: 2}
	opts.Access.Waiting = errOut
	if err := runTagProvision(context.Background(), opts); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	tags, _ := local.ListTags(context.Background(), orders.TagFilter{})
	if len(tags) != 2 {
		t.Fatalf("%d registrations, want 2", len(tags))
	}
	for _, tg := range tags {
		if tg.Status != orders.TagActive {
			t.Errorf("tag %s is %s", tg.UID, tg.Status)
		}
	}
}

// Ctrl-C while the batch waits for its second tag: the run stops at once, exits 130, and
// its summary and the ledger hold the one tag that was provisioned, not a full batch.
func TestProvisionInterruptedSaysWhatHappened(t *testing.T) {
	local, merchant := provisionLedger(t)
	b := newBench(t, emu.Part3, nfc.TypeNTAG213, "04000000000021", "", emu.Faults{})
	env, errOut, _ := provisionEnv(t, local)
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	op := &operator{t: t, errOut: errOut, reader: b.reader}
	go func() {
		op.after("present the next one", func() { b.reader.Remove() })
		op.after("Waiting", interrupt)
	}()
	report := filepath.Join(t.TempDir(), "report.json")
	opts := &TagProvisionOptions{Env: env, Access: b.access(time.Minute), Merchant: merchant, Count: 3, Report: report}
	opts.Access.Waiting = errOut
	err := runTagProvision(ctx, opts)
	if code := ExitCode(err); code != ExitInterrupted || !strings.Contains(err.Error(), "stopped with 1 of 3 tag(s) provisioned") {
		t.Fatalf("interrupted run: exit %d, %v\n%s", code, err, errOut)
	}
	if strings.Contains(errOut.String(), "3/3") {
		t.Errorf("the progress shows a full batch after one tag:\n%s", errOut)
	}
	var rows []ProvisionResult
	raw, _ := os.ReadFile(report)
	if err := json.Unmarshal(raw, &rows); err != nil || len(rows) != 1 || rows[0].UID != "04000000000021" || rows[0].Status != orders.ProvisionActive {
		t.Fatalf("report after Ctrl-C: %s (%v)", raw, err)
	}
	tags, _ := local.ListTags(context.Background(), orders.TagFilter{})
	if len(tags) != 1 || tags[0].Status != orders.TagActive {
		t.Fatalf("ledger after Ctrl-C: %+v", tags)
	}
}

func TestProvisionPlanContinuesWhereItStopped(t *testing.T) {
	local, merchant := provisionLedger(t)
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.csv")
	report := filepath.Join(dir, "report.json")
	if err := os.WriteFile(plan, []byte("merchant,label,amount\n"+merchant+",Till,1.50\n"+merchant+",Door,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := newBench(t, emu.Part3, nfc.TypeNTAG213, "04000000000011", "", emu.Faults{})
	first := b.tag
	second := newEmuTag(t, nfc.TypeNTAG213, "04000000000012", "")

	// The first run makes one tag, then no second tag comes: it stops.
	env, errOut, _ := provisionEnv(t, local)
	op := &operator{t: t, errOut: errOut, reader: b.reader}
	go op.after("present the next one", func() { b.reader.Remove() })
	opts := &TagProvisionOptions{Env: env, Access: b.access(200 * time.Millisecond), Plan: plan, Report: report, Count: 1}
	opts.Access.Waiting = errOut
	err := runTagProvision(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 tag(s) provisioned") {
		t.Fatalf("first run: %v\n%s", err, errOut)
	}

	// Started again with the same plan and report: the first tag, presented again, is
	// skipped, and the second row gets the second tag.
	env, errOut, _ = provisionEnv(t, local)
	op = &operator{t: t, errOut: errOut, reader: b.reader}
	go func() {
		op.after("provisioned already", func() { b.reader.Remove() })
		op.after("Waiting", func() { b.reader.Insert(second, emu.Faults{}) })
	}()
	b.reader.Remove()
	b.reader.Insert(first, emu.Faults{})
	opts = &TagProvisionOptions{Env: env, Access: b.access(5 * time.Second), Plan: plan, Report: report, Count: 1}
	opts.Access.Waiting = errOut
	if err := runTagProvision(context.Background(), opts); err != nil {
		t.Fatalf("second run: %v\n%s", err, errOut)
	}
	var rows []ProvisionResult
	raw, _ := os.ReadFile(report)
	if err := json.Unmarshal(raw, &rows); err != nil || len(rows) != 2 {
		t.Fatalf("report %s: %v", raw, err)
	}
	tags, _ := local.ListTags(context.Background(), orders.TagFilter{})
	labels := map[string]string{}
	for _, tg := range tags {
		if tg.Status != orders.TagActive {
			t.Errorf("tag %s is %s", tg.UID, tg.Status)
		}
		labels[tg.UID] = tg.Label
	}
	if len(tags) != 2 || labels["04000000000011"] != "Till" || labels["04000000000012"] != "Door" {
		t.Fatalf("registrations %v: want each plan row once", labels)
	}
}

func TestProvisionPlanIsChecked(t *testing.T) {
	for _, tt := range []struct{ name, file, body, want string }{
		{"unknown column", "p.csv", "merchant,colour\nacct_x,red\n", "unknown column"},
		{"no merchant", "p.csv", "label\nTill\n", "no merchant column"},
		{"empty merchant", "p.json", `[{"merchant":""}]`, "row 1 names no merchant"},
		{"bad lock", "p.csv", "merchant,lock\nacct_x,maybe\n", "not true or false"},
		{"no rows", "p.json", `[]`, "lists no tags"},
		{"unknown field", "p.json", `[{"merchant":"acct_x","colour":"red"}]`, "unknown field"},
		{"not a plan", "p.txt", "x", "name a .csv or .json file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parsePlan(tt.file, []byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) || ExitCode(err) != ExitUsage {
				t.Fatalf("parsePlan: %v, want a usage error saying %q", err, tt.want)
			}
		})
	}
}

// An idempotency key used again for other settings is refused in the words of the
// command line: the message names the tag, not the key derived for one of its steps.
func TestProvisionKeyClashNamesNoDerivedKey(t *testing.T) {
	local, merchant := provisionLedger(t)
	b := newBench(t, emu.Part3, nfc.TypeNTAG213, "04000000000031", "", emu.Faults{})
	run := func(label string) (string, error) {
		env, errOut, _ := provisionEnv(t, local)
		opts := &TagProvisionOptions{Env: env, Access: b.access(time.Second), Merchant: merchant, Count: 1, Label: label, IdempotencyKey: "batch-7"}
		opts.Access.Waiting = errOut
		err := runTagProvision(context.Background(), opts)
		return errOut.String(), err
	}
	if _, err := run("Till"); err != nil {
		t.Fatal(err)
	}
	_, err := run("Door")
	if err == nil || ExitCode(err) != ExitConflict {
		t.Fatalf("same key, other label: %v (exit %d), want a conflict", err, ExitCode(err))
	}
	if !strings.Contains(err.Error(), "04000000000031 was already provisioned under this idempotency key") || strings.Contains(err.Error(), "batch-7.") {
		t.Errorf("message %q should name the tag and not a derived key", err)
	}
}
