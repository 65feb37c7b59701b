package cards

import (
	"slices"
	"testing"

	"github.com/tagpay/tagpay/store"
)

func TestVerifyFindsBrokenInvariants(t *testing.T) {
	t.Parallel()
	type fixture struct {
		e     *env
		alice string
		card  cardRecord
		nfc   Token
	}
	// copyToken is another token of the same card with a fresh, indexed number.
	copyToken := func(tx *store.Tx, f fixture, number string) (Token, error) {
		t := f.nfc
		t.ID, t.Number = store.NewID(store.PrefixToken), number
		f.card.Tokens = append(f.card.Tokens, t.ID)
		if err := tx.Put(store.BucketCards, f.card.ID, f.card); err != nil {
			return t, err
		}
		if err := tx.PutRaw(store.BucketTokenIndex, number, []byte(t.ID)); err != nil {
			return t, err
		}
		return t, tx.Put(store.BucketTokens, t.ID, t)
	}
	tests := []struct {
		name    string
		corrupt func(tx *store.Tx, f fixture) error
		check   string
	}{
		{"number fails Luhn", func(tx *store.Tx, f fixture) error {
			f.nfc.Number = f.nfc.Number[:15] + string('0'+(f.nfc.Number[15]-'0'+1)%10)
			if err := tx.PutRaw(store.BucketTokenIndex, f.nfc.Number, []byte(f.nfc.ID)); err != nil {
				return err
			}
			return tx.Put(store.BucketTokens, f.nfc.ID, f.nfc)
		}, "token_number"},
		{"two active nfc tokens on one device", func(tx *store.Tx, f fixture) error {
			_, err := copyToken(tx, f, DefaultBIN+"1234567893")
			return err
		}, "one_active_token"},
		{"two tokens share a number", func(tx *store.Tx, f fixture) error {
			t, err := copyToken(tx, f, f.nfc.Number)
			if err != nil {
				return err
			}
			t.Status = TokenDeleted
			return tx.Put(store.BucketTokens, t.ID, t)
		}, "token_unique"},
		{"index points at nothing", func(tx *store.Tx, f fixture) error {
			return tx.PutRaw(store.BucketTokenIndex, DefaultBIN+"1234567893", []byte(store.NewID(store.PrefixToken)))
		}, "token_index"},
		{"token of a card that does not exist", func(tx *store.Tx, f fixture) error {
			return tx.Delete(store.BucketCards, f.card.ID)
		}, "token_card"},
		{"live token of a removed card", func(tx *store.Tx, f fixture) error {
			f.card.Status = CardRemoved
			return tx.Put(store.BucketCards, f.card.ID, f.card)
		}, "token_live_card"},
		{"card does not list its token", func(tx *store.Tx, f fixture) error {
			f.card.Tokens = nil
			return tx.Put(store.BucketCards, f.card.ID, f.card)
		}, "token_listed"},
		{"card on a device its account never used", func(tx *store.Tx, f fixture) error {
			return tx.Delete(store.BucketLogins, loginKey(f.alice, f.card.Device))
		}, "card_device_login"},
		{"live token left on the old device", func(tx *store.Tx, f fixture) error {
			f.nfc.Device = store.NewID(store.PrefixDevice)
			return tx.Put(store.BucketTokens, f.nfc.ID, f.nfc)
		}, "token_device"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := rawEnv(t, Config{})
			alice := e.person("alice")
			c := e.card(alice, e.login(alice))
			nfc := e.activate(c.ID, FunctionNFC).Identifiers[0]
			if v := e.violations(); len(v) != 0 {
				t.Fatalf("violations before breaking anything: %v", v)
			}
			err := e.db.Update(e.admin, func(tx *store.Tx) error {
				rec, err := loadCard(tx, c.ID)
				if err != nil {
					return err
				}
				return tc.corrupt(tx, fixture{e: e, alice: alice, card: rec, nfc: nfc})
			})
			if err != nil {
				t.Fatal(err)
			}
			got := e.violations()
			if !slices.ContainsFunc(got, func(v store.Violation) bool { return v.Check == tc.check }) {
				t.Fatalf("violations %v lack %s", got, tc.check)
			}
		})
	}
}

func TestVerifyIsForAdmins(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person("alice")
	err := e.db.View(e.payer(alice), func(tx *store.Tx) error {
		_, err := Verify(tx)
		return err
	})
	wantErr(t, err, store.KindForbidden, "forbidden")
}
