package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/emu"
)

// nextTagSignal is stderr for a watch: it tells the test each time the watch asks for
// the tag to be removed, by which point that tag's result is printed, and each time it
// waits for the next one, by which point it has seen the reader empty.
type nextTagSignal struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	next    chan struct{}
	waiting chan struct{}
}

func (w *nextTagSignal) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	switch {
	case bytes.Contains(p, []byte("diagnose the next one")):
		w.next <- struct{}{}
	case bytes.HasPrefix(p, []byte("Waiting ")):
		w.waiting <- struct{}{}
	}
	return len(p), nil
}

// watchTwoTags runs `tag diagnose --watch` in the given output mode while two tags
// are presented in turn, and returns what it printed.
func watchTwoTags(t *testing.T, format string, tty bool) string {
	t.Helper()
	r := emu.NewReader("Watch Reader", emu.ACR122)
	first := newEmuTag(t, nfc.TypeNTAG213, "04A1A1A1A1A1A1", "https://tagpay.example/t/first")
	second := newEmuTag(t, nfc.TypeNTAG215, "04B2B2B2B2B2B2", "https://tagpay.example/t/second")
	r.Insert(first, emu.Faults{})
	streams, _, out, _ := Test()
	streams.SetTTY(false, tty)
	streams.fixedWidth = 200
	sig := &nextTagSignal{next: make(chan struct{}), waiting: make(chan struct{})}
	streams.ErrOut = sig
	opts := &TagDiagnoseOptions{
		IO: streams, Out: NewPrinter(streams, format), Watch: true,
		Access: TagAccess{OpenBus: func() (nfc.Bus, error) { return emu.NewBus(r), nil }, Waiting: sig},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runTagDiagnose(ctx, opts) }()
	wait := func(ch chan struct{}, what string) {
		select {
		case <-ch:
		case err := <-done:
			t.Fatalf("the watch ended before %s: %v", what, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("no result for %s", what)
		}
	}
	wait(sig.next, "the first tag")
	r.Remove()
	wait(sig.waiting, "the reader to be seen empty")
	r.Insert(second, emu.Faults{})
	wait(sig.next, "the second tag")
	cancel()
	err := <-done
	// An emulated tag has no NXP signature, so each fails that check.
	var ef *ExitFailure
	if !errors.As(err, &ef) || ef.Code != ExitDeclined || !strings.Contains(ef.Message, "2 tag(s) failed") {
		t.Fatalf("watch ended with %v, want exit 5 for both tags", err)
	}
	return out.String()
}

func TestDiagnoseWatchJSONLines(t *testing.T) {
	out := watchTwoTags(t, FormatJSON, false)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want one JSON object per tag:\n%s", len(lines), out)
	}
	for i, want := range []string{"04A1A1A1A1A1A1", "04B2B2B2B2B2B2"} {
		var d Diagnosis
		if err := json.Unmarshal([]byte(lines[i]), &d); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if d.UID != want || d.Reader != "Watch Reader" || len(d.Checks) < 5 {
			t.Errorf("line %d: uid %q reader %q, %d checks; want %s", i+1, d.UID, d.Reader, len(d.Checks), want)
		}
	}
}

func TestDiagnoseWatchTSVNamesTheTag(t *testing.T) {
	out := watchTwoTags(t, FormatTable, false)
	var uids []string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			t.Fatalf("line %q: want UID, check, status, detail", line)
		}
		if len(uids) == 0 || uids[len(uids)-1] != f[0] {
			uids = append(uids, f[0])
		}
	}
	if strings.Join(uids, " ") != "04A1A1A1A1A1A1 04B2B2B2B2B2B2" {
		t.Errorf("UIDs in order %v, want the first tag's lines, then the second's", uids)
	}
	if !strings.Contains(out, "04B2B2B2B2B2B2\tndef\tPASS\t") {
		t.Errorf("no NDEF line for the second tag:\n%s", out)
	}
}

func TestDiagnoseWatchTableHeaders(t *testing.T) {
	out := watchTwoTags(t, FormatTable, true)
	first := strings.Index(out, `tag 04A1A1A1A1A1A1 on "Watch Reader": 1 failed`)
	second := strings.Index(out, "\n\ntag 04B2B2B2B2B2B2 on \"Watch Reader\": 1 failed")
	if first != 0 || second < 0 {
		t.Fatalf("want a header line per tag, a blank line before the second:\n%s", out)
	}
	if strings.Count(out, "CHECK") != 2 {
		t.Errorf("want one table per tag:\n%s", out)
	}
}

// Without --watch the output keeps its form, and the JSON names the tag too.
func TestDiagnoseOnceJSONHasUID(t *testing.T) {
	b := newBench(t, emu.Part3, nfc.TypeNTAG213, "04A1A1A1A1A1A1", "https://tagpay.example/t/x", emu.Faults{})
	streams, _, out, _ := Test()
	err := runTagDiagnose(context.Background(), &TagDiagnoseOptions{IO: streams, Out: NewPrinter(streams, FormatJSON), Access: b.access(time.Second)})
	var ef *ExitFailure
	if !errors.As(err, &ef) {
		t.Fatalf("err %v, want the signature failure", err)
	}
	var d Diagnosis
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if d.UID != "04A1A1A1A1A1A1" || d.Failed != 1 {
		t.Errorf("uid %q failed %d", d.UID, d.Failed)
	}
	if !strings.HasPrefix(out.String(), "{\n  ") {
		t.Errorf("a single diagnosis is indented JSON:\n%s", out)
	}
}
