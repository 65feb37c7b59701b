package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// While one commit runs, the calls that queue behind it share the next commit; a call
// that fails there fails alone, and the others still commit without its writes.
func TestGroupCommitSharesAndIsolates(t *testing.T) {
	db, g := sharedCommits(t)
	put := func(tx *bolt.Tx, log *walOps, k string) error {
		log.put("b", []byte(k), []byte("v"))
		return tx.Bucket([]byte("b")).Put([]byte(k), []byte("v"))
	}

	running, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- g.run(func(tx *bolt.Tx, log *walOps) error {
			close(running)
			<-release
			return put(tx, log, "first")
		})
	}()
	<-running

	const n = 10
	var mu sync.Mutex
	txs := map[*bolt.Tx]bool{}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = g.run(func(tx *bolt.Tx, log *walOps) error {
				mu.Lock()
				txs[tx] = true
				mu.Unlock()
				if log == nil {
					log = &walOps{} // alone, in bbolt's own commit
				}
				if err := put(tx, log, fmt.Sprint("k", i)); err != nil {
					return err
				}
				if i == 3 {
					return errors.New("call 3 fails")
				}
				return nil
			})
		})
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		g.mu.Lock()
		queued := len(g.queue)
		g.mu.Unlock()
		if queued == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d calls queued behind the running commit", queued, n)
		}
	}
	close(release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}

	for i, err := range errs {
		if (i == 3) != (err != nil) {
			t.Errorf("call %d: %v", i, err)
		}
	}
	// The queued calls ran in one transaction, then again without call 3, then call 3
	// alone: three transactions for ten calls.
	if len(txs) != 3 {
		t.Errorf("the %d queued calls ran in %d transactions, want 3", n, len(txs))
	}
	if err := g.settle(); err != nil {
		t.Fatal(err)
	}
	err := db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("b"))
		for i := range n {
			if got := b.Get([]byte(fmt.Sprint("k", i))) != nil; got != (i != 3) {
				t.Errorf("key k%d stored: %v", i, got)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A call that panics in company runs again alone on its caller's goroutine, where the
// panic reaches the caller; the calls beside it commit.
func TestGroupCommitPanicStaysWithItsCaller(t *testing.T) {
	_, g := sharedCommits(t)
	var panicked any
	func() {
		defer func() { panicked = recover() }()
		g.run(func(*bolt.Tx, *walOps) error { panic("boom") })
	}()
	if panicked != "boom" {
		t.Fatalf("recovered %v, want the call's own panic", panicked)
	}
	if err := g.run(func(tx *bolt.Tx, _ *walOps) error { return tx.Bucket([]byte("b")).Put([]byte("after"), []byte("v")) }); err != nil {
		t.Fatalf("a call after the panic: %v", err)
	}
}

// sharedCommits opens a bbolt file with a bucket "b" and its write-ahead log.
func sharedCommits(t *testing.T) (*bolt.DB, *groupCommit) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "g.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range []string{"b", string(BucketMeta)} {
			if _, err := tx.CreateBucket([]byte(b)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	log, pending, seq, err := openLog(db, path, false)
	if err != nil {
		t.Fatal(err)
	}
	g := newGroupCommit(db, log, false, pending, seq)
	t.Cleanup(func() {
		g.close()
		db.Close()
		log.close()
	})
	return db, g
}
