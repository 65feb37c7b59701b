package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestOpenAddsTheBucketsOfThisVersion: a ledger written before the event buckets opens,
// gains them empty, and takes events; other missing buckets are still damage.
func TestOpenAddsTheBucketsOfThisVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	drop := func(names ...Bucket) {
		t.Helper()
		b, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		err = b.Update(func(tx *bolt.Tx) error {
			for _, n := range names {
				if err := tx.DeleteBucket([]byte(n)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	drop(addedBuckets...)
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("opening a ledger without the event buckets: %v", err)
	}
	err = db.Update(context.Background(), func(tx *Tx) error { return tx.Emit("account.funded", "acct_a", map[string]string{}, "acct_a") })
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	drop(BucketOrders)
	if _, err := Open(path, Options{}); KindOf(err) != KindCorrupt {
		t.Fatalf("a ledger without its orders bucket: %v, want corrupt", err)
	}
}

func TestForEachAfter(t *testing.T) { onEngines(t, testForEachAfter) }

func testForEachAfter(t *testing.T, e testEngine) {
	db := e.open(t)
	ctx := context.Background()
	var ids []string
	for range 5 {
		err := db.Update(ctx, func(tx *Tx) error { return tx.Emit("account.funded", "s", 1) })
		if err != nil {
			t.Fatal(err)
		}
	}
	db.View(ctx, func(tx *Tx) error {
		return tx.ForEach(BucketEvents, "", false, func(k string, _ []byte) error { ids = append(ids, k); return nil })
	})
	for _, c := range []struct {
		after string
		want  []string
	}{
		{ids[1], ids[2:]},
		{ids[4], nil},
		{"", ids},
		{IDFloor(PrefixEvent, time.Unix(0, 0)), ids},
		{ids[2][:10], ids}, // a prefix of an id sorts before it
	} {
		var got []string
		err := db.View(ctx, func(tx *Tx) error {
			return tx.ForEachAfter(BucketEvents, c.after, func(k string, _ []byte) error { got = append(got, k); return nil })
		})
		if err != nil || len(got) != len(c.want) || (len(got) > 0 && got[0] != c.want[0]) {
			t.Errorf("after %q: %v %v, want %v", c.after, got, err, c.want)
		}
	}
	var got []string
	db.View(ctx, func(tx *Tx) error {
		return tx.ForEachAfter(BucketEvents, ids[0], func(k string, _ []byte) error { got = append(got, k); return ErrStop })
	})
	if len(got) != 1 || got[0] != ids[1] {
		t.Errorf("stopped walk: %v", got)
	}
}

func TestIDTimeAndFloor(t *testing.T) {
	before := time.Now().Truncate(time.Millisecond)
	id := NewID(PrefixEvent)
	at, ok := IDTime(id, PrefixEvent)
	if !ok || at.Before(before) || at.After(time.Now()) {
		t.Fatalf("IDTime(%s) = %s %v, made at %s", id, at, ok, before)
	}
	if f := IDFloor(PrefixEvent, before); f > id || !ValidID(f, PrefixEvent) {
		t.Fatalf("floor %s of %s is after id %s", f, before, id)
	}
	if f := IDFloor(PrefixEvent, before.Add(time.Second)); f <= id {
		t.Fatalf("floor a second later %s is not after %s", f, id)
	}
	if _, ok := IDTime("evt_nope", PrefixEvent); ok {
		t.Fatal("a malformed id has a time")
	}
}

func TestFailedTransactionLeavesNoEvent(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		ctx := context.Background()
		err := db.Update(ctx, func(tx *Tx) error {
			if err := tx.Emit("order.paid", "ord_x", 1, "acct_a"); err != nil {
				return err
			}
			return Errorf(KindDeclined, "no", "refused after the emit")
		})
		if CodeOf(err) != "no" {
			t.Fatalf("update: %v", err)
		}
		db.View(ctx, func(tx *Tx) error {
			for _, b := range []Bucket{BucketEvents, BucketOutbox} {
				tx.ForEach(b, "", false, func(k string, _ []byte) error {
					t.Errorf("%s/%s written by a failed transaction", b, k)
					return nil
				})
			}
			return nil
		})
	})
}
