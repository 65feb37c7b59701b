package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/emu"
)

// Reader faults through the real pcscd and vpcd: the tag removed at every APDU of
// `tag write`, the emulator's socket closed in the middle of a write (a reader
// unplugged), and pcscd itself killed in the middle of a write. The in-memory sweeps of
// reader_faults_test.go cover every position of both commands and both faults; these
// show the same holds when PC/SC sits in between.

// needPCSCD skips (fails under CI=true) when the suite's pcscd with vpcd is not running,
// then holds the vpcd readers for the rest of the test.
func needPCSCD(t *testing.T) {
	t.Helper()
	ok, err := pcscCondition()
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Skip("needs pcscd with vpcd (scripts/pcscd start)")
	}
	t.Cleanup(holdReaders(t.Fatalf))
}

// newPCSCBench serves img in vpcd slot 0 of the suite's pcscd.
func newPCSCBench(t *testing.T, p emu.Personality, img *nfc.Image, f emu.Faults) (*faultBench, *emulator) {
	t.Helper()
	e := startSlot0(t, p, img, f)
	b := &faultBench{reader: e.Reader, tag: e.Tag,
		access: TagAccess{OpenBus: nfc.OpenPCSC, Reader: e.name, Wait: 10 * time.Second},
		settle: func(present bool) {
			if !waitSlot(e.name, present) {
				t.Fatalf("pcscd did not see the tag in %q come or go (want present=%v)", e.name, present)
			}
		}}
	return b, e
}

func startSlot0(t *testing.T, p emu.Personality, img *nfc.Image, f emu.Faults) *emulator {
	t.Helper()
	var e *emulator
	var err error
	for try := 0; ; try++ {
		e, err = startEmulator(context.Background(), img, 0, p, f, nfc.OpenPCSC, 2*time.Minute)
		if !errors.Is(err, errSlotOccupied) || try == 3 {
			break
		}
		waitSlotEmpty(vpcdReaderName(0))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Stop()
		waitSlotEmpty(e.name)
	})
	return e
}

func TestTagWriteTagRemovedAtEveryAPDUThroughPCSCD(t *testing.T) {
	needPCSCD(t)
	b, _ := newPCSCBench(t, emu.ACR122, faultImage(t, "04C1B2C3D4E5F6"), emu.Faults{})
	reported, err := writeOnce(b)
	if err != nil || reported < 4 {
		t.Fatalf("fault-free write through pcscd: %d APDUs, %v", reported, err)
	}
	n := 0
	for i := 1; n == 0; i++ {
		if i > 2*reported+16 {
			t.Fatalf("tag write never completes with the tag removed after APDU %d or earlier", i-1)
		}
		b.put(t, faultImage(t, "04C1B2C3D4E5F6"), emu.Faults{RemoveAfter: i})
		_, err := writeOnce(b)
		code, msg := exitOutcome(err)
		what := fmt.Sprintf("tag write through pcscd, tag removed after APDU %d", i)
		if code == ExitOK {
			n = i
		} else {
			checkDeviceFailure(t, what, code, msg)
		}
		// Diagnosed in memory, same code and same tag: pcscd's slow polling of insertions
		// would double the sweep's time, and the two tests below diagnose through it.
		truth := checkDiagnosisTruthful(t, memBenchOf(b.tag, emu.ACR122))
		if code == ExitOK && truth != faultNewURI {
			t.Errorf("%s succeeded but the tag holds %q", what, truth)
		}
	}
	if n != reported {
		t.Errorf("through pcscd tag write sends %d APDUs, in memory it reported %d", n, reported)
	}
	t.Logf("tag write through pcscd: %d APDUs, the tag removed after each in turn", n)
}

// changedFrom reports whether the tag's user memory differs from img's: a write has
// landed.
func changedFrom(tag *emu.Tag, img *nfc.Image) bool {
	now := tag.Image()
	for p := 4; p < len(img.Pages) && p < len(now.Pages); p++ {
		if string(now.Pages[p]) != string(img.Pages[p]) {
			return true
		}
	}
	return false
}

// whenWritten calls fn once the first page write has reached tag, or gives up after a
// while (the test then fails on the command's success).
func whenWritten(tag *emu.Tag, img *nfc.Image, fn func()) {
	go func() {
		for range 5000 {
			if changedFrom(tag, img) {
				fn()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
}

func TestTagWriteReaderUnpluggedMidWrite(t *testing.T) {
	needPCSCD(t)
	img := faultImage(t, "04C2B2C3D4E5F6")
	// Slow answers leave time to pull the plug between two page writes.
	e := startSlot0(t, emu.ACR122, img, emu.Faults{Delay: 20 * time.Millisecond})
	whenWritten(e.Tag, img, e.cancel) // the emulator's socket to vpcd closes
	b := &faultBench{reader: e.Reader, tag: e.Tag, access: TagAccess{OpenBus: nfc.OpenPCSC, Reader: e.name, Wait: 10 * time.Second}}
	_, err := writeOnce(b)
	code, msg := exitOutcome(err)
	checkDeviceFailure(t, "tag write with the reader unplugged", code, msg)
	t.Logf("reader unplugged mid-write: exit %d: %s", code, msg)
	e.Stop()
	waitSlotEmpty(e.name)

	// Plugged in again, the same tag is diagnosed for what it holds.
	b2, _ := newPCSCBench(t, emu.ACR122, e.Tag.Image(), emu.Faults{})
	if truth := checkDiagnosisTruthful(t, b2); truth == faultNewURI {
		t.Errorf("the write was cut off mid-way, yet the tag holds the whole new message")
	}
}

// privatePCSCD runs a pcscd of the test's own, with one vpcd reader on a free loopback
// port, in a mount namespace where /run is private, so that it neither disturbs nor
// sees the suite's pcscd. Clients reach it through nsenter. It needs root, unshare and
// nsenter, and skips without them.
type privatePCSCD struct {
	t        *testing.T
	confDir  string
	vpcdAddr string
	pid      int // of the running pcscd, for nsenter

	mu     sync.Mutex // kill may come from another goroutine
	cmd    *exec.Cmd
	exited chan error
}

func newPrivatePCSCD(t *testing.T) *privatePCSCD {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a private pcscd needs root (mount namespace)")
	}
	for _, tool := range []string{"pcscd", "unshare", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("a private pcscd needs %s: %v", tool, err)
		}
	}
	driver := vpcdDriverPath()
	if driver == "" {
		t.Skip("no vpcd driver configured in /etc/reader.conf.d")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p := &privatePCSCD{t: t, confDir: filepath.Join(t.TempDir(), "reader.conf.d"), vpcdAddr: fmt.Sprintf("127.0.0.1:%d", port)}
	if err := os.MkdirAll(p.confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME   /dev/null:0x%04X\nLIBPATH      %s\nCHANNELID    0x%04X\n", port, driver, port)
	if err := os.WriteFile(filepath.Join(p.confDir, "vpcd"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// vpcdDriverPath is the vpcd driver library the system's pcscd loads.
func vpcdDriverPath() string {
	files, _ := filepath.Glob("/etc/reader.conf.d/*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			fields := strings.Fields(line)
			if len(fields) == 2 && fields[0] == "LIBPATH" && strings.Contains(fields[1], "vpcd") {
				return fields[1]
			}
		}
	}
	return ""
}

// start runs the private pcscd and waits until its vpcd reader listens.
func (p *privatePCSCD) start() {
	t := p.t
	t.Helper()
	// unshare execs sh, which execs pcscd: the process started here is pcscd itself.
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount -t tmpfs tagpay-test-run /run && mkdir -p /run/pcscd && exec pcscd --foreground -c "$0"`, p.confDir)
	log, err := os.Create(filepath.Join(t.TempDir(), "pcscd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start a private pcscd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	p.mu.Lock() // after any kill still under way
	p.cmd, p.exited, p.pid = cmd, exited, cmd.Process.Pid
	p.mu.Unlock()
	t.Cleanup(p.kill)
	for range 200 {
		select {
		case err := <-exited:
			exited <- err // for kill
			out, _ := os.ReadFile(log.Name())
			t.Skipf("the private pcscd exited at start (%v): %s", err, out)
		default:
		}
		if listening(p.vpcdAddr) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the private pcscd's vpcd reader never listened on %s", p.vpcdAddr)
}

// kill ends the private pcscd with SIGKILL, as a crash of the service would.
func (p *privatePCSCD) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Kill()
	<-p.exited
	p.cmd = nil
}

// listening reports whether something listens on the loopback addr, read from the
// kernel's table so that probing never connects (vpcd would take a connection for a
// card).
func listening(addr string) bool {
	_, port, _ := net.SplitHostPort(addr)
	var n int
	fmt.Sscan(port, &n)
	want := fmt.Sprintf(":%04X", n)
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 3 && strings.HasSuffix(f[1], want) && f[3] == "0A" {
				return true
			}
		}
	}
	return false
}

// tagpay runs the tagpay program as a client of the private pcscd.
func (p *privatePCSCD) tagpay(args ...string) (code int, stdout, stderr string) {
	t := p.t
	t.Helper()
	bin, err := exec.LookPath("tagpay")
	if err != nil {
		t.Fatalf("the tagpay program of the test binary: %v", err)
	}
	home := t.TempDir()
	c := exec.Command("nsenter", append([]string{"-t", fmt.Sprint(p.pid), "-m", "--", bin}, args...)...)
	c.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_DATA_HOME="+home, "NO_COLOR=1")
	var out, errOut strings.Builder
	c.Stdout, c.Stderr = &out, &errOut
	err = c.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running tagpay: %v", err)
	}
	return code, out.String(), errOut.String()
}

// serve puts tag in the private pcscd's reader until the returned stop is called.
func (p *privatePCSCD) serve(tag *emu.Tag, f emu.Faults) (stop func()) {
	r := emu.NewReader("Virtual PCD 00 00", emu.ACR122)
	r.Insert(tag, f)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		emu.ServeVPCD(ctx, p.vpcdAddr, r)
		close(done)
	}()
	return func() {
		r.Remove()
		cancel()
		<-done
	}
}

func TestTagWritePCSCDKilledMidWrite(t *testing.T) {
	p := newPrivatePCSCD(t)
	p.start()
	img := faultImage(t, "04C3B2C3D4E5F6")
	tag, err := emu.NewTag(img)
	if err != nil {
		t.Fatal(err)
	}
	stop := p.serve(tag, emu.Faults{Delay: 20 * time.Millisecond})
	whenWritten(tag, img, p.kill)
	code, _, stderr := p.tagpay("tag", "write", "--reader", "Virtual PCD 00 00", "--wait", "10s", "--uri", faultNewURI)
	stop()
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	msg := lines[len(lines)-1]
	checkDeviceFailure(t, "tag write with pcscd killed", code, msg)
	if !strings.HasPrefix(msg, "tagpay: ") || strings.Contains(stderr, "panic") {
		t.Errorf("stderr %q does not end in one tagpay error line", stderr)
	}
	t.Logf("pcscd killed mid-write: exit %d: %s", code, msg)
	if strings.Contains(msg, "the tag is unchanged") && changedFrom(tag, img) {
		// The page write reached the tag and its answer died with pcscd: the page is in
		// doubt, and the message must not promise otherwise.
		t.Errorf("the message calls the tag unchanged, but the first page write had reached it: %s", msg)
	}

	// A new pcscd, the same tag: diagnose tells what it holds.
	p.start()
	stop = p.serve(tag, emu.Faults{})
	defer stop()
	truth := tagTruth(t, tag.Image())
	code, stdout, stderr := p.tagpay("tag", "diagnose", "--reader", "Virtual PCD 00 00", "--wait", "10s", "-o", "json")
	var d Diagnosis
	if err := json.Unmarshal([]byte(stdout), &d); err != nil {
		t.Fatalf("tag diagnose -o json (exit %d): %v: %s %s", code, err, stdout, stderr)
	}
	for _, c := range d.Checks {
		if c.Name != nfc.CheckNDEF {
			continue
		}
		switch {
		case truth != "" && (c.Status != nfc.StatusPass || !strings.Contains(c.Detail, truth)):
			t.Errorf("the tag holds %s intact, diagnose says %s: %s", truth, c.Status, c.Detail)
		case truth == "" && c.Status == nfc.StatusPass:
			t.Errorf("the tag holds no intact message, diagnose says PASS: %s", c.Detail)
		}
		t.Logf("afterwards diagnose says ndef %s: %s (exit %d)", c.Status, c.Detail, code)
		return
	}
	t.Fatalf("tag diagnose ran no NDEF check: %s", stdout)
}
