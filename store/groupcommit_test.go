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
	db, err := bolt.Open(filepath.Join(t.TempDir(), "g.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
		t.Fatal(err)
	}
	g := &groupCommit{db: db}
	put := func(tx *bolt.Tx, k string) error { return tx.Bucket([]byte("b")).Put([]byte(k), []byte("v")) }

	running, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- g.run(func(tx *bolt.Tx) error {
			close(running)
			<-release
			return put(tx, "first")
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
			errs[i] = g.run(func(tx *bolt.Tx) error {
				mu.Lock()
				txs[tx] = true
				mu.Unlock()
				if err := put(tx, fmt.Sprint("k", i)); err != nil {
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
	err = db.View(func(tx *bolt.Tx) error {
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
	db, err := bolt.Open(filepath.Join(t.TempDir(), "g.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g := &groupCommit{db: db}
	var panicked any
	func() {
		defer func() { panicked = recover() }()
		g.run(func(*bolt.Tx) error { panic("boom") })
	}()
	if panicked != "boom" {
		t.Fatalf("recovered %v, want the call's own panic", panicked)
	}
	if err := g.run(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists([]byte("after")); return err }); err != nil {
		t.Fatalf("a call after the panic: %v", err)
	}
}
