package orders

import (
	"context"
	"testing"

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
