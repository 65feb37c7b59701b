package store

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// paidOrder is an order as the orders package encodes it, with its derived money text.
func paidOrder(id string) []byte {
	return []byte(`{"id":"` + id + `","payer":"acct_01m8sas2h2002zr8q9zvz1v1p9","amount":{"amount":123,"currency":"EUR","formatted":"1.23 EUR"},"status":"paid"}`)
}

// A record written in the transaction that emitted it as an event's data is kept once:
// a ledger file stores the record as a reference to the event, and it reads back as it
// was written, alone and in a list, on both engines.
func TestARecordThatIsItsEventsDataIsStoredOnce(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		ctx := context.Background()
		id := NewID(PrefixOrder)
		raw := paidOrder(id)
		err := db.Update(ctx, func(tx *Tx) error {
			if err := tx.Emit("order.paid", id, json.RawMessage(raw), "acct_01m8sas2h2002zr8q9zvz1v1p9"); err != nil {
				return err
			}
			return tx.PutJSON(BucketOrders, id, raw)
		})
		if err != nil {
			t.Fatal(err)
		}
		want := string(stripFormatted(raw))
		db.View(ctx, func(tx *Tx) error {
			if got := string(tx.GetRaw(BucketOrders, id)); got != want {
				t.Errorf("the order reads back as %s, want %s", got, want)
			}
			return tx.ForEach(BucketOrders, "", false, func(_ string, v []byte) error {
				if string(v) != want {
					t.Errorf("the order lists as %s, want %s", v, want)
				}
				return nil
			})
		})
		if e.name != "bbolt" {
			return
		}
		path := db.Path()
		db.Close()
		v := rawValue(t, path, BucketOrders, id)
		if len(v) == 0 || v[0] != snapshotMark || len(v) > 18 {
			t.Errorf("the order is stored in %d bytes as %x, want a reference to its event", len(v), v)
		}
	})
}

// Only a record that is exactly the data of an event about it refers to the event: one
// that differs, or whose transaction emitted nothing about it, is stored whole.
func TestARecordUnlikeItsEventIsStoredWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	db := openAt(t, path)
	ctx := context.Background()
	changed, alone := NewID(PrefixOrder), NewID(PrefixOrder)
	err := db.Update(ctx, func(tx *Tx) error {
		if err := tx.Emit("order.paid", changed, json.RawMessage(paidOrder(changed))); err != nil {
			return err
		}
		return tx.PutJSON(BucketOrders, changed, bytes.Replace(paidOrder(changed), []byte(`"paid"`), []byte(`"refunded"`), 1))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(tx *Tx) error { return tx.PutJSON(BucketOrders, alone, paidOrder(alone)) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, id := range []string{changed, alone} {
		if v := rawValue(t, path, BucketOrders, id); len(v) == 0 || v[0] == snapshotMark {
			t.Errorf("order %s is stored as %x, want the whole record", id, v)
		}
	}
}

// A copy into a ledger file keeps a record that is exactly its event's data once, as
// the transaction that wrote both did, from either engine; a record that changed since
// its event stays whole; both read back as in the source.
func TestACopyKeepsARecordThatIsItsEventsDataOnce(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		src := e.open(t)
		ctx := context.Background()
		paid, changed := NewID(PrefixOrder), NewID(PrefixOrder)
		err := src.Update(ctx, func(tx *Tx) error {
			for _, id := range []string{paid, changed} {
				if err := tx.Emit("order.paid", id, json.RawMessage(paidOrder(id))); err != nil {
					return err
				}
				if err := tx.PutJSON(BucketOrders, id, paidOrder(id)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		refunded := bytes.Replace(paidOrder(changed), []byte(`"paid"`), []byte(`"refunded"`), 1)
		if err := src.Update(ctx, func(tx *Tx) error { return tx.PutJSON(BucketOrders, changed, refunded) }); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "copy.db")
		dst := openAt(t, path)
		if _, err := Copy(ctx, src, dst); err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string][]byte{paid: stripFormatted(paidOrder(paid)), changed: stripFormatted(refunded)} {
			dst.View(ctx, func(tx *Tx) error {
				if got := tx.GetRaw(BucketOrders, id); !bytes.Equal(got, want) {
					t.Errorf("order %s reads back from the copy as %s, want %s", id, got, want)
				}
				return nil
			})
		}
		verifyClean(t, dst)
		dst.Close()
		if v := rawValue(t, path, BucketOrders, paid); len(v) == 0 || v[0] != snapshotMark {
			t.Errorf("the paid order is stored in the copy as %x, want a reference to its event", v)
		}
		if v := rawValue(t, path, BucketOrders, changed); len(v) == 0 || v[0] == snapshotMark {
			t.Errorf("the refunded order is stored in the copy as %x, want the whole record", v)
		}
	})
}

// A reference whose event is gone is a corrupt-ledger error naming the record, never
// an empty record.
func TestAReferenceToAMissingEventIsNamed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	db := openAt(t, path)
	ctx := context.Background()
	id := NewID(PrefixOrder)
	var evt string
	err := db.Update(ctx, func(tx *Tx) error {
		if err := tx.Emit("order.paid", id, json.RawMessage(paidOrder(id))); err != nil {
			return err
		}
		evt = tx.snapshots[0].event
		return tx.PutJSON(BucketOrders, id, paidOrder(id))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	damageBolt(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(BucketEvents)).Delete(packKey(BucketEvents, evt))
	})
	db = openAt(t, path)
	err = db.View(ctx, func(tx *Tx) error {
		_, err := Load[map[string]any](tx, BucketOrders, id, "order")
		return err
	})
	if KindOf(err) != KindCorrupt || !strings.Contains(err.Error(), "orders/"+id) {
		t.Errorf("reading the order: %v, want a corrupt-ledger error naming orders/%s", err, id)
	}
}

// rawValue reads the value at key of bucket b of the closed ledger file path as bbolt
// holds it.
func rawValue(t *testing.T, path string, b Bucket, key string) []byte {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v []byte
	db.View(func(tx *bolt.Tx) error {
		v = bytes.Clone(tx.Bucket([]byte(b)).Get(packKey(b, key)))
		return nil
	})
	return v
}

// An event is queued for webhooks only while an endpoint exists, on both engines, and
// the check reads nothing that every tap would then wait on.
func TestAnEventIsQueuedOnlyWhileAnEndpointExists(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		ctx := context.Background()
		emit := func() (queued bool) {
			var id string
			err := db.Update(ctx, func(tx *Tx) error {
				if err := tx.Emit("order.paid", "ord_x", json.RawMessage(`{"id":"ord_x"}`)); err != nil {
					return err
				}
				id = tx.snapshots[0].event
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			db.View(ctx, func(tx *Tx) error { queued = tx.GetRaw(BucketOutbox, id) != nil; return nil })
			return queued
		}
		if emit() {
			t.Error("an event made while no endpoint exists is queued")
		}
		if err := db.Update(ctx, func(tx *Tx) error { return tx.PutRaw(BucketWebhooks, "whk_x", []byte(`{}`)) }); err != nil {
			t.Fatal(err)
		}
		if !emit() {
			t.Error("an event made while an endpoint exists is not queued")
		}
	})
}
