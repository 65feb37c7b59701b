package orders

import (
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
	for _, k := range orderIndexKeys(o) {
		if err := tx.PutRaw(store.BucketOrderIndex, k, nil); err != nil {
			return err
		}
	}
	return putOrder(tx, o)
}

// putOrder writes an order whose parties and tag are already indexed.
func putOrder(tx *store.Tx, o Order) error {
	return tx.Put(store.BucketOrders, o.ID, o)
}
