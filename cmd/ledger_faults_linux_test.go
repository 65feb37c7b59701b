package cmd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/store"
)

// Ledger file faults at the command line: a truncated file, flipped bytes, a read-only
// file and a full disk. Every tagpay command refuses or reports the problem in one clear
// line with a non-zero exit, never panics, and a failed write never damages a good
// ledger. The store's own tests sweep these faults byte by byte (store/open_test.go,
// store/faults_linux_test.go); these run the real program on such files.

// ledgerCommands are what a user runs on a ledger: reads, then writes.
func ledgerCommands(payer string) [][]string {
	return [][]string{
		{"account", "list"},
		{"ledger", "verify"},
		{"ledger", "journal"},
		{"account", "create", "--name", "Late", "--kind", "person", "--currency", "EUR"},
		{"account", "fund", payer, "1.00"},
	}
}

// runTagpay runs tagpay's entry point on the ledger db, in this process (a process per
// run would make the sweeps slow under the race detector), with a home of its own so no
// configuration of the machine's user leaks in.
func runTagpay(t *testing.T, db string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	home := t.TempDir()
	for k, v := range map[string]string{"HOME": home, "XDG_CONFIG_HOME": home, "XDG_DATA_HOME": home, "NO_COLOR": "1", "TAGPAY_SERVER": "", "TAGPAY_TOKEN": "", "TAGPAY_DB": "", "TAGPAY_KEYS": db + ".keys"} {
		t.Setenv(k, v)
	}
	ios, _, out, errOut := Test()
	code = Main(context.Background(), append([]string{"--db", db}, args...), ios, BuildInfo{Version: "v0.0.0-test"})
	return code, out.String(), errOut.String()
}

// goodLedger writes a ledger with a few funded accounts and payments at path and
// returns a payer's account id.
func goodLedger(t *testing.T, path string) string {
	t.Helper()
	ctx := context.Background()
	local, err := backend.OpenLocal(path, backend.LocalOptions{Store: store.Options{NoSync: true, KeysPath: path + ".keys"}})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	var ids []string
	for i := range 12 {
		a, err := local.CreateAccount(ctx, store.CreateAccountRequest{Name: fmt.Sprint("person ", i), Kind: store.AccountPerson, Currency: "EUR"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := local.FundAccount(ctx, store.FundRequest{Account: a.ID, Amount: "100.00"}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	return ids[0]
}

// checkRefusal holds a failed command to the contract: non-zero, one "tagpay: " line
// naming the ledger problem, no panic.
func checkRefusal(t *testing.T, what string, code int, stderr string) {
	t.Helper()
	if code == ExitOK {
		t.Errorf("%s succeeded", what)
		return
	}
	line := strings.TrimSpace(stderr)
	if strings.Contains(line, "panic") || strings.Contains(line, "goroutine") || strings.Count(line, "\n") > 0 || !strings.HasPrefix(line, "tagpay: ") {
		t.Errorf("%s: exit %d with %q, want one tagpay error line", what, code, stderr)
	}
}

func TestDamagedLedgerFilesAreRefusedUntouched(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	payer := goodLedger(t, good)
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	pageSize := int(binary.LittleEndian.Uint32(orig[24:]))
	metas := bytes.Clone(orig)
	for _, meta := range []int{0, pageSize} {
		metas[meta+32] ^= 0xff // the root bucket's page id, under each meta page's checksum
	}
	damages := []struct {
		name string
		data []byte
	}{
		{"truncated to one page", orig[:pageSize]},
		{"truncated to half", orig[:usedSize(t, good)/2]},
		{"truncated one byte short of its last page", orig[:usedSize(t, good)-1]},
		{"both meta pages flipped", metas},
		{"zeroed header", append(make([]byte, 64), orig[64:]...)},
	}
	for _, d := range damages {
		for _, args := range ledgerCommands(payer) {
			name := d.name + "/" + strings.Join(args[:2], " ")
			t.Run(name, func(t *testing.T) {
				p := filepath.Join(t.TempDir(), "ledger.db")
				if err := os.WriteFile(p, d.data, 0o600); err != nil {
					t.Fatal(err)
				}
				code, _, stderr := runTagpay(t, p, args...)
				checkRefusal(t, name, code, stderr)
				if !strings.Contains(stderr, "ledger") {
					t.Errorf("%s: %q does not say the ledger is the problem", name, stderr)
				}
				if now, _ := os.ReadFile(p); !bytes.Equal(now, d.data) {
					t.Errorf("%s changed the damaged file", name)
				}
			})
		}
	}
}

// Bytes flipped through the used part of the file: each command either works (the
// bytes were free space or not read) or reports the damage in one line; never a crash.
func TestFlippedBytesNeverCrashTheCommandLine(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	goodLedger(t, good)
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	reported, unnoticed := 0, 0
	used := int(usedSize(t, good))
	step := used/40 | 1
	for off := 0; off < used; off += step {
		damaged := bytes.Clone(orig)
		for i := off; i < off+8 && i < len(damaged); i++ {
			damaged[i] ^= 0x5a
		}
		p := filepath.Join(dir, "damaged.db")
		if err := os.WriteFile(p, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runTagpay(t, p, "ledger", "verify")
		what := fmt.Sprintf("ledger verify, 8 bytes flipped at %d", off)
		if code == ExitOK {
			unnoticed++
			continue
		}
		reported++
		if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
			t.Errorf("%s crashed: %s", what, stderr)
		}
		if !strings.Contains(stderr, "tagpay: ") {
			t.Errorf("%s: exit %d without a tagpay error line: %q", what, code, stderr)
		}
	}
	t.Logf("ledger verify on %d damaged copies: %d reported the damage, %d unaffected", reported+unnoticed, reported, unnoticed)
	if reported == 0 {
		t.Errorf("no flip was ever reported; the sweep does not reach the data")
	}
}

// usedSize is the high-water mark of a closed bbolt file: the bytes its pages reach.
// Past it the file holds only preallocated free space.
func usedSize(t *testing.T, path string) int64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var size int64
	db.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil })
	return size
}

// mountTmpfs mounts a size-limited tmpfs for the test, or skips where mounting is not
// allowed (it needs root).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a size-limited filesystem here (%v); needs root", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
	return dir
}

func TestReadOnlyLedgerIsRefusedUntouched(t *testing.T) {
	dir := mountTmpfs(t, "4m")
	path := filepath.Join(dir, "ledger.db")
	payer := goodLedger(t, path)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Skipf("cannot remount read-only: %v", err)
	}
	for _, args := range ledgerCommands(payer) {
		code, _, stderr := runTagpay(t, path, args...)
		what := "read-only ledger: " + strings.Join(args, " ")
		checkRefusal(t, what, code, stderr)
		if code != ExitUnavailable || !strings.Contains(stderr, "read-only") {
			t.Errorf("%s: exit %d %q, want %d naming the read-only file system", what, code, stderr, ExitUnavailable)
		}
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, ""); err != nil {
		t.Fatal(err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, orig) {
		t.Errorf("the read-only ledger changed")
	}
	if code, out, stderr := runTagpay(t, path, "ledger", "verify"); code != ExitOK {
		t.Errorf("ledger verify once writable again: exit %d %s %s", code, out, stderr)
	}
}

func TestFullDiskFailsWritesAndKeepsTheLedger(t *testing.T) {
	dir := mountTmpfs(t, "2m")
	path := filepath.Join(dir, "ledger.db")
	payer := goodLedger(t, path)
	// Fill what is left of the filesystem.
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := filler.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			break
		}
	}
	filler.Close()

	// Writes go on until the free pages inside the file run out too; every one that
	// reported success must survive, and the first failure must say why.
	acknowledged := 0
	var failure string
	for i := range 2000 {
		code, _, stderr := runTagpay(t, path, "account", "create", "--name", fmt.Sprint("late ", i), "--kind", "person", "--currency", "EUR")
		if code != ExitOK {
			checkRefusal(t, "account create on a full disk", code, stderr)
			failure = strings.TrimSpace(stderr)
			break
		}
		acknowledged++
	}
	if failure == "" {
		t.Fatal("the disk never filled")
	}
	if !strings.Contains(failure, "no space left") {
		t.Errorf("full disk reported as %q; want the reason named", failure)
	}
	code, _, stderr := runTagpay(t, path, "account", "fund", payer, "1.00")
	checkRefusal(t, "account fund on a full disk", code, stderr)
	t.Logf("full disk: %d writes acknowledged, then: %s", acknowledged, failure)

	// Reads still work on the full disk, and nothing acknowledged was lost.
	code, out, stderr := runTagpay(t, path, "account", "list", "-o", "json")
	if code != ExitOK {
		t.Fatalf("account list on a full disk: exit %d %s", code, stderr)
	}
	if got, want := strings.Count(out, `"name": "late `), acknowledged; got != want {
		t.Errorf("%d late accounts in the ledger, %d were acknowledged", got, want)
	}
	if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
		t.Fatal(err)
	}
	if code, out, stderr := runTagpay(t, path, "ledger", "verify"); code != ExitOK {
		t.Errorf("ledger verify after the full disk: exit %d %s %s", code, out, stderr)
	}
	if code, _, stderr := runTagpay(t, path, "account", "fund", payer, "1.00"); code != ExitOK {
		t.Errorf("a write once space is back: exit %d %s", code, stderr)
	}
}
