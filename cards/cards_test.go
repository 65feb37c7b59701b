package cards

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/store"
	"github.com/tagpay/tagpay/store/storetest"
)

func TestAddCardPAN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pan  string
		code string // "" = accepted
	}{
		{"no PAN", "", ""},
		{"Luhn-valid 16 digits", "4111111111111111", ""},
		{"Luhn-valid 12 digits", "000000000000", ""},
		{"Luhn-valid 19 digits", "4111111111111111110", ""},
		{"Luhn check fails", "4111111111111112", "invalid_pan"},
		{"spaces between groups", "4111 1111 1111 1111", ""},
		{"a tab", "4111\t1111 1111 1111", "invalid_pan"},
		{"11 digits, Luhn-valid", "41111111112", "invalid_pan"},
		{"20 digits, Luhn-valid", "41111111111111111115", "invalid_pan"},
		{"letters", "411111111111111A", "invalid_pan"},
	}
	e := newEnv(t)
	alice := e.person("alice")
	phone := e.login(alice)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := e.s.AddCard(e.admin, AddCardRequest{Account: alice, Device: phone, PAN: tc.pan})
			if tc.code != "" {
				wantErr(t, err, store.KindInvalid, tc.code)
				if strings.Contains(err.Error(), tc.pan) {
					t.Fatalf("error %q repeats the card number", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantLast4 := ""
			if tc.pan != "" {
				wantLast4 = tc.pan[len(tc.pan)-4:]
			}
			if c.PANLast4 != wantLast4 || c.Device != phone || c.Account != alice || c.Status != CardActive {
				t.Fatalf("card = %+v", c)
			}
		})
	}
}

func TestPANIsNeverKeptOrShownWhole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person("alice")
	phone := e.login(alice)
	const pan = "4111111111111111"
	c, err := e.s.AddCard(e.admin, AddCardRequest{Account: alice, Device: phone, PAN: pan, Label: "visa", IdempotencyKey: "add-visa"})
	if err != nil {
		t.Fatal(err)
	}
	// A replay with another PAN under the same key is told apart without storing either.
	_, err = e.s.AddCard(e.admin, AddCardRequest{Account: alice, Device: phone, PAN: "5555555555554444", Label: "visa", IdempotencyKey: "add-visa"})
	wantErr(t, err, store.KindConflict, "idempotency_key_reused")
	again, err := e.s.AddCard(e.admin, AddCardRequest{Account: alice, Device: phone, PAN: pan, Label: "visa", IdempotencyKey: "add-visa"})
	if err != nil || again.ID != c.ID {
		t.Fatalf("replay = %+v, %v; want card %s", again, err, c.ID)
	}
	e.activate(c.ID, Functions...)

	listed, err := e.s.ListCards(e.admin, alice, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{c, listed} {
		raw, _ := json.Marshal(v)
		if bytes.Contains(raw, []byte(pan)) || bytes.Contains(raw, []byte("pan_hash")) {
			t.Fatalf("JSON %s carries the PAN or its hash", raw)
		}
		if !bytes.Contains(raw, []byte(`"pan_last4":"1111"`)) {
			t.Fatalf("JSON %s lacks the last four digits", raw)
		}
	}
	err = e.db.View(e.admin, func(tx *store.Tx) error {
		events, err := tx.Events(0)
		raw, _ := json.Marshal(events)
		if bytes.Contains(raw, []byte(pan)) {
			t.Errorf("audit trail carries the PAN: %s", raw)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing anywhere in the ledger: not records, idempotency entries or audit.
	err = e.db.View(e.admin, func(tx *store.Tx) error {
		for _, b := range []store.Bucket{
			store.BucketMeta, store.BucketAccounts, store.BucketWorld, store.BucketTransfers, store.BucketIdempotency,
			store.BucketAudit, store.BucketTags, store.BucketTagIndex, store.BucketReplies, store.BucketOrders,
			store.BucketOrderIndex, store.BucketDevices, store.BucketLogins, store.BucketCards, store.BucketTokens,
			store.BucketTokenIndex, store.BucketKeys, store.BucketKeyIndex, store.BucketSUNCounters, store.BucketSUNKeys,
		} {
			err := tx.ForEach(b, "", false, func(k string, v []byte) error {
				if strings.Contains(k, pan) || bytes.Contains(v, []byte(pan)) || bytes.Contains(v, []byte("5555555555554444")) {
					t.Errorf("record %s/%s contains a PAN", b, k)
				}
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
	// And not in the bytes of the file either, freed pages included: bbolt only, as a
	// database keeps its rows in files of its own.
	if engine.Name != storetest.Bolt.Name {
		return
	}
	file, err := os.ReadFile(e.db.Path())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(file, []byte(pan)) || bytes.Contains(file, []byte("5555555555554444")) {
		t.Fatal("the ledger file contains a PAN")
	}
}

func TestAddCardNeedsALoginOnTheDeviceNow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob := e.person("alice"), e.person("bob")
	alicePhone := e.login(alice)
	bobPhone := e.login(bob)
	oldPhone := e.login(alice)
	if _, err := e.s.Logout(e.admin, LogoutRequest{Account: alice, Device: oldPhone}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		device string
	}{
		{"another account's device", bobPhone},
		{"a device the account logged out of", oldPhone},
		{"a device never seen", newDevice()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.s.AddCard(e.admin, AddCardRequest{Account: alice, Device: tc.device})
			wantErr(t, err, store.KindConflict, "not_logged_in")
		})
	}
	if cards, _ := e.s.ListCards(e.admin, "", store.Page{}); len(cards) != 0 {
		t.Fatalf("refused cards were created: %+v", cards)
	}
	if _, err := e.s.AddCard(e.admin, AddCardRequest{Account: alice, Device: alicePhone}); err != nil {
		t.Fatal(err)
	}
}

func TestCardsAreScopedToTheirAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob := e.person("alice"), e.person("bob")
	shop := e.account("shop", store.AccountMerchant)
	aliceCard := e.card(alice, e.login(alice))
	bobCard := e.card(bob, e.login(bob))

	mine, err := e.s.ListCards(e.payer(alice), "", store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 1 || mine[0].ID != aliceCard.ID {
		t.Fatalf("alice's key lists %+v, want only her card", mine)
	}
	all, err := e.s.ListCards(e.admin, "", store.Page{})
	if err != nil || len(all) != 2 {
		t.Fatalf("admin lists %d cards (%v), want 2", len(all), err)
	}

	_, err = e.s.GetCard(e.payer(alice), bobCard.ID)
	wantErr(t, err, store.KindForbidden, "forbidden")
	_, err = e.s.ListCards(e.payer(alice), bob, store.Page{})
	wantErr(t, err, store.KindForbidden, "forbidden")
	_, err = e.s.AddCard(e.payer(alice), AddCardRequest{Account: bob, Device: newDevice()})
	wantErr(t, err, store.KindForbidden, "forbidden")
	_, err = e.s.ActivateCard(e.payer(alice), ActivateRequest{Card: bobCard.ID, Functions: []Function{FunctionNFC}})
	wantErr(t, err, store.KindForbidden, "forbidden")
	_, err = e.s.GetCard(e.merchantKey(shop), aliceCard.ID)
	wantErr(t, err, store.KindForbidden, "forbidden")
	_, err = e.s.GetCard(e.admin, store.NewID(store.PrefixCard))
	wantErr(t, err, store.KindNotFound, "card_not_found")
	_, err = e.s.GetCard(e.admin, "card_../../x")
	wantErr(t, err, store.KindNotFound, "card_not_found")

	got, err := e.s.GetCard(e.payer(alice), aliceCard.ID)
	if err != nil || got != aliceCard {
		t.Fatalf("GetCard = %+v, %v; want %+v", got, err, aliceCard)
	}
}
