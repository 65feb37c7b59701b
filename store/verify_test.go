package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// editRecord rewrites one JSON record through the raw records of a transaction, below
// the rules of the ledger.
func editRecord[T any](t *testing.T, tx *Tx, b Bucket, key string, edit func(*T)) {
	t.Helper()
	var v T
	if err := json.Unmarshal(tx.GetRaw(b, key), &v); err != nil {
		t.Fatalf("reading %s/%s: %v", b, key, err)
	}
	edit(&v)
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.PutRaw(b, key, raw); err != nil {
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
		damage func(t *testing.T, tx *Tx, l ledger)
		want   func(l ledger) []string // "check subject", each reported at least once, nothing else
	}{
		{
			name: "postings that do not balance",
			damage: func(t *testing.T, tx *Tx, l ledger) {
				editRecord(t, tx, BucketTransfers, l.payment.ID, func(tr *Transfer) { tr.Postings[1].Amount = 400 })
			},
			want: func(l ledger) []string {
				return []string{"postings_balance " + l.payment.ID, "postings_match " + l.payment.ID, "balance_matches_postings " + l.bob.ID}
			},
		},
		{
			name: "balances that differ from their postings",
			damage: func(t *testing.T, tx *Tx, l ledger) {
				editRecord(t, tx, BucketAccounts, l.alice.ID, func(a *Account) { a.Balance++ })
				editRecord(t, tx, BucketAccounts, l.world.ID, func(a *Account) { a.Balance-- })
			},
			want: func(l ledger) []string {
				return []string{"balance_matches_postings " + l.alice.ID, "balance_matches_postings " + l.world.ID}
			},
		},
		{
			name: "a person's balance below zero, postings consistent",
			damage: func(t *testing.T, tx *Tx, l ledger) {
				over := Transfer{ID: NewID(PrefixTransfer), Kind: TransferPayment, From: l.alice.ID, To: l.bob.ID, Amount: Money{1000, "EUR"},
					Postings: [2]Posting{{l.alice.ID, -1000}, {l.bob.ID, 1000}}}
				raw, _ := json.Marshal(over)
				if err := tx.PutRaw(BucketTransfers, over.ID, raw); err != nil {
					t.Fatal(err)
				}
				editRecord(t, tx, BucketAccounts, l.alice.ID, func(a *Account) { a.Balance -= 1000 })
				editRecord(t, tx, BucketAccounts, l.bob.ID, func(a *Account) { a.Balance += 1000 })
			},
			want: func(l ledger) []string { return []string{"no_negative_balance " + l.alice.ID} },
		},
		{
			name: "money from nowhere",
			damage: func(t *testing.T, tx *Tx, l ledger) {
				editRecord(t, tx, BucketAccounts, l.bob.ID, func(a *Account) { a.Balance += 50 })
			},
			want: func(l ledger) []string {
				return []string{"balance_matches_postings " + l.bob.ID, "currency_sums_to_zero EUR"}
			},
		},
		{
			name: "postings to an account that is gone",
			damage: func(t *testing.T, tx *Tx, l ledger) {
				if err := tx.Delete(BucketAccounts, l.bob.ID); err != nil {
					t.Fatal(err)
				}
			},
			want: func(l ledger) []string {
				return []string{"posting_account " + l.topUpBob.ID, "posting_account " + l.payment.ID, "currency_sums_to_zero EUR"}
			},
		},
		{
			name: "a transfer in another currency than its accounts",
			damage: func(t *testing.T, tx *Tx, l ledger) {
				editRecord(t, tx, BucketTransfers, l.payment.ID, func(tr *Transfer) { tr.Amount.Currency = "USD" })
			},
			want: func(l ledger) []string { return []string{"posting_currency " + l.payment.ID} },
		},
		{
			name: "an account stored under another id",
			damage: func(t *testing.T, tx *Tx, l ledger) {
				if err := tx.PutRaw(BucketAccounts, "acct_copy", tx.GetRaw(BucketAccounts, l.alice.ID)); err != nil {
					t.Fatal(err)
				}
			},
			want: func(ledger) []string { return []string{"account_key acct_copy"} },
		},
	}
	onEngines(t, func(t *testing.T, e testEngine) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				db := e.open(t)
				var l ledger
				var err error
				l.alice = fundedAccount(t, db, "Alice", "EUR", 1000)
				l.bob = newAccount(t, db, "Bob", AccountPerson, "EUR")
				if l.topUpBob, err = db.FundAccount(bg, FundRequest{Account: l.bob.ID, Amount: "5"}); err != nil {
					t.Fatal(err)
				}
				if l.payment, err = transfer(db, l.alice.ID, l.bob.ID, Money{300, "EUR"}); err != nil {
					t.Fatal(err)
				}
				db.View(bg, func(tx *Tx) (err error) { l.world, err = tx.WorldAccount("EUR"); return err })
				verifyClean(t, db)

				if err := db.Update(bg, func(tx *Tx) error { tt.damage(t, tx, l); return nil }); err != nil {
					t.Fatal(err)
				}

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
	})
}

func TestVerifyLedgerReportsUnreadableRecords(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		alice := fundedAccount(t, db, "Alice", "EUR", 10)
		err := db.Update(bg, func(tx *Tx) error {
			return tx.PutRaw(BucketAccounts, alice.ID, []byte(`{"id": "acct_`))
		})
		if err != nil {
			t.Fatal(err)
		}
		err = db.View(bg, func(tx *Tx) error { _, err := VerifyLedger(tx); return err })
		wantError(t, err, KindCorrupt, "ledger_corrupt")
		_, err = db.GetAccount(bg, alice.ID)
		wantError(t, err, KindCorrupt, "ledger_corrupt")
	})
}

// A damaged branch page that names itself would send bbolt's cursors down for ever,
// until the process ran out of memory: verify walks the trees from the file first and
// reports the loop.
func TestALoopInTheFileIsReportedNotFollowed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	db := openAt(t, path)
	err := db.Update(context.Background(), func(tx *Tx) error {
		for range 2000 {
			if err := tx.PutRaw(BucketDevices, NewID(PrefixDevice), bytes.Repeat([]byte("x"), 100)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var root uint64
	pageSize := b.Info().PageSize
	b.View(func(tx *bolt.Tx) error {
		root = uint64(tx.Bucket([]byte(BucketDevices)).Root())
		return nil
	})
	b.Close()
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := file[int(root)*pageSize:]
	if binary.LittleEndian.Uint16(page[8:]) != boltBranchPage {
		t.Fatalf("page %d of the devices bucket is not a branch page", root)
	}
	binary.LittleEndian.PutUint64(page[boltPageHeader+8:], root) // its first child: itself
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	db = openAt(t, path)
	var found []Violation
	err = db.View(context.Background(), func(tx *Tx) error {
		var err error
		found, err = VerifyLedger(tx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) == 0 || !strings.Contains(found[0].Message, "a second time") {
		t.Errorf("verify found %+v, want the loop at page %d", found, root)
	}
}
