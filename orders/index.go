package orders

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tagpay/tagpay/store"
)

// Orders are listed by payer, payee or tag from an index whose keys end in the order id:
// ids are time-ordered, so a reverse walk of one prefix gives the newest first and the
// cost of a page does not grow with the ledger.
func orderIndexKeys(o Order) [3]string {
	return [3]string{
		"payer:" + o.Payer + "/" + o.ID,
		"payee:" + o.Payee + "/" + o.ID,
		"tag:" + o.Tag + "/" + o.ID,
	}
}

// insertOrder writes a new order and its index entries.
func insertOrder(tx *store.Tx, o Order) error {
	raw, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encoding order %s: %w", o.ID, err)
	}
	return insertOrderJSON(tx, o, raw)
}

// insertOrderJSON is insertOrder for an order already encoded as raw.
func insertOrderJSON(tx *store.Tx, o Order, raw []byte) error {
	for _, k := range orderIndexKeys(o) {
		if err := tx.PutRaw(store.BucketOrderIndex, k, []byte{}); err != nil {
			return err
		}
	}
	return tx.PutJSON(store.BucketOrders, o.ID, raw)
}

// putOrder writes an order whose parties and tag are already indexed.
func putOrder(tx *store.Tx, o Order) error {
	return tx.Put(store.BucketOrders, o.ID, o)
}

// indexMarker records in the ledger's meta that every order is indexed.
const indexMarker = store.MetaMigrationPrefix + "order_index"

// IndexOrders indexes the orders of a ledger written before the order index existed,
// once: later opens find the marker and write nothing.
func IndexOrders(ctx context.Context, db *store.DB) error {
	done := false
	if err := db.View(ctx, func(tx *store.Tx) error {
		done = tx.GetRaw(store.BucketMeta, indexMarker) != nil
		if !done {
			// A ledger without orders has nothing to index: write nothing to it.
			empty := true
			err := tx.ForEach(store.BucketOrders, "", false, func(string, []byte) error {
				empty = false
				return store.ErrStop
			})
			done = empty
			return err
		}
		return nil
	}); err != nil || done {
		return err
	}
	return db.Update(ctx, func(tx *store.Tx) error {
		if tx.GetRaw(store.BucketMeta, indexMarker) != nil {
			return nil
		}
		err := store.Each(tx, store.BucketOrders, "", false, func(_ string, o Order) error {
			for _, k := range orderIndexKeys(o) {
				if err := tx.PutRaw(store.BucketOrderIndex, k, []byte{}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.PutRaw(store.BucketMeta, indexMarker, []byte{1})
	})
}
