package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOpenCreatesLedgerAndFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "deep", "er", "ledger.db")
	db := openAt(t, path)
	if db.Path() != path {
		t.Errorf("Path() = %q, want %q", db.Path(), path)
	}
	info, err := os.Stat(filepath.Dir(path))
	if err != nil || !info.IsDir() {
		t.Fatalf("folder of the ledger: %v", err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("folder mode %o, want 700: a ledger folder is private", perm)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("ledger file: %v, mode %v; want mode 600", err, info.Mode())
	}
	verifyClean(t, db)
}

func TestOpenReopensWhatWasWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := fundedAccount(t, db, "Alice", "EUR", 1234)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openAt(t, path)
	if got := balance(t, db, a.ID); got != 1234 {
		t.Errorf("balance after reopening %d, want 1234", got)
	}
	verifyClean(t, db)
}

// refuseUnchanged opens path, wants the error kind and code, and checks that the file
// is byte for byte what it was.
func refuseUnchanged(t *testing.T, path string, kind Kind, code string) error {
	t.Helper()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, Options{LockTimeout: 50 * time.Millisecond})
	if err == nil {
		db.Close()
		t.Fatalf("Open(%s) accepted the file, want %s/%s", path, kind, code)
	}
	wantError(t, err, kind, code)
	after, rerr := os.ReadFile(path)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("Open(%s) changed the file it refused (%d bytes before, %d after)", path, len(before), len(after))
	}
	return err
}

func TestOpenRefusesForeignFilesWithoutTouchingThem(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("text file", func(t *testing.T) {
		p := write("notes.txt", bytes.Repeat([]byte("not a ledger at all\n"), 500))
		err := refuseUnchanged(t, p, KindCorrupt, "not_a_ledger")
		if !strings.Contains(err.Error(), "not a tagpay ledger") {
			t.Errorf("message %q does not say it is not a ledger", err)
		}
	})
	t.Run("empty file", func(t *testing.T) {
		p := write("empty.db", nil)
		refuseUnchanged(t, p, KindCorrupt, "not_a_ledger")
	})
	t.Run("short file", func(t *testing.T) {
		refuseUnchanged(t, write("short.db", []byte{1, 2, 3}), KindCorrupt, "not_a_ledger")
	})
	t.Run("folder", func(t *testing.T) {
		if _, err := Open(dir, Options{}); KindOf(err) != KindCorrupt {
			t.Errorf("Open(folder): %v, want a corrupt/not-a-ledger error", err)
		}
	})
	for _, noFreelistSync := range []bool{false, true} {
		// etcd keeps no freelist on disk; bbolt rewrites one when such a file is opened
		// read-write, so this case catches an Open that writes before it checks.
		t.Run(fmt.Sprintf("other bbolt file, no freelist sync %v", noFreelistSync), func(t *testing.T) {
			p := filepath.Join(dir, fmt.Sprintf("other-%v.db", noFreelistSync))
			b, err := bolt.Open(p, 0o600, &bolt.Options{NoFreelistSync: noFreelistSync})
			if err != nil {
				t.Fatal(err)
			}
			err = b.Update(func(tx *bolt.Tx) error {
				bk, err := tx.CreateBucket([]byte("meta"))
				if err != nil {
					return err
				}
				return bk.Put([]byte("application"), []byte("something else"))
			})
			if err != nil {
				t.Fatal(err)
			}
			b.Close()
			refuseUnchanged(t, p, KindCorrupt, "not_a_ledger")
		})
	}
}

// setSchemaVersion rewrites the schema version of a closed ledger through bbolt.
func setSchemaVersion(t *testing.T, path string, v uint32) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(BucketMeta)).Put(metaSchema, binary.BigEndian.AppendUint32(nil, v))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesAnotherSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	fundedAccount(t, db, "Alice", "EUR", 100)
	db.Close()
	future := uint32(boltSchemaVersion + 1)
	setSchemaVersion(t, path, future)

	err = refuseUnchanged(t, path, KindConflict, "schema_version")
	for _, want := range []string{fmt.Sprintf("schema version %d", future), fmt.Sprintf("reads version %d", boltSchemaVersion), path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not say %q", err, want)
		}
	}

	// Back at our version it opens again: the refusal did not damage it.
	setSchemaVersion(t, path, boltSchemaVersion)
	verifyClean(t, openAt(t, path))
}

func TestOpenRefusesLedgerWithoutSchemaOrBucket(t *testing.T) {
	for _, tt := range []struct {
		name   string
		damage func(tx *bolt.Tx) error
	}{
		{"schema version removed", func(tx *bolt.Tx) error { return tx.Bucket([]byte(BucketMeta)).Delete(metaSchema) }},
		{"bucket removed", func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte(BucketTransfers)) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.db")
			db, err := Open(path, Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			damageBolt(t, path, tt.damage)
			refuseUnchanged(t, path, KindCorrupt, "ledger_corrupt")
		})
	}
}

// damageBolt changes the closed ledger file at path through bbolt, below the store.
func damageBolt(t *testing.T, path string, damage func(*bolt.Tx) error) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Update(damage); err != nil {
		t.Fatal(err)
	}
}

func inUseMessage(path string) string {
	return fmt.Sprintf("ledger %s is in use by another process; use --server or stop it", path)
}

// flock locks belong to an open file, so a second Open in the same process is refused
// just like one from another process.
func TestOpenRefusesLedgerHeldByAnotherHandle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	openAt(t, path)
	_, err := Open(path, Options{LockTimeout: 100 * time.Millisecond})
	wantError(t, err, KindUnavailable, "ledger_in_use")
	if err.Error() != inUseMessage(path) {
		t.Errorf("message %q, want %q", err, inUseMessage(path))
	}
}

func init() {
	// hold-lock: open the ledger, say "ready", keep it open until stdin closes.
	childModes["hold-lock"] = func() int {
		db, err := Open(os.Getenv("LEDGER"), Options{})
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		fmt.Println("ready")
		buf := make([]byte, 1)
		os.Stdin.Read(buf)
		db.Close()
		return 0
	}
}

func TestOpenRefusesLedgerHeldByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	child := childCommand(t, "hold-lock", "LEDGER="+path)
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		child.Process.Kill()
		child.Wait()
		t.Fatalf("child did not open the ledger: %q %v", line, err)
	}

	_, err = Open(path, Options{LockTimeout: 100 * time.Millisecond})
	wantError(t, err, KindUnavailable, "ledger_in_use")
	if err.Error() != inUseMessage(path) {
		t.Errorf("message %q, want %q", err, inUseMessage(path))
	}

	stdin.Close()
	if err := child.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	verifyClean(t, openAt(t, path)) // released with the process
}

// A ledger whose file lost pages at the end (a copy cut short, a full disk during a
// copy) is refused as damaged, never read past its end.
func TestOpenRefusesTruncatedLedger(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	fillLedger(t, db, 40, 200)
	db.Close()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	used := usedSize(t, path)
	if used <= 4*4096 {
		t.Fatalf("ledger uses only %d bytes; the test needs more pages", used)
	}
	for _, n := range []int64{100, 4096, 8192, 3 * 4096, used / 2, used - 4096, used - 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			p := filepath.Join(dir, fmt.Sprintf("cut-%d.db", n))
			if err := os.WriteFile(p, good[:n], 0o600); err != nil {
				t.Fatal(err)
			}
			refuseUnchanged(t, p, KindCorrupt, "")
		})
	}
	// Space past the last used page is free space: dropping it loses nothing.
	if int64(len(good)) > used {
		p := filepath.Join(dir, "tail.db")
		if err := os.WriteFile(p, good[:used], 0o600); err != nil {
			t.Fatal(err)
		}
		verifyClean(t, openAt(t, p))
	}
}

// usedSize is the high-water mark of a closed bbolt file: the bytes its pages reach.
func usedSize(t *testing.T, path string) int64 {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var size int64
	b.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil })
	return size
}

// fillLedger creates accounts and moves money among them so the file spans many pages.
func fillLedger(t testing.TB, db *DB, accounts, transfers int) []Account {
	t.Helper()
	ctx := context.Background()
	as := make([]Account, accounts)
	for i := range as {
		as[i] = fundedAccount(t, db, fmt.Sprintf("person %d", i), "EUR", 10000)
	}
	err := db.Update(ctx, func(tx *Tx) error {
		for i := range transfers {
			_, err := tx.Transfer(TransferSpec{Kind: TransferPayment, From: as[i%accounts].ID, To: as[(i+7)%accounts].ID, Amount: Money{int64(1 + i%50), "EUR"}, Memo: "filler"})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// Flipped bytes anywhere in the used part of the file are refused at open, reported as
// damage by a read or by VerifyLedger, or (in bytes nothing reads) harmless; never a
// crash, and never an error without the corrupt kind.
func TestDamagedBytesAreReportedNotCrashed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	fillLedger(t, db, 30, 120)
	db.Close()
	used := usedSize(t, path)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var refused, unreadable, violated, unnoticed int
	for off := int64(0); off < used; off += used/100 | 1 {
		damaged := bytes.Clone(good)
		for i := off; i < off+8 && i < used; i++ {
			damaged[i] ^= 0x5a
		}
		p := filepath.Join(dir, "damaged.db")
		if err := os.WriteFile(p, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		switch outcome := openVerifyWrite(p); {
		case outcome.openErr != nil:
			if KindOf(outcome.openErr) != KindCorrupt {
				t.Errorf("offset %d: Open: %v, want a corrupt-ledger error", off, outcome.openErr)
			}
			refused++
		case outcome.verifyErr != nil:
			if KindOf(outcome.verifyErr) != KindCorrupt {
				t.Errorf("offset %d: VerifyLedger: %v, want a corrupt-ledger error", off, outcome.verifyErr)
			}
			unreadable++
		case len(outcome.violations) > 0:
			violated++
		default:
			unnoticed++
		}
	}
	t.Logf("%d damaged copies: %d refused at open, %d unreadable records, %d with violations, %d unnoticed",
		refused+unreadable+violated+unnoticed, refused, unreadable, violated, unnoticed)
	if refused+unreadable+violated == 0 {
		t.Errorf("the damage was never detected; the sweep does not reach the data")
	}

	// Both meta pages damaged: nothing says where the data is, so Open refuses.
	damaged := bytes.Clone(good)
	pageSize := int(binary.LittleEndian.Uint32(good[24:]))
	for _, meta := range []int{0, pageSize} {
		damaged[meta+32] ^= 0xff // the root bucket's page id, covered by the checksum
	}
	p := filepath.Join(dir, "metas.db")
	if err := os.WriteFile(p, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	refuseUnchanged(t, p, KindCorrupt, "ledger_corrupt")
}

type damageOutcome struct {
	openErr, verifyErr, writeErr error
	violations                   []Violation
}

func openVerifyWrite(path string) (o damageOutcome) {
	db, err := Open(path, Options{LockTimeout: 50 * time.Millisecond, NoSync: true})
	if err != nil {
		o.openErr = err
		return o
	}
	defer db.Close()
	o.verifyErr = db.View(context.Background(), func(tx *Tx) (err error) {
		o.violations, err = VerifyLedger(tx)
		return err
	})
	o.writeErr = db.Update(context.Background(), func(tx *Tx) error {
		_, err := tx.CreateAccount(NewAccount{Name: "after damage", Kind: AccountPerson, Currency: "EUR"})
		return err
	})
	return o
}
