package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// aliceAndBob opens a ledger at path with Alice holding 100 and Bob nothing.
func aliceAndBob(t *testing.T, path string) (*DB, Account, Account) {
	t.Helper()
	db := openAt(t, path)
	return db, fundedAccount(t, db, "Alice", "EUR", 100), newAccount(t, db, "Bob", AccountPerson, "EUR")
}

func wantNoTransfer(t *testing.T, db *DB, id string) {
	t.Helper()
	db.View(bg, func(tx *Tx) error {
		if _, err := tx.TransferByID(id); KindOf(err) != KindNotFound {
			t.Errorf("transfer %s: %v, want it not found", id, err)
		}
		return nil
	})
}

// crashCopy copies the ledger at path and its log into dir as a crash would leave them:
// both files as they are between two checkpoints, while no checkpoint runs.
func crashCopy(t *testing.T, db *DB, dir string) string {
	t.Helper()
	g := db.eng.(*boltEngine).group
	g.txMu.Lock()
	defer g.txMu.Unlock()
	to := filepath.Join(dir, "ledger.db")
	for _, name := range []string{db.Path(), walPath(db.Path())} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(to)+name[len(db.Path()):]), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// loggedPayments makes n payments of 1 from alice to bob through Batch, one at a time,
// so that each is a log record of its own, and keeps them out of the file: no checkpoint
// runs until the test ends.
func loggedPayments(t *testing.T, db *DB, alice, bob Account, n int) []string {
	t.Helper()
	g := db.eng.(*boltEngine).group
	if err := g.settle(); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	g.busy = true // no idle checkpoint: the committer is driven by hand below
	g.mu.Unlock()
	t.Cleanup(func() {
		g.mu.Lock()
		g.busy = false
		g.mu.Unlock()
	})
	var ids []string
	for range n {
		var tr Transfer
		c := &groupCall{err: make(chan error, 1), fn: func(btx *bolt.Tx, log *walOps) error {
			tx := db.newTx(bg, boltTx{btx: btx, packedKeys: g.packedKeys, log: log})
			var err error
			tr, err = tx.Transfer(TransferSpec{Kind: TransferPayment, From: alice.ID, To: bob.ID, Amount: Money{1, "EUR"}})
			return err
		}}
		g.commit([]*groupCall{c})
		if err := <-c.err; err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tr.ID)
	}
	return ids
}

func TestLoggedWritesSurviveACrashBeforeTheCheckpoint(t *testing.T) {
	db, alice, bob := aliceAndBob(t, filepath.Join(t.TempDir(), "ledger.db"))
	ids := loggedPayments(t, db, alice, bob, 3)

	crashed := crashCopy(t, db, t.TempDir())
	fileOnly := filepath.Join(t.TempDir(), "ledger.db")
	if data, err := os.ReadFile(crashed); err != nil || os.WriteFile(fileOnly, data, 0o600) != nil {
		t.Fatal(err)
	}

	// The file alone lacks the payments (so the log is what holds them) ...
	without := openAt(t, fileOnly)
	if got := balance(t, without, bob.ID); got != 0 {
		t.Fatalf("the file alone holds %d paid to Bob; the test does not reach the log", got)
	}
	// ... and the file with its log has every one.
	after := openAt(t, crashed)
	verifyClean(t, after)
	checkTransfersThere(t, after, ids)
	if a, b := balance(t, after, alice.ID), balance(t, after, bob.ID); a != 97 || b != 3 {
		t.Errorf("balances %d and %d after three logged payments of 1 from 100", a, b)
	}
	// Once opened, the file holds them by itself.
	after.Close()
	if err := os.Remove(walPath(crashed)); err != nil {
		t.Fatal(err)
	}
	again := openAt(t, crashed)
	if got := balance(t, again, bob.ID); got != 3 {
		t.Errorf("the file holds %d paid to Bob after its log was taken in, want 3", got)
	}
}

func TestATornLogRecordIsLeftOut(t *testing.T) {
	db, alice, bob := aliceAndBob(t, filepath.Join(t.TempDir(), "ledger.db"))
	ids := loggedPayments(t, db, alice, bob, 2)
	crashed := crashCopy(t, db, t.TempDir())

	// The second record lost its last byte: the crash came while it was written.
	log, err := os.ReadFile(walPath(crashed))
	if err != nil {
		t.Fatal(err)
	}
	first := walHeaderSize + int(binary.LittleEndian.Uint32(log[20:]))
	second := walHeaderSize + int(binary.LittleEndian.Uint32(log[first+20:]))
	if err := os.WriteFile(walPath(crashed), log[:first+second-1], 0o600); err != nil {
		t.Fatal(err)
	}
	after := openAt(t, crashed)
	verifyClean(t, after)
	checkTransfersThere(t, after, ids[:1])
	wantNoTransfer(t, after, ids[1])
	if b := balance(t, after, bob.ID); b != 1 {
		t.Errorf("Bob holds %d, want the one whole record's 1", b)
	}
}

// A log never reaches a file it was not written for: beside another ledger (a file
// replaced at the same path), or beside an older copy of its own ledger that lacks the
// records before it (a restored backup).
func TestALogOfAnotherStateIsNotApplied(t *testing.T) {
	db, alice, bob := aliceAndBob(t, filepath.Join(t.TempDir(), "ledger.db"))
	if err := db.eng.(*boltEngine).group.settle(); err != nil {
		t.Fatal(err)
	}
	backup := crashCopy(t, db, t.TempDir())
	os.Remove(walPath(backup))
	loggedPayments(t, db, alice, bob, 2)
	if err := db.eng.(*boltEngine).group.settle(); err != nil {
		t.Fatal(err)
	}
	loggedPayments(t, db, alice, bob, 1) // the log now holds only this one
	crashed := crashCopy(t, db, t.TempDir())
	log, err := os.ReadFile(walPath(crashed))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("beside another ledger", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "ledger.db")
		other := openAt(t, path)
		fundedAccount(t, other, "Carol", "EUR", 5)
		other.Close()
		if err := os.WriteFile(walPath(path), log, 0o600); err != nil {
			t.Fatal(err)
		}
		other = openAt(t, path)
		verifyClean(t, other)
		accounts, err := other.ListAccounts(bg, Page{})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range accounts {
			if a.ID == alice.ID || a.ID == bob.ID {
				t.Errorf("account %s of the log's ledger is in another", a.Name)
			}
		}
	})
	t.Run("beside an older copy of its ledger", func(t *testing.T) {
		if err := os.WriteFile(walPath(backup), log, 0o600); err != nil {
			t.Fatal(err)
		}
		old := openAt(t, backup)
		verifyClean(t, old)
		if b := balance(t, old, bob.ID); b != 0 {
			t.Errorf("Bob holds %d in the backup, want the backup's 0", b)
		}
	})
}

func FuzzWALLog(f *testing.F) {
	id := []byte("ledger01")
	ops := &walOps{}
	ops.put(BucketAccounts, []byte("acct_1"), []byte(`{"id":"acct_1"}`))
	ops.del(BucketIdempotency, []byte("k"))
	rec := walRecord(id, 1, ops.buf)
	f.Add(rec, uint64(0))
	f.Add(append(rec, walRecord(id, 2, ops.buf)...), uint64(0))
	f.Add(rec[:len(rec)-1], uint64(0))
	f.Fuzz(func(t *testing.T, data []byte, applied uint64) {
		w := &walFile{id: id}
		dir := t.TempDir()
		var err error
		if w.f, err = os.Create(filepath.Join(dir, "log")); err != nil {
			t.Fatal(err)
		}
		defer w.f.Close()
		w.f.Write(data)
		payloads, last, err := w.pending(applied)
		if err != nil {
			t.Fatal(err)
		}
		if last != applied+uint64(len(payloads)) || w.off > int64(len(data)) {
			t.Fatalf("%d payloads after %d end at %d, the next record at %d of %d", len(payloads), applied, last, w.off, len(data))
		}
		for _, p := range payloads {
			if !bytes.Contains(data, p) {
				t.Fatal("a payload that the log does not hold")
			}
			eachWALOp(p, func(op byte, b Bucket, key, value []byte) error {
				if (op != walPut && op != walDelete) || len(b) == 0 || len(key) == 0 {
					t.Fatalf("write %q %q %q", op, b, key)
				}
				return nil
			})
		}
	})
}

// A sync of the log that fails fails the commits it was to make durable, and every
// commit built on them: none of their writes stays, in the process or in the files, and
// the ledger goes on taking writes.
func TestAFailedLogSyncTakesItsWritesBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	db, alice, bob := aliceAndBob(t, path)
	g := db.eng.(*boltEngine).group
	pay := func() (Transfer, error) {
		var tr Transfer
		err := db.Batch(bg, func(tx *Tx) (err error) {
			tr, err = tx.Transfer(TransferSpec{Kind: TransferPayment, From: alice.ID, To: bob.ID, Amount: Money{1, "EUR"}})
			return err
		})
		return tr, err
	}
	if _, err := pay(); err != nil {
		t.Fatal(err)
	}
	g.syncMu.Lock() // the syncer reads it after taking syncMu
	g.log.failSync = func() error { return syscall.EIO }
	g.syncMu.Unlock()
	failed, err := pay()
	if !errors.Is(err, syscall.EIO) || CodeOf(err) != "ledger_write_failed" || failed.ID == "" {
		t.Fatalf("a payment whose log sync failed: %v", err)
	}
	g.syncMu.Lock()
	g.log.failSync = nil
	g.syncMu.Unlock()
	if _, err := pay(); err != nil {
		t.Fatalf("a payment after the failed sync: %v", err)
	}
	check := func(db *DB) {
		t.Helper()
		verifyClean(t, db)
		if a, b := balance(t, db, alice.ID), balance(t, db, bob.ID); a != 98 || b != 2 {
			t.Errorf("balances %d and %d, want 98 and 2: two payments of 1 stand", a, b)
		}
		wantNoTransfer(t, db, failed.ID)
	}
	check(db)
	db.Close()
	check(openAt(t, path))
}

// Writers that pause leave the file holding everything: after walIdle without writes,
// bbolt commits what the log holds.
func TestAnIdleLedgerIsCheckpointed(t *testing.T) {
	db, alice, bob := aliceAndBob(t, filepath.Join(t.TempDir(), "ledger.db"))
	err := db.Batch(bg, func(tx *Tx) error {
		_, err := tx.Transfer(TransferSpec{Kind: TransferPayment, From: alice.ID, To: bob.ID, Amount: Money{1, "EUR"}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	g := db.eng.(*boltEngine).group
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(walIdle) {
		g.txMu.Lock()
		pending := len(g.epoch)
		g.txMu.Unlock()
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d logged commits still not in the file 5 s after the last write", pending)
		}
	}
	fileOnly := filepath.Join(t.TempDir(), "ledger.db")
	if data, err := os.ReadFile(db.Path()); err != nil || os.WriteFile(fileOnly, data, 0o600) != nil {
		t.Fatal(err)
	}
	if got := balance(t, openAt(t, fileOnly), bob.ID); got != 1 {
		t.Errorf("the file alone holds %d paid to Bob, want 1", got)
	}
}

// API keys are read on every request without waiting for a checkpoint, so a shared
// commit, whose writes may be in the log only, never writes them: a call that does runs
// again alone, in a bbolt commit of its own, and the file holds the key when it returns.
func TestASharedCommitDoesNotWriteKeys(t *testing.T) {
	db := openAt(t, filepath.Join(t.TempDir(), "ledger.db"))
	if err := db.Batch(bg, func(tx *Tx) error { return tx.PutRaw(BucketKeys, "key_x", []byte(`{}`)) }); err != nil {
		t.Fatal(err)
	}
	g := db.eng.(*boltEngine).group
	g.txMu.Lock()
	logged := len(g.epoch)
	g.txMu.Unlock()
	var got []byte
	db.view(bg, modeViewSettled, func(tx *Tx) error { got = tx.GetRaw(BucketKeys, "key_x"); return nil })
	if logged != 0 || string(got) != `{}` {
		t.Errorf("after the call: %d commits in the log only, the file holds %q", logged, got)
	}
}
