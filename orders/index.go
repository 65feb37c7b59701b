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
	var keys [3]string
	for i, p := range indexedBy(o) {
		keys[i] = indexWords[i] + ":" + p + "/" + o.ID
	}
	return keys
}

// indexWords begin the index keys of an order, in the order of indexedBy.
var indexWords = [3]string{"payer", "payee", "tag"}

// indexedBy are the ids an order is listed under.
func indexedBy(o Order) [3]string { return [3]string{o.Payer, o.Payee, o.Tag} }

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
//
// A ledger made empty by this code gets its orders indexed as they are written, but no
// marker, since its first open found nothing to index. Orders from before the index are
// older than any written since, so when the oldest and the newest order are indexed,
// only the marker is written; walking every order would rewrite the whole index of a
// grown ledger in one transaction on the first open after it got its orders.
func IndexOrders(ctx context.Context, db *store.DB) error {
	missing, whole := false, false
	if err := db.View(ctx, func(tx *store.Tx) error {
		if tx.GetRaw(store.BucketMeta, indexMarker) != nil {
			return nil
		}
		for _, newest := range []bool{false, true} {
			o, found, err := endOrder(tx, newest)
			if err != nil || !found {
				return err // no orders: nothing to index, and nothing written
			}
			missing = true
			if ok, err := indexed(tx, o); err != nil {
				return err
			} else if !ok {
				whole = true
			}
		}
		return nil
	}); err != nil || !missing {
		return err
	}
	return db.Update(ctx, func(tx *store.Tx) error {
		if tx.GetRaw(store.BucketMeta, indexMarker) != nil {
			return nil
		}
		if whole {
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
		}
		return tx.PutRaw(store.BucketMeta, indexMarker, []byte{1})
	})
}

// endOrder is the oldest order of the ledger, or the newest.
func endOrder(tx *store.Tx, newest bool) (o Order, found bool, err error) {
	err = store.Each(tx, store.BucketOrders, "", newest, func(_ string, v Order) error {
		o, found = v, true
		return store.ErrStop
	})
	return o, found, err
}

// indexed reports whether every index entry of o is there.
func indexed(tx *store.Tx, o Order) (bool, error) {
	for _, k := range orderIndexKeys(o) {
		found := false
		err := tx.ForEach(store.BucketOrderIndex, k, false, func(key string, _ []byte) error {
			found = key == k
			return store.ErrStop
		})
		if err != nil || !found {
			return false, err
		}
	}
	return true, nil
}
