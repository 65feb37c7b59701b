package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/emu"
	"github.com/tagpay/tagpay/nfc/ndef"
	"github.com/tagpay/tagpay/orders"
)

// bench is an in-memory reader holding an emulated tag, reached through a fresh bus
// per command as PC/SC would be.
type bench struct {
	reader *emu.Reader
	tag    *emu.Tag
}

func newBench(t *testing.T, p emu.Personality, typ nfc.TagType, uid string, uri string, f emu.Faults) *bench {
	t.Helper()
	b := &bench{reader: emu.NewReader("Test Reader 0", p)}
	b.tag = newEmuTag(t, typ, uid, uri)
	b.reader.Insert(b.tag, f)
	return b
}

func newEmuTag(t *testing.T, typ nfc.TagType, uid string, uri string) *emu.Tag {
	t.Helper()
	var msg []byte
	if uri != "" {
		var err error
		if msg, err = ndef.Encode(ndef.Message{ndef.NewURI(uri)}); err != nil {
			t.Fatal(err)
		}
	}
	img, err := nfc.NewImage(typ, mustHex(t, uid), msg)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := emu.NewTag(img)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	var b nfc.HexBytes
	if err := json.Unmarshal([]byte(`"`+s+`"`), &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *bench) access(wait time.Duration) TagAccess {
	return TagAccess{OpenBus: func() (nfc.Bus, error) { return emu.NewBus(b.reader), nil }, Wait: wait}
}

func TestTagReadThroughEachPersonality(t *testing.T) {
	uri := "https://tagpay.example/t/abcdefghij?s=0123456789abcdef0123456789abcdef012"
	for _, p := range []emu.Personality{emu.ACR122, emu.Part3} {
		for _, typ := range []nfc.TagType{nfc.TypeNTAG213, nfc.TypeNTAG215, nfc.TypeNTAG216} {
			t.Run(fmt.Sprintf("%s/%s", p, typ), func(t *testing.T) {
				b := newBench(t, p, typ, "04A1B2C3D4E5F6", uri, emu.Faults{})
				io, _, out, _ := Test()
				err := runTagRead(context.Background(), &TagReadOptions{IO: io, Out: NewPrinter(io, FormatJSON), Access: b.access(time.Second)})
				if err != nil {
					t.Fatal(err)
				}
				var res struct {
					Type        string            `json:"type"`
					UID         string            `json:"uid"`
					Personality string            `json:"personality"`
					Records     []ndef.RecordInfo `json:"records"`
					APDUs       int               `json:"apdus"`
				}
				if err := json.Unmarshal(out.Bytes(), &res); err != nil {
					t.Fatal(err)
				}
				if res.Type != string(typ) || res.UID != "04A1B2C3D4E5F6" || res.Personality != string(p) {
					t.Errorf("read %+v", res)
				}
				if len(res.Records) != 1 || res.Records[0].URI != uri {
					t.Errorf("records %+v, want the URI %s", res.Records, uri)
				}
				if res.APDUs < 1 {
					t.Errorf("apdus = %d, want the count of the exchanges", res.APDUs)
				}
			})
		}
	}
}

func TestTagReadWithoutTag(t *testing.T) {
	r := emu.NewReader("Empty Reader", emu.ACR122)
	access := TagAccess{OpenBus: func() (nfc.Bus, error) { return emu.NewBus(r), nil }, Wait: 10 * time.Millisecond}
	io, _, _, _ := Test()
	err := runTagRead(context.Background(), &TagReadOptions{IO: io, Out: NewPrinter(io, FormatTable), Access: access})
	if !errors.Is(err, nfc.ErrNoTag) || ExitCode(err) != ExitDevice {
		t.Fatalf("err = %v (exit %d), want no tag, exit 6", err, ExitCode(err))
	}
}

func TestTagWriteTorn(t *testing.T) {
	for _, p := range []emu.Personality{emu.ACR122, emu.Part3} {
		t.Run(string(p), func(t *testing.T) {
			b := newBench(t, p, nfc.TypeNTAG213, "04A1B2C3D4E5F6", "", emu.Faults{RemoveAfter: 6})
			io, _, _, _ := Test()
			opts := &TagWriteOptions{IO: io, Out: NewPrinter(io, FormatTable), Access: b.access(time.Second),
				URI: "https://tagpay.example/t/a-long-enough-content-to-span-several-pages"}
			err := runTagWrite(context.Background(), opts)
			var torn *nfc.TornWriteError
			if !errors.As(err, &torn) || len(torn.PagesWritten) == 0 {
				t.Fatalf("err = %v, want a torn write after some pages", err)
			}
			if ExitCode(err) != ExitDevice || !strings.Contains(err.Error(), "written: page") {
				t.Errorf("exit %d, message %q: want 6 and the pages written", ExitCode(err), err)
			}
		})
	}
}

func TestTagWriteTooLargeIsUsage(t *testing.T) {
	b := newBench(t, emu.ACR122, nfc.TypeNTAG213, "04A1B2C3D4E5F6", "", emu.Faults{})
	io, _, _, _ := Test()
	opts := &TagWriteOptions{IO: io, Out: NewPrinter(io, FormatTable), Access: b.access(time.Second), Text: strings.Repeat("x", 200), Lang: "en"}
	err := runTagWrite(context.Background(), opts)
	if ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "207 bytes") || !strings.Contains(err.Error(), "141 bytes") {
		t.Fatalf("err = %v (exit %d), want a usage error naming 207 and 141 bytes", err, ExitCode(err))
	}
}

func TestReaderWatchReportsArrivalAndRemoval(t *testing.T) {
	b := newBench(t, emu.ACR122, nfc.TypeNTAG213, "04A1B2C3D4E5F6", "", emu.Faults{})
	other := emu.NewReader("Other Reader", emu.ACR122)
	other.Insert(newEmuTag(t, nfc.TypeNTAG215, "04000000000001", ""), emu.Faults{})
	io, _, _, _ := Test()
	out := &lockedBuffer{}
	io.Out = out
	opts := &ReaderWatchOptions{IO: io, Out: NewPrinter(io, FormatJSON), Count: 2, Reader: "Test Reader 0",
		OpenBus: func() (nfc.Bus, error) { return emu.NewBus(b.reader, other), nil }}
	done := make(chan error, 1)
	go func() { done <- runReaderWatch(context.Background(), opts) }()
	// The removal can only be seen once the arrival was: wait for its line.
	for !strings.Contains(out.String(), "arrival") {
		time.Sleep(time.Millisecond)
	}
	b.reader.Remove()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), out)
	}
	for i, want := range []string{"arrival", "removal"} {
		var ev nfc.Event
		if err := json.Unmarshal([]byte(lines[i]), &ev); err != nil {
			t.Fatal(err)
		}
		if string(ev.Kind) != want || ev.Reader != "Test Reader 0" || fmt.Sprintf("%X", []byte(ev.UID)) != "04A1B2C3D4E5F6" {
			t.Errorf("line %d = %+v, want %s of 04A1B2C3D4E5F6 on Test Reader 0", i, ev, want)
		}
	}
}

// lockedBuffer is a stdout that a running command writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// provisionBackend is the ledger as provisioning sees it: registrations, confirmations
// checked against the registered content, failures recorded.
type provisionBackend struct {
	backend.Backend
	mu        sync.Mutex
	tags      map[string]*orders.Tag
	failed    map[string]string // id → reason
	confirmed chan string       // UIDs, as each is confirmed
}

func newProvisionBackend() *provisionBackend {
	return &provisionBackend{tags: map[string]*orders.Tag{}, failed: map[string]string{}, confirmed: make(chan string, 8)}
}

func (b *provisionBackend) RegisterTag(_ context.Context, req orders.RegisterRequest) (orders.Tag, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !req.Pending {
		return orders.Tag{}, errors.New("provisioning must register tags as pending")
	}
	id := fmt.Sprintf("tag_%d", len(b.tags)+1)
	t := &orders.Tag{ID: id, Ref: "REF" + req.UID[len(req.UID)-4:], UID: req.UID, Status: orders.TagPending,
		Content: "https://tagpay.example/t/REF" + req.UID[len(req.UID)-4:] + "?s=mac"}
	b.tags[id] = t
	return *t, nil
}

func (b *provisionBackend) ConfirmTag(_ context.Context, req orders.ConfirmRequest) (orders.Tag, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.tags[req.Tag]
	if req.UID != t.UID || req.Content != t.Content {
		t.Status = orders.TagFailed
		return *t, fmt.Errorf("read back %s %s, registered %s %s", req.UID, req.Content, t.UID, t.Content)
	}
	t.Status = orders.TagActive
	b.confirmed <- t.UID
	return *t, nil
}

func (b *provisionBackend) FailTag(_ context.Context, req orders.TagStateRequest) (orders.Tag, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.tags[req.Tag]
	t.Status = orders.TagFailed
	b.failed[req.Tag] = req.Reason
	return *t, nil
}

func (b *provisionBackend) GetTag(_ context.Context, id string) (orders.Tag, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return *b.tags[id], nil
}

func TestProvisionTagAfterTag(t *testing.T) {
	b := newBench(t, emu.Part3, nfc.TypeNTAG213, "04000000000001", "", emu.Faults{})
	second := newEmuTag(t, nfc.TypeNTAG215, "04000000000002", "")
	be := newProvisionBackend()
	io, _, out, _ := Test()
	errOut := &lockedBuffer{}
	io.ErrOut = errOut
	// The operator: told to, takes the first tag away, and presents the next once the
	// command waits for it.
	go func() {
		<-be.confirmed
		for !strings.Contains(errOut.String(), "present the next one") {
			time.Sleep(time.Millisecond)
		}
		b.reader.Remove()
		for !strings.Contains(errOut.String(), "Waiting") {
			time.Sleep(time.Millisecond)
		}
		b.reader.Insert(second, emu.Faults{})
	}()
	opts := &TagProvisionOptions{
		Env: Env{IO: io, Out: NewPrinter(io, FormatJSON), Backend: func(context.Context) (backend.Backend, func() error, error) {
			return be, func() error { return nil }, nil
		}},
		Access: b.access(5 * time.Second), Merchant: "acct_x", Count: 2, Lock: true, Yes: true,
	}
	opts.Access.Waiting = errOut
	if err := runTagProvision(context.Background(), opts); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var results []ProvisionResult
	if err := json.Unmarshal(out.Bytes(), &results); err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 {
		t.Fatalf("%d results, want 2", len(results))
	}
	for i, r := range results {
		want := fmt.Sprintf("0400000000000%d", i+1)
		if r.UID != want || r.Status != orders.ProvisionActive || !r.Locked {
			t.Errorf("result %d = %+v, want %s active and locked", i, r, want)
		}
	}
	for _, tag := range []*emu.Tag{b.tag, second} {
		img := tag.Image()
		if img.Pages[3][3] != 0x0F {
			t.Errorf("%X: CC write access %X, want F (locked)", []byte(img.UID), img.Pages[3][3])
		}
	}
}

func TestProvisionTornTagIsMarkedFailed(t *testing.T) {
	b := newBench(t, emu.ACR122, nfc.TypeNTAG213, "04000000000003", "", emu.Faults{RemoveAfter: 8})
	be := newProvisionBackend()
	io, _, out, _ := Test()
	opts := &TagProvisionOptions{
		Env: Env{IO: io, Out: NewPrinter(io, FormatTable), Backend: func(context.Context) (backend.Backend, func() error, error) {
			return be, func() error { return nil }, nil
		}},
		Access: b.access(time.Second), Merchant: "acct_x", Count: 1,
	}
	err := runTagProvision(context.Background(), opts)
	if ExitCode(err) != ExitDevice {
		t.Fatalf("err = %v (exit %d), want exit 6", err, ExitCode(err))
	}
	if len(be.failed) != 1 || !strings.Contains(be.failed["tag_1"], "write interrupted") {
		t.Errorf("failed tags %v, want tag_1 failed for the interrupted write", be.failed)
	}
	if be.tags["tag_1"].Status != orders.TagFailed {
		t.Errorf("tag_1 is %s, want failed", be.tags["tag_1"].Status)
	}
	if !strings.Contains(out.String(), "\tfailed\t") {
		t.Errorf("summary %q does not say failed", out)
	}
}

func TestProvisionVerdict(t *testing.T) {
	device := fmt.Errorf("%w: gone", nfc.ErrTagRemoved)
	declined := &ExitFailure{Code: ExitDeclined, Message: "no"}
	tests := []struct {
		name    string
		results []*ProvisionResult
		stopped error
		want    int
	}{
		{"all good", []*ProvisionResult{{Provisioned: orders.Provisioned{Status: orders.ProvisionActive}}}, nil, ExitOK},
		{"a torn tag", []*ProvisionResult{{Provisioned: orders.Provisioned{Status: orders.ProvisionActive}}, {Provisioned: orders.Provisioned{Status: orders.ProvisionFailed, Err: device}}}, nil, ExitDevice},
		{"device failure wins over an earlier one", []*ProvisionResult{{Provisioned: orders.Provisioned{Status: orders.ProvisionFailed, Err: declined}}, {Provisioned: orders.Provisioned{Status: orders.ProvisionFailed, Err: device}}}, nil, ExitDevice},
		{"a declined read-back", []*ProvisionResult{{Provisioned: orders.Provisioned{Status: orders.ProvisionFailed, Err: declined}}}, nil, ExitDeclined},
		{"failed and not marked", []*ProvisionResult{{Provisioned: orders.Provisioned{Status: orders.ProvisionStuck, Err: declined}}}, nil, ExitError},
		{"no tag came", nil, fmt.Errorf("stopped: %w", nfc.ErrNoTag), ExitDevice},
		{"stopped after a good tag", []*ProvisionResult{{Provisioned: orders.Provisioned{Status: orders.ProvisionActive}}}, fmt.Errorf("stopped: %w", nfc.ErrNoTag), ExitDevice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(provisionVerdict(tt.results, tt.stopped)); got != tt.want {
				t.Errorf("exit %d, want %d", got, tt.want)
			}
		})
	}
}

func TestImageFormat(t *testing.T) {
	tests := []struct{ format, file, want string }{
		{"", "", imageJSON},
		{"", "tag.nfc", imageFlipper},
		{"", "tag.NFC", imageFlipper},
		{"", "tag.json", imageJSON},
		{"json", "tag.nfc", imageJSON},
		{"Flipper", "", imageFlipper},
	}
	for _, tt := range tests {
		got, err := imageFormat(tt.format, tt.file)
		if err != nil || got != tt.want {
			t.Errorf("imageFormat(%q, %q) = %q, %v; want %q", tt.format, tt.file, got, err, tt.want)
		}
	}
	if _, err := imageFormat("xml", ""); ExitCode(err) != ExitUsage {
		t.Errorf("--format xml: %v, want a usage error", err)
	}
}
