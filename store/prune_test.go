package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func TestIdempotencyKeysExpireAndArePruned(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) { idempotencyKeysExpireAndArePruned(t, e) })
}

func idempotencyKeysExpireAndArePruned(t *testing.T, e testEngine) {
	ctx := WithActor(context.Background(), LocalActor)
	db, err := Open(e.target(t), Options{NoSync: true, IdempotencyTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := db.CreateAccount(ctx, CreateAccountRequest{Name: "A", Kind: AccountPerson, Currency: "EUR", IdempotencyKey: "old"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateAccount(ctx, CreateAccountRequest{Name: "B", Kind: AccountPerson, Currency: "EUR", IdempotencyKey: "new"}); err != nil {
		t.Fatal(err)
	}
	// Age the first record past the TTL, as two hours would.
	err = db.Update(ctx, func(tx *Tx) error {
		var rec IdempotencyRecord
		k, err := tx.idempotencyKey("local/old")
		if err != nil {
			return err
		}
		if _, err := tx.Get(BucketIdempotency, k, &rec); err != nil {
			return err
		}
		rec.CreatedAt = rec.CreatedAt.Add(-2 * time.Hour)
		return tx.Put(BucketIdempotency, k, rec)
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.PruneIdempotency(ctx)
	if err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want the one old record", n, err)
	}
	// The fresh key still replays; the pruned one is free again.
	b, err := db.CreateAccount(ctx, CreateAccountRequest{Name: "B", Kind: AccountPerson, Currency: "EUR", IdempotencyKey: "new"})
	if err != nil || b.Name != "B" {
		t.Fatalf("replay of the fresh key: %+v, %v", b, err)
	}
	c, err := db.CreateAccount(ctx, CreateAccountRequest{Name: "C", Kind: AccountPerson, Currency: "EUR", IdempotencyKey: "old"})
	if err != nil || c.ID == a.ID {
		t.Fatalf("the expired key was not free: %+v, %v", c, err)
	}
	accounts, _ := db.ListAccounts(ctx, Page{})
	if len(accounts) != 3 {
		t.Fatalf("%d accounts, want 3", len(accounts))
	}
}

// TestPruningGoesABatchAtATime: more expired records than one batch, between fresh ones,
// are all pruned, and the fresh ones all kept.
func TestPruningGoesABatchAtATime(t *testing.T) {
	ctx := WithActor(context.Background(), LocalActor)
	db, err := Open(filepath.Join(t.TempDir(), "l.db"), Options{NoSync: true, IdempotencyTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const expired, fresh = 2*pruneBatch + 3, 40
	const every = (expired + fresh) / fresh // one fresh record in every so many
	now := time.Now()
	err = db.Update(ctx, func(tx *Tx) error {
		for i := range expired + fresh {
			at := now.Add(-2 * time.Hour)
			if i%every == 0 && i/every < fresh {
				at = now
			}
			if err := tx.Put(BucketIdempotency, fmt.Sprintf("local/k%05d", i), IdempotencyRecord{Op: "x", CreatedAt: at}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var before int
	db.View(ctx, func(tx *Tx) error {
		return tx.ForEach(BucketIdempotency, "", false, func(string, []byte) error { before++; return nil })
	})
	n, err := db.PruneIdempotency(ctx)
	var left int
	db.View(ctx, func(tx *Tx) error {
		return tx.ForEach(BucketIdempotency, "", false, func(string, []byte) error { left++; return nil })
	})
	if err != nil || n != before-fresh || left != fresh {
		t.Fatalf("pruned %d of %d (%v), %d left; want %d pruned, %d left", n, before, err, left, before-fresh, fresh)
	}
}
