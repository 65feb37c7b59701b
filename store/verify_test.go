package store

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// editRecord rewrites one JSON record of a closed ledger through bbolt, below the store.
func editRecord[T any](t *testing.T, btx *bolt.Tx, b Bucket, key string, edit func(*T)) {
	t.Helper()
	bk := btx.Bucket([]byte(b))
	var v T
	if err := json.Unmarshal(bk.Get([]byte(key)), &v); err != nil {
		t.Fatalf("reading %s/%s: %v", b, key, err)
	}
	edit(&v)
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := bk.Put([]byte(key), raw); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyLedgerReportsEachViolation(t *testing.T) {
	type ledger struct {
		alice, bob, world Account
		topUpBob, payment Transfer
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, btx *bolt.Tx, l ledger)
		want   func(l ledger) []string // "check subject", each reported at least once, nothing else
	}{
		{
			name: "postings that do not balance",
			damage: func(t *testing.T, btx *bolt.Tx, l ledger) {
				editRecord(t, btx, BucketTransfers, l.payment.ID, func(tr *Transfer) { tr.Postings[1].Amount = 400 })
			},
			want: func(l ledger) []string {
				return []string{"postings_balance " + l.payment.ID, "postings_match " + l.payment.ID, "balance_matches_postings " + l.bob.ID}
			},
		},
		{
			name: "balances that differ from their postings",
			damage: func(t *testing.T, btx *bolt.Tx, l ledger) {
				editRecord(t, btx, BucketAccounts, l.alice.ID, func(a *Account) { a.Balance++ })
				editRecord(t, btx, BucketAccounts, l.world.ID, func(a *Account) { a.Balance-- })
			},
			want: func(l ledger) []string {
				return []string{"balance_matches_postings " + l.alice.ID, "balance_matches_postings " + l.world.ID}
			},
		},
		{
			name: "a person's balance below zero, postings consistent",
			damage: func(t *testing.T, btx *bolt.Tx, l ledger) {
				over := Transfer{ID: NewID(PrefixTransfer), Kind: TransferPayment, From: l.alice.ID, To: l.bob.ID, Amount: Money{1000, "EUR"},
					Postings: [2]Posting{{l.alice.ID, -1000}, {l.bob.ID, 1000}}}
				raw, _ := json.Marshal(over)
				if err := btx.Bucket([]byte(BucketTransfers)).Put([]byte(over.ID), raw); err != nil {
					t.Fatal(err)
				}
				editRecord(t, btx, BucketAccounts, l.alice.ID, func(a *Account) { a.Balance -= 1000 })
				editRecord(t, btx, BucketAccounts, l.bob.ID, func(a *Account) { a.Balance += 1000 })
			},
			want: func(l ledger) []string { return []string{"no_negative_balance " + l.alice.ID} },
		},
		{
			name: "money from nowhere",
			damage: func(t *testing.T, btx *bolt.Tx, l ledger) {
				editRecord(t, btx, BucketAccounts, l.bob.ID, func(a *Account) { a.Balance += 50 })
			},
			want: func(l ledger) []string {
				return []string{"balance_matches_postings " + l.bob.ID, "currency_sums_to_zero EUR"}
			},
		},
		{
			name: "postings to an account that is gone",
			damage: func(t *testing.T, btx *bolt.Tx, l ledger) {
				if err := btx.Bucket([]byte(BucketAccounts)).Delete([]byte(l.bob.ID)); err != nil {
					t.Fatal(err)
				}
			},
			want: func(l ledger) []string {
				return []string{"posting_account " + l.topUpBob.ID, "posting_account " + l.payment.ID, "currency_sums_to_zero EUR"}
			},
		},
		{
			name: "a transfer in another currency than its accounts",
			damage: func(t *testing.T, btx *bolt.Tx, l ledger) {
				editRecord(t, btx, BucketTransfers, l.payment.ID, func(tr *Transfer) { tr.Amount.Currency = "USD" })
			},
			want: func(l ledger) []string { return []string{"posting_currency " + l.payment.ID} },
		},
		{
			name: "an account stored under another id",
			damage: func(t *testing.T, btx *bolt.Tx, l ledger) {
				bk := btx.Bucket([]byte(BucketAccounts))
				if err := bk.Put([]byte("acct_copy"), bk.Get([]byte(l.alice.ID))); err != nil {
					t.Fatal(err)
				}
			},
			want: func(ledger) []string { return []string{"account_key acct_copy"} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.db")
			db, err := Open(path, Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			var l ledger
			l.alice = fundedAccount(t, db, "Alice", "EUR", 1000)
			l.bob = newAccount(t, db, "Bob", KindPerson, "EUR")
			if l.topUpBob, err = db.FundAccount(bg, FundRequest{Account: l.bob.ID, Amount: "5"}); err != nil {
				t.Fatal(err)
			}
			if l.payment, err = transfer(db, l.alice.ID, l.bob.ID, Money{300, "EUR"}); err != nil {
				t.Fatal(err)
			}
			db.View(bg, func(tx *Tx) (err error) { l.world, err = tx.WorldAccount("EUR"); return err })
			verifyClean(t, db)
			db.Close()

			b, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			b.Update(func(btx *bolt.Tx) error { tt.damage(t, btx, l); return nil })
			b.Close()

			db = openAt(t, path)
			var vs []Violation
			if err := db.View(bg, func(tx *Tx) (err error) { vs, err = VerifyLedger(tx); return err }); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range vs {
				if v.Message == "" {
					t.Errorf("violation %s %s says nothing", v.Check, v.Subject)
				}
				got = append(got, v.Check+" "+v.Subject)
			}
			slices.Sort(got)
			got = slices.Compact(got)
			want := tt.want(l)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("violations:\n%v\nwant:\n%v", vs, want)
			}
		})
	}
}

func TestVerifyLedgerReportsUnreadableRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	alice := fundedAccount(t, db, "Alice", "EUR", 10)
	db.Close()
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Update(func(btx *bolt.Tx) error {
		return btx.Bucket([]byte(BucketAccounts)).Put([]byte(alice.ID), []byte(`{"id": "acct_`))
	})
	b.Close()

	db = openAt(t, path)
	err = db.View(bg, func(tx *Tx) error { _, err := VerifyLedger(tx); return err })
	wantError(t, err, KindCorrupt, "ledger_corrupt")
	_, err = db.GetAccount(bg, alice.ID)
	wantError(t, err, KindCorrupt, "ledger_corrupt")
}
