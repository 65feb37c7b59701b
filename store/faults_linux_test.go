package store

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mountTmpfs mounts a size-limited tmpfs for the test, or skips the test where the
// machine does not allow it (mounting needs root).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a size-limited filesystem here (%v); this needs root", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
	return dir
}

func TestReadOnlyLedgerIsRefusedUntouched(t *testing.T) {
	t.Run("file without write permission", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root may write any file whatever its mode; the read-only filesystem case covers root")
		}
		path := filepath.Join(t.TempDir(), "ledger.db")
		db, err := Open(path, Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		if err := os.Chmod(path, 0o400); err != nil {
			t.Fatal(err)
		}
		refuseUnchanged(t, path, KindUnavailable, "ledger_unwritable")
	})
	t.Run("read-only filesystem", func(t *testing.T) {
		dir := mountTmpfs(t, "4m")
		path := filepath.Join(dir, "ledger.db")
		db, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		fundedAccount(t, db, "Alice", "EUR", 100)
		db.Close()
		if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			t.Skipf("cannot remount read-only: %v", err)
		}
		err = refuseUnchanged(t, path, KindUnavailable, "ledger_unwritable")
		if !strings.Contains(err.Error(), "read-only file system") {
			t.Errorf("message %q does not give the reason", err)
		}
		if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, ""); err != nil {
			t.Fatal(err)
		}
		verifyClean(t, openAt(t, path))
	})
}

// fillDisk writes a file until the filesystem is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			return
		}
	}
}

// On a full disk a write fails with a clear error (no panic), the ledger stays sound
// in the running process and on disk, every acknowledged transfer survives, and once
// there is space again writing works.
func TestFullDiskFailsWritesCleanly(t *testing.T) {
	dir := mountTmpfs(t, "1m")
	path := filepath.Join(dir, "ledger.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	alice := fundedAccount(t, db, "Alice", "EUR", 1_000_000)
	bob := newAccount(t, db, "Bob", AccountPerson, "EUR")
	filler := filepath.Join(dir, "filler")
	fillDisk(t, filler)
	// Give back a little, so some transfers fit before the disk is full again.
	if info, err := os.Stat(filler); err != nil || os.Truncate(filler, info.Size()-64<<10) != nil {
		t.Fatalf("shrinking the filler: %v", err)
	}

	memo := strings.Repeat("a long memo that makes each transfer take space ", 40)
	pay := func(batch bool) (Transfer, error) {
		var tr Transfer
		fn := func(tx *Tx) (err error) {
			tr, err = tx.Transfer(TransferSpec{Kind: TransferPayment, From: alice.ID, To: bob.ID, Amount: Money{1, "EUR"}, Memo: memo})
			return err
		}
		if batch {
			return tr, db.Batch(bg, fn)
		}
		return tr, db.Update(bg, fn)
	}
	var acked []string
	var failure error
	for i := 0; i < 5000 && failure == nil; i++ {
		tr, err := pay(false)
		if err != nil {
			failure = err
			break
		}
		acked = append(acked, tr.ID)
	}
	if failure == nil {
		t.Fatal("5000 transfers fitted on a full 1 MiB disk; the test does not reach a write error")
	}
	wantError(t, failure, KindInternal, "ledger_write_failed")
	if !errors.Is(failure, syscall.ENOSPC) || !strings.Contains(failure.Error(), path) {
		t.Errorf("error %q does not name the ledger and the full disk", failure)
	}
	t.Logf("%d transfers written before the disk was full: %v", len(acked), failure)

	// Further writes on the full disk, through both paths, fail the same way or succeed
	// in space the ledger freed; either way the ledger stays sound.
	for i := range 10 {
		tr, err := pay(i%2 == 1)
		switch {
		case err == nil:
			acked = append(acked, tr.ID)
		case CodeOf(err) != "ledger_write_failed":
			t.Errorf("write %d on a full disk: %v", i, err)
		}
	}
	verifyClean(t, db)
	db.Close()

	db = openAt(t, path)
	verifyClean(t, db)
	checkTransfersThere(t, db, acked)
	if a, b := balance(t, db, alice.ID), balance(t, db, bob.ID); a+b != 1_000_000 || b != int64(len(acked)) {
		t.Errorf("balances %d and %d after %d acknowledged payments of 1", a, b, len(acked))
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := pay(true); err != nil {
		t.Errorf("writing with space available again: %v", err)
	}
	verifyClean(t, db)
}

func checkTransfersThere(t *testing.T, db *DB, ids []string) {
	t.Helper()
	err := db.View(bg, func(tx *Tx) error {
		for _, id := range ids {
			if _, err := tx.TransferByID(id); err != nil {
				t.Errorf("acknowledged transfer %s: %v", id, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func init() {
	// fsize-writer: with the file size limit (RLIMIT_FSIZE) set to the ledger's current
	// size, so the kernel refuses to grow it, write transfers until writes fail, and
	// report each outcome: "ok <id>" or "fail <kind> <code> <message>".
	childModes["fsize-writer"] = func() int {
		path := os.Getenv("LEDGER")
		info, err := os.Stat(path)
		if err != nil {
			fmt.Println("setup", err)
			return 1
		}
		var lim syscall.Rlimit
		syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim)
		lim.Cur = uint64(info.Size())
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
			fmt.Println("setup", err)
			return 1
		}
		db, err := Open(path, Options{})
		if err != nil {
			fmt.Println("setup", err)
			return 1
		}
		defer db.Close()
		accounts, err := db.ListAccounts(bg, Page{})
		if err != nil {
			fmt.Println("setup", err)
			return 1
		}
		var from, to string
		for _, a := range accounts {
			switch a.Name {
			case "Alice":
				from = a.ID
			case "Bob":
				to = a.ID
			}
		}
		memo := strings.Repeat("a long memo that makes each transfer take space ", 40)
		failures := 0
		for i := 0; i < 5000 && failures < 5; i++ {
			var tr Transfer
			fn := func(tx *Tx) (err error) {
				tr, err = tx.Transfer(TransferSpec{Kind: TransferPayment, From: from, To: to, Amount: Money{1, "EUR"}, Memo: memo})
				return err
			}
			if i%2 == 0 {
				err = db.Update(bg, fn)
			} else {
				err = db.Batch(bg, fn)
			}
			if err != nil {
				failures++
				fmt.Println("fail", KindOf(err), CodeOf(err), err)
				continue
			}
			fmt.Println("ok", tr.ID)
		}
		return 0
	}
}

// The same, without root: the kernel's file size limit makes growing the ledger fail
// beneath bbolt, in a child process so the limit touches nothing else.
func TestFileSizeLimitFailsWritesCleanly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	alice := fundedAccount(t, db, "Alice", "EUR", 1_000_000)
	bob := newAccount(t, db, "Bob", AccountPerson, "EUR")
	db.Close()

	child := childCommand(t, "fsize-writer", "LEDGER="+path)
	out, err := child.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var acked []string
	failures := 0
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		kind, rest, _ := strings.Cut(sc.Text(), " ")
		switch kind {
		case "ok":
			acked = append(acked, rest)
		case "fail":
			failures++
			if !strings.HasPrefix(rest, "internal ledger_write_failed writing ledger "+path+" failed") || !strings.Contains(rest, "file too large") {
				t.Errorf("failed write reported as %q", rest)
			}
		default:
			t.Fatalf("child: %s", sc.Text())
		}
	}
	if failures == 0 {
		t.Fatalf("no write failed under the size limit; the test does not reach a write error:\n%s", out)
	}
	t.Logf("%d transfers written, then %d writes failed", len(acked), failures)

	db = openAt(t, path)
	verifyClean(t, db)
	checkTransfersThere(t, db, acked)
	if b := balance(t, db, bob.ID); b != int64(len(acked)) || balance(t, db, alice.ID)+b != 1_000_000 {
		t.Errorf("Bob holds %d after %d acknowledged payments of 1", b, len(acked))
	}
}
