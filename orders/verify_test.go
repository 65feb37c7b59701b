package orders

import (
	"testing"

	"github.com/tagpay/tagpay/store"
)

// Verify must notice each way the flow 1 records can go wrong. Every case damages a
// healthy ledger in one way, as a bug or a hand edit would.
func TestVerifyFindsDamage(t *testing.T) {
	type state struct {
		w        *world
		paid     Order // paid by alice to shop, partly refunded
		revoked2 Tag   // a revoked registration of the active tag's UID
	}
	put := func(t *testing.T, tx *store.Tx, b store.Bucket, key string, v any) {
		t.Helper()
		if err := tx.Put(b, key, v); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		check  string
		damage func(t *testing.T, s state, tx *store.Tx)
	}{
		{"payment transfer missing", "order_payment", func(t *testing.T, s state, tx *store.Tx) {
			o := s.paid
			o.Transfer = store.NewID(store.PrefixTransfer)
			put(t, tx, store.BucketOrders, o.ID, o)
		}},
		{"payment of another amount", "order_payment", func(t *testing.T, s state, tx *store.Tx) {
			o := s.paid
			o.Amount.Amount++
			put(t, tx, store.BucketOrders, o.ID, o)
		}},
		{"paid twice", "order_paid_once", func(t *testing.T, s state, tx *store.Tx) {
			_, err := tx.Transfer(store.TransferSpec{Kind: store.TransferPayment, From: s.paid.Payer, To: s.paid.Payee, Amount: s.paid.Amount, Ref: s.paid.ID})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"created order with a payment", "order_payment", func(t *testing.T, s state, tx *store.Tx) {
			o := s.paid
			o.Status, o.Transfer, o.PaidAt, o.Refunds, o.Refunded.Amount = OrderCreated, "", nil, nil, 0
			put(t, tx, store.BucketOrders, o.ID, o)
		}},
		{"refund not recorded", "order_refunds", func(t *testing.T, s state, tx *store.Tx) {
			_, err := tx.Transfer(store.TransferSpec{Kind: store.TransferRefund, From: s.paid.Payee, To: s.paid.Payer, Amount: store.Money{Amount: 1, Currency: "EUR"}, Ref: s.paid.ID})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"refunded more than paid", "refund_within_payment", func(t *testing.T, s state, tx *store.Tx) {
			o := s.paid
			o.Refunded.Amount = o.Amount.Amount + 1
			put(t, tx, store.BucketOrders, o.ID, o)
		}},
		{"partly refunded marked refunded", "order_refunds", func(t *testing.T, s state, tx *store.Tx) {
			o := s.paid
			o.Status = OrderRefunded // only partly refunded
			put(t, tx, store.BucketOrders, o.ID, o)
		}},
		{"reply not marked used", "order_reply", func(t *testing.T, s state, tx *store.Tx) {
			var r ParsingReply
			if _, err := tx.Get(store.BucketReplies, s.paid.Reply, &r); err != nil {
				t.Fatal(err)
			}
			r.Used = false
			put(t, tx, store.BucketReplies, r.ID, r)
		}},
		{"two orders of one reply", "reply_single_use", func(t *testing.T, s state, tx *store.Tx) {
			o := s.paid
			o.ID = store.NewID(store.PrefixOrder)
			o.Status, o.Transfer, o.PaidAt, o.Refunds, o.Refunded.Amount = OrderCancelled, "", nil, nil, 0
			put(t, tx, store.BucketOrders, o.ID, o)
		}},
		{"order missing from its payer's list", "order_index", func(t *testing.T, s state, tx *store.Tx) {
			if err := tx.Delete(store.BucketOrderIndex, orderIndexKeys(s.paid)[0]); err != nil {
				t.Fatal(err)
			}
		}},
		{"index entry of a missing order", "order_index", func(t *testing.T, s state, tx *store.Tx) {
			if err := tx.PutRaw(store.BucketOrderIndex, "payer:"+s.paid.Payer+"/"+store.NewID(store.PrefixOrder), []byte{}); err != nil {
				t.Fatal(err)
			}
		}},
		{"index entry under another payer", "order_index", func(t *testing.T, s state, tx *store.Tx) {
			if err := tx.PutRaw(store.BucketOrderIndex, "payer:"+s.w.usd.ID+"/"+s.paid.ID, []byte{}); err != nil {
				t.Fatal(err)
			}
		}},
		{"reference index points elsewhere", "tag_index", func(t *testing.T, s state, tx *store.Tx) {
			if err := tx.PutRaw(store.BucketTagIndex, refIndexKey(s.w.active.Ref), []byte(s.w.fixed.ID)); err != nil {
				t.Fatal(err)
			}
		}},
		{"index entry of a missing tag", "tag_index", func(t *testing.T, s state, tx *store.Tx) {
			if err := tx.PutRaw(store.BucketTagIndex, refIndexKey("GHOST00000"), []byte(store.NewID(store.PrefixTag))); err != nil {
				t.Fatal(err)
			}
		}},
		{"two live tags of one UID", "tag_uid_unique", func(t *testing.T, s state, tx *store.Tx) {
			r := s.revoked2
			r.Status = TagActive
			put(t, tx, store.BucketTags, r.ID, r)
		}},
		{"SUN tag without keys", "sun_keys", func(t *testing.T, s state, tx *store.Tx) {
			sun := s.w.active
			sun.ID, sun.Kind, sun.Ref, sun.Status = store.NewID(store.PrefixTag), TagSUN, "SUN0000000", TagFailed
			put(t, tx, store.BucketTags, sun.ID, sun)
			if err := tx.PutRaw(store.BucketTagIndex, refIndexKey(sun.Ref), []byte(sun.ID)); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			s := state{w: w, paid: w.pay(w.order(w.active, w.alice.ID, "9.00"))}
			var err error
			if s.paid, err = w.svc.RefundOrder(w.ctx, RefundRequest{Order: s.paid.ID, Amount: "1.00"}); err != nil {
				t.Fatal(err)
			}
			// A revoked earlier registration of a UID that is registered again.
			s.revoked2 = w.register(RegisterRequest{UID: "04000000000009", Merchant: w.shop.ID})
			if s.revoked2, err = w.svc.RevokeTag(w.ctx, TagStateRequest{Tag: s.revoked2.ID}); err != nil {
				t.Fatal(err)
			}
			w.register(RegisterRequest{UID: "04000000000009", Merchant: w.shop.ID})
			w.verifyClean()

			err = w.db.Update(w.ctx, func(tx *store.Tx) error {
				tt.damage(t, s, tx)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var found []store.Violation
			err = w.db.View(w.ctx, func(tx *store.Tx) (err error) {
				found, err = Verify(tx)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range found {
				if v.Check == tt.check {
					return
				}
			}
			t.Fatalf("no %s violation among %v", tt.check, found)
		})
	}
}
