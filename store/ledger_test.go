package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
)

var bg = context.Background()

func TestCreateAccount(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		a, err := db.CreateAccount(bg, CreateAccountRequest{Name: "  Alice  ", Kind: AccountPerson, Currency: "eur"})
		if err != nil {
			t.Fatal(err)
		}
		if !ValidID(a.ID, PrefixAccount) || a.Name != "Alice" || a.Kind != AccountPerson || a.Currency != "EUR" || a.Balance != 0 || a.CreatedAt.IsZero() {
			t.Errorf("created %+v", a)
		}
		got, err := db.GetAccount(bg, a.ID)
		if err != nil || got != a {
			t.Errorf("GetAccount = %+v, %v; want %+v", got, err, a)
		}
	})
}

func TestCreateAccountRefusesBadRequests(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		tests := []struct {
			name  string
			req   CreateAccountRequest
			code  string
			param string
		}{
			{"no name", CreateAccountRequest{Name: "  ", Kind: AccountPerson, Currency: "EUR"}, "invalid_name", "name"},
			{"long name", CreateAccountRequest{Name: strings.Repeat("x", 201), Kind: AccountPerson, Currency: "EUR"}, "invalid_name", "name"},
			{"world kind", CreateAccountRequest{Name: "w", Kind: AccountWorld, Currency: "EUR"}, "invalid_kind", "kind"},
			{"no kind", CreateAccountRequest{Name: "a", Currency: "EUR"}, "invalid_kind", "kind"},
			{"unknown currency", CreateAccountRequest{Name: "a", Kind: AccountPerson, Currency: "XYZ"}, "unknown_currency", "currency"},
			{"no currency", CreateAccountRequest{Name: "a", Kind: AccountMerchant}, "unknown_currency", "currency"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := db.CreateAccount(bg, tt.req)
				wantError(t, err, KindInvalid, tt.code)
				var e *Error
				errors.As(err, &e)
				if e.Param != tt.param {
					t.Errorf("error names parameter %q, want %q", e.Param, tt.param)
				}
			})
		}
		if accounts, _ := db.ListAccounts(bg, Page{}); len(accounts) != 0 {
			t.Errorf("refused requests left accounts behind: %+v", accounts)
		}
	})
}

func TestListAccountsOldestFirstWithWorldPerCurrency(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		alice := fundedAccount(t, db, "Alice", "EUR", 500)
		shop := newAccount(t, db, "Shop", AccountMerchant, "EUR")
		taro := fundedAccount(t, db, "Taro", "JPY", 1000)
		bob := fundedAccount(t, db, "Bob", "EUR", 300)

		all, err := db.ListAccounts(bg, Page{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		worlds := map[string]Account{}
		for _, a := range all {
			if a.Kind == AccountWorld {
				if _, dup := worlds[a.Currency]; dup {
					t.Errorf("two world accounts for %s", a.Currency)
				}
				worlds[a.Currency] = a
				continue
			}
			ids = append(ids, a.ID)
		}
		if want := []string{alice.ID, shop.ID, taro.ID, bob.ID}; strings.Join(ids, " ") != strings.Join(want, " ") {
			t.Errorf("accounts in order %v, want creation order %v", ids, want)
		}
		if worlds["EUR"].Balance != -800 || worlds["JPY"].Balance != -1000 || len(worlds) != 2 {
			t.Errorf("world accounts %+v, want EUR -800 and JPY -1000", worlds)
		}
		verifyClean(t, db)
	})
}

func TestGetAccountNotFound(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		for _, id := range []string{NewID(PrefixAccount), "acct_../../x", "ord_" + NewID(PrefixAccount)[5:], ""} {
			_, err := db.GetAccount(bg, id)
			wantError(t, err, KindNotFound, "account_not_found")
		}
	})
}

func transfer(db *DB, from, to string, amount Money) (Transfer, error) {
	var out Transfer
	err := db.Update(bg, func(tx *Tx) (err error) {
		out, err = tx.Transfer(TransferSpec{Kind: TransferPayment, From: from, To: to, Amount: amount})
		return err
	})
	return out, err
}

func TestTransferMovesMoneyBalanced(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		alice := fundedAccount(t, db, "Alice", "EUR", 1000)
		shop := newAccount(t, db, "Shop", AccountMerchant, "EUR")
		tr, err := transfer(db, alice.ID, shop.ID, Money{350, "EUR"})
		if err != nil {
			t.Fatal(err)
		}
		if tr.Postings != [2]Posting{{alice.ID, -350}, {shop.ID, 350}} || tr.From != alice.ID || tr.To != shop.ID || !ValidID(tr.ID, PrefixTransfer) {
			t.Errorf("transfer %+v", tr)
		}
		if a, s := balance(t, db, alice.ID), balance(t, db, shop.ID); a != 650 || s != 350 {
			t.Errorf("balances %d and %d, want 650 and 350", a, s)
		}
		var stored Transfer
		db.View(bg, func(tx *Tx) (err error) { stored, err = tx.TransferByID(tr.ID); return err })
		if stored.ID != tr.ID || stored.Amount != tr.Amount {
			t.Errorf("stored transfer %+v, want %+v", stored, tr)
		}
		verifyClean(t, db)
	})
}

func TestTransferRefusalsWriteNothing(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		alice := fundedAccount(t, db, "Alice", "EUR", 1000)
		shop := newAccount(t, db, "Shop", AccountMerchant, "EUR")
		yen := newAccount(t, db, "Yen shop", AccountMerchant, "JPY")
		full := newAccount(t, db, "Full", AccountMerchant, "EUR")
		err := db.Update(bg, func(tx *Tx) error { // a balance at the top of int64
			a, _ := tx.AccountUnchecked(full.ID)
			a.Balance = math.MaxInt64
			return tx.Put(BucketAccounts, a.ID, a)
		})
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name     string
			from, to string
			amount   Money
			kind     Kind
			code     string
		}{
			{"insufficient funds", alice.ID, shop.ID, Money{1001, "EUR"}, KindDeclined, "insufficient_funds"},
			{"currency mismatch of the amount", alice.ID, shop.ID, Money{10, "USD"}, KindDeclined, "currency_mismatch"},
			{"currency mismatch of the accounts", alice.ID, yen.ID, Money{10, "EUR"}, KindDeclined, "currency_mismatch"},
			{"same account", alice.ID, alice.ID, Money{10, "EUR"}, KindDeclined, "same_account"},
			{"zero", alice.ID, shop.ID, Money{0, "EUR"}, KindInvalid, "invalid_amount"},
			{"negative", shop.ID, alice.ID, Money{-10, "EUR"}, KindInvalid, "invalid_amount"},
			{"unknown payee", alice.ID, NewID(PrefixAccount), Money{10, "EUR"}, KindNotFound, "account_not_found"},
			{"unknown payer", NewID(PrefixAccount), alice.ID, Money{10, "EUR"}, KindNotFound, "account_not_found"},
			{"balance overflow", alice.ID, full.ID, Money{1, "EUR"}, KindInvalid, "amount_overflow"},
		}
		before := snapshot(t, db)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := transfer(db, tt.from, tt.to, tt.amount)
				wantError(t, err, tt.kind, tt.code)
				if after := snapshot(t, db); !bytes.Equal(before, after) {
					t.Error("a refused transfer changed the ledger")
				}
			})
		}
		_, err = transfer(db, alice.ID, shop.ID, Money{1001, "EUR"})
		if msg := err.Error(); !strings.Contains(msg, "holds 10.00 EUR") || !strings.Contains(msg, "10.01 EUR needed") {
			t.Errorf("message %q does not say what the account holds and what was needed", msg)
		}
	})
}

// snapshot is every account and transfer as stored, to tell whether anything changed.
func snapshot(t testing.TB, db *DB) []byte {
	t.Helper()
	var buf bytes.Buffer
	err := db.View(bg, func(tx *Tx) error {
		for _, b := range []Bucket{BucketAccounts, BucketTransfers, BucketWorld, BucketAudit, BucketIdempotency} {
			err := tx.ForEach(b, "", false, func(k string, v []byte) error {
				buf.WriteString(string(b) + "/" + k + "=")
				buf.Write(v)
				buf.WriteByte('\n')
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWorldAccountMayGoNegativeOthersMayNot(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		alice := fundedAccount(t, db, "Alice", "EUR", 100)
		var world Account
		db.View(bg, func(tx *Tx) (err error) { world, err = tx.WorldAccount("EUR"); return err })
		if world.Balance != -100 || world.Kind != AccountWorld {
			t.Fatalf("world account %+v, want balance -100", world)
		}
		bob := newAccount(t, db, "Bob", AccountPerson, "EUR")
		_, err := transfer(db, bob.ID, alice.ID, Money{1, "EUR"})
		wantError(t, err, KindDeclined, "insufficient_funds")
	})
}

func TestFundAccount(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		alice := newAccount(t, db, "Alice", AccountPerson, "EUR")
		tr, err := db.FundAccount(bg, FundRequest{Account: alice.ID, Amount: "12.50"})
		if err != nil {
			t.Fatal(err)
		}
		if tr.Kind != TransferTopUp || tr.To != alice.ID || tr.Amount != (Money{1250, "EUR"}) {
			t.Errorf("top-up %+v", tr)
		}
		if _, err := db.FundAccount(bg, FundRequest{Account: alice.ID, Amount: "0.50 EUR"}); err != nil {
			t.Fatal(err)
		}
		if got := balance(t, db, alice.ID); got != 1300 {
			t.Errorf("balance %d, want 1300", got)
		}
		var world Account
		db.View(bg, func(tx *Tx) (err error) { world, err = tx.WorldAccount("EUR"); return err })
		tests := []struct {
			name string
			req  FundRequest
			kind Kind
			code string
		}{
			{"other currency", FundRequest{Account: alice.ID, Amount: "5 USD"}, KindInvalid, "currency_mismatch"},
			{"too many decimals", FundRequest{Account: alice.ID, Amount: "5.001"}, KindInvalid, "invalid_amount"},
			{"negative", FundRequest{Account: alice.ID, Amount: "-5"}, KindInvalid, "invalid_amount"},
			{"unknown account", FundRequest{Account: NewID(PrefixAccount), Amount: "5"}, KindNotFound, "account_not_found"},
			{"world account", FundRequest{Account: world.ID, Amount: "5"}, KindInvalid, "invalid_account"},
		}
		before := snapshot(t, db)
		for _, tt := range tests {
			_, err := db.FundAccount(bg, tt.req)
			wantError(t, err, tt.kind, tt.code)
		}
		if !bytes.Equal(before, snapshot(t, db)) {
			t.Error("a refused top-up changed the ledger")
		}
		verifyClean(t, db)
	})
}

func TestFundRefusesTypedMoneyInTheWrongCurrency(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		alice := newAccount(t, db, "Alice", AccountPerson, "EUR")
		err := db.Update(bg, func(tx *Tx) error {
			_, err := tx.Fund(alice.ID, Money{100, "JPY"})
			return err
		})
		wantError(t, err, KindInvalid, "currency_mismatch")
	})
}

func TestJournalNewestFirstWithLimit(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		alice := fundedAccount(t, db, "Alice", "EUR", 1000)
		bob := newAccount(t, db, "Bob", AccountPerson, "EUR")
		var made []string
		for i := range 5 {
			tr, err := transfer(db, alice.ID, bob.ID, Money{int64(i + 1), "EUR"})
			if err != nil {
				t.Fatal(err)
			}
			made = append(made, tr.ID)
		}
		all, err := db.Journal(bg, Page{Limit: 0})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 6 || all[5].Kind != TransferTopUp {
			t.Fatalf("journal has %d transfers, want the top-up and 5 payments, oldest last", len(all))
		}
		for i, id := range made {
			if all[4-i].ID != id {
				t.Errorf("journal position %d is %s, want %s (newest first)", 4-i, all[4-i].ID, id)
			}
		}
		three, err := db.Journal(bg, Page{Limit: 3})
		if err != nil || len(three) != 3 || three[0].ID != made[4] || three[2].ID != made[2] {
			t.Errorf("journal limit 3 = %d transfers, %v", len(three), err)
		}
	})
}

func TestIdempotentReplaysTheFirstResult(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		alice := newAccount(t, db, "Alice", AccountPerson, "EUR")
		req := FundRequest{Account: alice.ID, Amount: "10", IdempotencyKey: "top-up-1"}
		first, err := db.FundAccount(bg, req)
		if err != nil {
			t.Fatal(err)
		}
		var replayed bool
		again, err := db.FundAccount(WithReplayFlag(bg, &replayed), req)
		if err != nil {
			t.Fatal(err)
		}
		if again.ID != first.ID || again.Amount != first.Amount || !again.CreatedAt.Equal(first.CreatedAt) {
			t.Errorf("replay returned %+v, want the first result %+v", again, first)
		}
		if !replayed {
			t.Error("the replay flag was not set on a replay")
		}
		if got := balance(t, db, alice.ID); got != 1000 {
			t.Errorf("balance %d after a replayed top-up, want 1000 (applied once)", got)
		}
		if n := countTransfers(t, db); n != 1 {
			t.Errorf("%d transfers, want 1", n)
		}

		var fresh bool
		if _, err := db.FundAccount(WithReplayFlag(bg, &fresh), FundRequest{Account: alice.ID, Amount: "1", IdempotencyKey: "top-up-2"}); err != nil || fresh {
			t.Errorf("a new key: err %v, replayed %v; want applied, not replayed", err, fresh)
		}

		_, err = db.FundAccount(bg, FundRequest{Account: alice.ID, Amount: "11", IdempotencyKey: "top-up-1"})
		wantError(t, err, KindConflict, "idempotency_key_reused")
		_, err = db.CreateAccount(bg, CreateAccountRequest{Name: "x", Kind: AccountPerson, Currency: "EUR", IdempotencyKey: "top-up-1"})
		wantError(t, err, KindConflict, "idempotency_key_reused")
		if got := balance(t, db, alice.ID); got != 1100 {
			t.Errorf("balance %d, want 1100", got)
		}
	})
}

func TestIdempotencyKeysBelongToTheirActor(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		req := CreateAccountRequest{Name: "Alice", Kind: AccountPerson, Currency: "EUR", IdempotencyKey: "k"}
		first, err := db.CreateAccount(bg, req)
		if err != nil {
			t.Fatal(err)
		}
		other := WithActor(bg, Actor{ID: "key_other_admin", Role: RoleAdmin})
		second, err := db.CreateAccount(other, req)
		if err != nil {
			t.Fatal(err)
		}
		if second.ID == first.ID {
			t.Error("another actor's request with the same key was answered from the first actor's record")
		}
		replay, err := db.CreateAccount(bg, req)
		if err != nil || replay.ID != first.ID {
			t.Errorf("replay of the first actor = %s, %v; want %s", replay.ID, err, first.ID)
		}
	})
}

func TestIdempotentRefusesOverlongKeyAndKeepsNoFailedResult(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		_, err := db.CreateAccount(bg, CreateAccountRequest{Name: "a", Kind: AccountPerson, Currency: "EUR", IdempotencyKey: strings.Repeat("k", 256)})
		wantError(t, err, KindInvalid, "invalid_idempotency_key")

		// A refused request stores nothing under its key: fixing the request and retrying
		// with the same key works.
		alice := newAccount(t, db, "Alice", AccountPerson, "EUR")
		_, err = db.FundAccount(bg, FundRequest{Account: alice.ID, Amount: "1.001", IdempotencyKey: "k"})
		wantError(t, err, KindInvalid, "invalid_amount")
		if _, err := db.FundAccount(bg, FundRequest{Account: alice.ID, Amount: "1", IdempotencyKey: "k"}); err != nil {
			t.Errorf("corrected request with the key of a refused one: %v", err)
		}
		if got := balance(t, db, alice.ID); got != 100 {
			t.Errorf("balance %d, want 100", got)
		}
	})
}

// Clients retrying at once with one key (a lost answer, a double tap) share one result:
// the calls land in one batch or in turn, and only the first applies.
func TestIdempotentUnderConcurrentRetries(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		alice := newAccount(t, db, "Alice", AccountPerson, "EUR")
		req := FundRequest{Account: alice.ID, Amount: "7", IdempotencyKey: "tap"}
		const clients = 16
		ids := make([]string, clients)
		replays := make([]bool, clients)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range clients {
			wg.Go(func() {
				<-start
				tr, err := db.FundAccount(WithReplayFlag(bg, &replays[i]), req)
				if err != nil {
					t.Error(err)
				}
				ids[i] = tr.ID
			})
		}
		close(start)
		wg.Wait()
		fresh := 0
		for i := range clients {
			if ids[i] != ids[0] {
				t.Errorf("client %d got transfer %s, client 0 got %s", i, ids[i], ids[0])
			}
			if !replays[i] {
				fresh++
			}
		}
		if fresh != 1 {
			t.Errorf("%d clients saw a fresh result, want exactly 1", fresh)
		}
		if got := balance(t, db, alice.ID); got != 700 {
			t.Errorf("balance %d, want 700: the top-up applied once", got)
		}
		if n := countTransfers(t, db); n != 1 {
			t.Errorf("%d transfers, want 1", n)
		}
	})
}

func TestActorsActOnlyForTheirAccounts(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		alice := fundedAccount(t, db, "Alice", "EUR", 1000)
		bob := fundedAccount(t, db, "Bob", "EUR", 1000)
		shop := newAccount(t, db, "Shop", AccountMerchant, "EUR")
		payer := asActor(RolePayer, alice.ID)
		merchant := asActor(RoleMerchant, shop.ID)

		if _, err := db.GetAccount(payer, alice.ID); err != nil {
			t.Errorf("payer reading its own account: %v", err)
		}
		for _, tt := range []struct {
			name string
			ctx  context.Context
			id   string
		}{{"payer reads another person", payer, bob.ID}, {"payer reads a merchant", payer, shop.ID}, {"merchant reads a person", merchant, alice.ID}} {
			_, err := db.GetAccount(tt.ctx, tt.id)
			if KindOf(err) != KindForbidden {
				t.Errorf("%s: %v, want forbidden", tt.name, err)
			}
		}

		listed, err := db.ListAccounts(payer, Page{})
		if err != nil || len(listed) != 1 || listed[0].ID != alice.ID {
			t.Errorf("payer lists %+v, %v; want only its own account", listed, err)
		}
		if _, err := db.CreateAccount(merchant, CreateAccountRequest{Name: "x", Kind: AccountMerchant, Currency: "EUR"}); KindOf(err) != KindForbidden {
			t.Errorf("merchant creating an account: %v, want forbidden", err)
		}
		if _, err := db.FundAccount(payer, FundRequest{Account: alice.ID, Amount: "5"}); KindOf(err) != KindForbidden {
			t.Errorf("payer topping itself up: %v, want forbidden", err)
		}

		if _, err := transfer(db, alice.ID, shop.ID, Money{100, "EUR"}); err != nil {
			t.Fatal(err)
		}
		if _, err := transfer(db, bob.ID, alice.ID, Money{1, "EUR"}); err != nil {
			t.Fatal(err)
		}
		shopJournal, err := db.Journal(merchant, Page{Limit: 0})
		if err != nil || len(shopJournal) != 1 || shopJournal[0].To != shop.ID {
			t.Errorf("merchant journal %+v, %v; want only the payment to it", shopJournal, err)
		}
		aliceJournal, _ := db.Journal(payer, Page{Limit: 0})
		if len(aliceJournal) != 3 { // her top-up, her payment, Bob's payment to her
			t.Errorf("payer journal has %d transfers, want 3", len(aliceJournal))
		}

		err = db.View(payer, func(tx *Tx) error {
			if err := tx.RequireOwner(alice.ID, bob.ID); KindOf(err) != KindForbidden {
				t.Errorf("RequireOwner of someone else's account: %v", err)
			}
			if err := tx.RequireRole(RolePayer); err != nil {
				t.Errorf("RequireRole(payer) as a payer: %v", err)
			}
			if err := tx.RequireRole(RoleMerchant); KindOf(err) != KindForbidden {
				t.Errorf("RequireRole(merchant) as a payer: %v", err)
			}
			if _, err := VerifyLedger(tx); KindOf(err) != KindForbidden {
				t.Errorf("VerifyLedger as a payer: %v, want forbidden", err)
			}
			if _, err := tx.Events(0); KindOf(err) != KindForbidden {
				t.Errorf("Events as a payer: %v, want forbidden", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = db.View(bg, func(tx *Tx) error {
			if a := tx.Actor(); a.ID != "local" || a.Role != RoleAdmin {
				t.Errorf("actor without a key %+v, want the local admin", a)
			}
			return tx.RequireOwner(alice.ID, bob.ID, shop.ID)
		})
		if err != nil {
			t.Errorf("local admin: %v", err)
		}
	})
}

func TestAuditRecordsWhoDidWhat(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		admin := WithActor(bg, Actor{ID: "key_ops", Role: RoleAdmin})
		a, err := db.CreateAccount(admin, CreateAccountRequest{Name: "Alice", Kind: AccountPerson, Currency: "EUR"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.FundAccount(bg, FundRequest{Account: a.ID, Amount: "3"}); err != nil {
			t.Fatal(err)
		}
		var events []Event
		db.View(bg, func(tx *Tx) (err error) { events, err = tx.Events(0); return err })
		if len(events) != 2 {
			t.Fatalf("%d events, want 2: %+v", len(events), events)
		}
		fund, create := events[0], events[1]
		if create.Action != "account.create" || create.Subject != a.ID || create.Actor != "key_ops" || create.Detail["currency"] != "EUR" {
			t.Errorf("create event %+v", create)
		}
		if fund.Action != "account.fund" || fund.Actor != "local" || fund.Detail["amount"] != "3.00 EUR" || !ValidID(fund.Detail["transfer"], PrefixTransfer) {
			t.Errorf("fund event %+v", fund)
		}
		var one []Event
		db.View(bg, func(tx *Tx) (err error) { one, err = tx.Events(1); return err })
		if len(one) != 1 || one[0].ID != fund.ID {
			t.Errorf("Events(1) = %+v, want the newest", one)
		}
	})
}

func TestSecretIsStableAcrossReopen(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		target := e.target(t)
		keys := keysPath(t)
		db, err := Open(target, Options{NoSync: true, KeysPath: keys})
		if err != nil {
			t.Fatal(err)
		}
		var mac, pan []byte
		err = db.View(bg, func(tx *Tx) (err error) {
			if mac, err = tx.Secret(SecretTagMAC); err != nil {
				return err
			}
			pan, err = tx.Secret(SecretPANHash)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(mac) != 32 || bytes.Equal(mac, pan) || bytes.Equal(mac, make([]byte, 32)) {
			t.Fatalf("secrets %x and %x: want two different random 32-byte values", mac, pan)
		}
		db.Close()
		db, err = Open(target, Options{NoSync: true, KeysPath: keys})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var again []byte
		db.View(bg, func(tx *Tx) (err error) { again, err = tx.Secret(SecretTagMAC); return err })
		if !bytes.Equal(again, mac) {
			t.Errorf("secret after reopening %x, want %x", again, mac)
		}
	})
}

// TestATransactionReadsItsOwnWrites: on PostgreSQL the writes of a transaction wait to
// go in one round trip; until then its reads and scans see them as bbolt's do.
func TestATransactionReadsItsOwnWrites(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		err := db.Update(bg, func(tx *Tx) error {
			if err := tx.PutRaw(BucketTagIndex, "own/a", []byte("1")); err != nil {
				return err
			}
			if err := tx.PutRaw(BucketTagIndex, "own/b", []byte("2")); err != nil {
				return err
			}
			if v := tx.GetRaw(BucketTagIndex, "own/a"); string(v) != "1" {
				return fmt.Errorf("read of a write: %q", v)
			}
			if err := tx.Delete(BucketTagIndex, "own/a"); err != nil {
				return err
			}
			if v := tx.GetRaw(BucketTagIndex, "own/a"); v != nil {
				return fmt.Errorf("read of a delete: %q", v)
			}
			if err := tx.PutRaw(BucketTagIndex, "own/b", []byte("3")); err != nil {
				return err
			}
			var seen []string
			err := tx.ForEach(BucketTagIndex, "own/", false, func(k string, v []byte) error {
				seen = append(seen, k+"="+string(v))
				return nil
			})
			if err != nil || strings.Join(seen, " ") != "own/b=3" {
				return fmt.Errorf("scan after the writes: %v, %v", seen, err)
			}
			return tx.PutRaw(BucketTagIndex, "own/c", []byte("4"))
		})
		if err != nil {
			t.Fatal(err)
		}
		var after []string
		db.View(bg, func(tx *Tx) error {
			return tx.ForEach(BucketTagIndex, "own/", false, func(k string, v []byte) error {
				after = append(after, k+"="+string(v))
				return nil
			})
		})
		if strings.Join(after, " ") != "own/b=3 own/c=4" {
			t.Fatalf("committed: %v", after)
		}
	})
}

func TestForEachPrefixBothWays(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		keys := []string{"a", "ab", "abc", "abd", "ac", "b", "\xff", "\xff\xff"}
		err := db.Update(bg, func(tx *Tx) error {
			for _, k := range keys {
				if err := tx.PutRaw(BucketTagIndex, k, []byte(k)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			prefix, from string
			reverse      bool
			want         string
		}{
			{"ab", "", false, "ab abc abd"},
			{"ab", "", true, "abd abc ab"},
			{"", "", true, "\xff\xff \xff b ac abd abc ab a"},
			{"\xff", "", true, "\xff\xff \xff"},
			{"c", "", true, ""},
			{"abc", "", false, "abc"},
			// From a cursor: past it, whether or not it is a key, within the prefix.
			{"ab", "abc", false, "abd"},
			{"ab", "abc", true, "ab"},
			{"ab", "abca", true, "abc ab"},
			{"ab", "ab", true, ""},
			{"", "b", true, "ac abd abc ab a"},
			{"", "b", false, "\xff \xff\xff"},
			{"", "\xff\xff", false, ""},
			// A cursor outside the prefix: the whole prefix or none of it.
			{"ab", "a", false, "ab abc abd"},
			{"ab", "b", true, "abd abc ab"},
			{"ab", "b", false, ""},
			{"ab", "a", true, ""},
		}
		for _, tt := range tests {
			var got []string
			db.View(bg, func(tx *Tx) error {
				return tx.ForEachFrom(BucketTagIndex, tt.prefix, tt.from, tt.reverse, func(k string, _ []byte) error {
					got = append(got, k)
					return nil
				})
			})
			if strings.Join(got, " ") != tt.want {
				t.Errorf("ForEachFrom(%q, from %q, reverse %v) = %q, want %q", tt.prefix, tt.from, tt.reverse, strings.Join(got, " "), tt.want)
			}
		}
	})
}

// A key's record holds 128 bits of the hash of its parameters; a record written before
// holds all 256, and a retry with the same parameters still replays it, one with others
// is still refused.
func TestIdempotencyRecordsFromBeforeKeepTheirLongHash(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		params := map[string]string{"amount": "5.00"}
		p, _ := json.Marshal(params)
		sum := sha256.Sum256(append([]byte("test.op\x00"), p...))
		run := func(key string, params any) (got string, replayed bool, err error) {
			err = db.Update(bg, func(tx *Tx) error {
				if key == "old" && tx.GetRaw(BucketIdempotency, tx.Actor().ID+"/old") == nil {
					rec := IdempotencyRecord{Op: "test.op", Hash: hex.EncodeToString(sum[:]), Result: json.RawMessage(`"first"`), CreatedAt: tx.Now()}
					if err := tx.Put(BucketIdempotency, tx.Actor().ID+"/old", rec); err != nil {
						return err
					}
				}
				var err error
				got, replayed, err = Idempotent(tx, key, "test.op", params, func() (string, error) { return "ran", nil })
				return err
			})
			return got, replayed, err
		}
		if got, replayed, err := run("old", params); err != nil || !replayed || got != "first" {
			t.Errorf("a retry of a record from before: %q, replayed %v, %v; want the first result", got, replayed, err)
		}
		_, _, err := run("old", map[string]string{"amount": "6.00"})
		wantError(t, err, KindConflict, "idempotency_key_reused")
		if got, replayed, err := run("new", params); err != nil || replayed || got != "ran" {
			t.Fatalf("a new key: %q, replayed %v, %v", got, replayed, err)
		}
		db.View(bg, func(tx *Tx) error {
			var rec IdempotencyRecord
			if _, err := tx.getIdempotency(tx.Actor().ID+"/new", &rec); err != nil || rec.Hash != hex.EncodeToString(sum[:16]) {
				t.Errorf("a new record holds hash %q (%v), want the first 128 bits %x", rec.Hash, err, sum[:16])
			}
			return nil
		})
		if got, replayed, err := run("new", params); err != nil || !replayed || got != "ran" {
			t.Errorf("a retry of a new key: %q, replayed %v, %v", got, replayed, err)
		}
	})
}
