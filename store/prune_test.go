package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestIdempotencyKeysExpireAndArePruned(t *testing.T) {
	ctx := WithActor(context.Background(), LocalActor)
	db, err := Open(filepath.Join(t.TempDir(), "l.db"), Options{NoSync: true, IdempotencyTTL: time.Hour})
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
		if _, err := tx.Get(BucketIdempotency, "local/old", &rec); err != nil {
			return err
		}
		rec.CreatedAt = rec.CreatedAt.Add(-2 * time.Hour)
		return tx.Put(BucketIdempotency, "local/old", rec)
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
