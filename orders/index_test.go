package orders

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tagpay/tagpay/store"
)

// A ledger written before the order index had orders but no index entries: opening it
// indexes them once, so lists by payer find the old orders too.
func TestOldOrdersAreIndexedOnce(t *testing.T) {
	w := newWorld(t)
	r, err := w.svc.Tap(w.ctx, TapRequest{UID: w.active.UID, Content: w.active.Content, Payer: w.alice.ID, Amount: "1.00"})
	if err != nil {
		t.Fatal(err)
	}
	// Make it look old: no index entries.
	err = w.db.Update(w.ctx, func(tx *store.Tx) error {
		for _, k := range orderIndexKeys(r.Order) {
			if err := tx.Delete(store.BucketOrderIndex, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := w.svc.ListOrders(w.ctx, OrderFilter{Payer: w.alice.ID}); len(list) != 0 {
		t.Fatalf("the index still finds %d order(s)", len(list))
	}
	ctx := store.WithActor(context.Background(), store.LocalActor)
	for range 2 {
		if err := IndexOrders(ctx, w.db); err != nil {
			t.Fatal(err)
		}
	}
	list, err := w.svc.ListOrders(w.ctx, OrderFilter{Payer: w.alice.ID})
	if err != nil || len(list) != 1 || list[0].ID != r.Order.ID {
		t.Fatalf("after indexing: %v, %v", ids(list), err)
	}
}

// A ledger made empty gets its orders indexed as they are written, but its first open
// found no orders to mark as indexed. The open after that marks it without walking the
// orders: a ledger file's pages grow by a few, not by a rewritten index.
func TestAnIndexedLedgerIsOnlyMarked(t *testing.T) {
	opts := store.Options{NoSync: true}
	f := openFixture(t, opts)
	ctx := store.WithActor(context.Background(), store.LocalActor)
	if err := IndexOrders(ctx, f.db); err != nil {
		t.Fatal(err)
	}
	tag, payers := tapWorld(f, 4, "1000.00")
	var next atomic.Int64
	if err := tapConcurrently(f, tag, payers, 2000, &next, nil); err != nil {
		t.Fatal(err)
	}
	marked := func(db *store.DB) (m bool) {
		db.View(ctx, func(tx *store.Tx) error { m = tx.GetRaw(store.BucketMeta, indexMarker) != nil; return nil })
		return m
	}
	if marked(f.db) {
		t.Fatal("the ledger is marked before its second open")
	}
	f.db.Close()
	before := pagesOf(t, f.db.Path())
	g := reopen(t, f, opts)
	for range 2 {
		if err := IndexOrders(ctx, g.db); err != nil {
			t.Fatal(err)
		}
	}
	if !marked(g.db) {
		t.Error("the ledger is not marked as indexed")
	}
	if list, err := g.svc.ListOrders(g.ctx, OrderFilter{Payer: payers[0], Limit: 5}); err != nil || len(list) != 5 {
		t.Errorf("orders of a payer after the open: %d, %v", len(list), err)
	}
	g.db.Close()
	if after := pagesOf(t, g.db.Path()); before >= 0 && after-before > 16 {
		t.Errorf("marking the ledger took it from %d to %d pages: the index was rewritten", before, after)
	}
}

// pagesOf is the high-water mark of a closed ledger file, or -1 on PostgreSQL.
func pagesOf(t *testing.T, path string) int64 {
	t.Helper()
	if engine.Name != "bbolt" {
		return -1
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	db.View(func(tx *bolt.Tx) error { n = tx.Size() / int64(db.Info().PageSize); return nil })
	return n
}
