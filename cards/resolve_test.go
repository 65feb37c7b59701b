package cards

import (
	"testing"

	"github.com/tagpay/tagpay/store"
)

func TestResolveToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob := e.person("alice"), e.person("bob")
	phone := e.login(alice)
	card := e.card(alice, phone)
	a := e.activate(card.ID, FunctionNFC, FunctionQR)
	nfc, qr := a.Identifiers[0], a.Identifiers[1]
	bare := e.card(alice, phone) // no functions activated
	other := e.login(alice)

	tests := []struct {
		name  string
		q     TokenQuery
		token string // id of the token that pays; "" = refused
		kind  store.Kind
		code  string
	}{
		{"card on its device pays with its nfc token", TokenQuery{Card: card.ID, Device: phone, Account: alice}, nfc.ID, 0, ""},
		{"token by number on its device", TokenQuery{Token: nfc.Number, Device: phone, Account: alice}, nfc.ID, 0, ""},
		{"token by id on its device", TokenQuery{Token: nfc.ID, Device: phone, Account: alice}, nfc.ID, 0, ""},
		{"token and its card", TokenQuery{Token: nfc.ID, Card: card.ID, Device: phone, Account: alice}, nfc.ID, 0, ""},
		{"a qr token does not pay a tap", TokenQuery{Token: qr.Number, Device: phone, Account: alice}, "", store.KindDeclined, "token_not_nfc"},
		{"a token needs the paying device", TokenQuery{Token: nfc.Number, Account: alice}, "", store.KindInvalid, "device_required"},
		{"someone else's token looks unknown", TokenQuery{Token: nfc.Number, Device: phone, Account: bob}, "", store.KindDeclined, "token_not_found"},
		{"someone else's card looks unknown", TokenQuery{Card: card.ID, Device: phone, Account: bob}, "", store.KindDeclined, "card_not_found"},
		{"token on another device", TokenQuery{Token: nfc.ID, Device: other, Account: alice}, "", store.KindDeclined, "token_wrong_device"},
		{"token of another card", TokenQuery{Token: nfc.ID, Card: bare.ID, Device: phone, Account: alice}, "", store.KindDeclined, "token_card_mismatch"},
		{"card without nfc", TokenQuery{Card: bare.ID, Device: phone, Account: alice}, "", store.KindDeclined, "no_nfc_token"},
		{"card on a device it is not on", TokenQuery{Card: card.ID, Device: other, Account: alice}, "", store.KindDeclined, "no_nfc_token"},
		{"unknown number", TokenQuery{Token: "9999990000000000", Device: phone, Account: alice}, "", store.KindDeclined, "token_not_found"},
		{"unknown card", TokenQuery{Card: store.NewID(store.PrefixCard), Device: phone, Account: alice}, "", store.KindDeclined, "card_not_found"},
		{"card without a device", TokenQuery{Card: card.ID, Account: alice}, "", store.KindInvalid, "device_required"},
		{"nothing to pay with", TokenQuery{Device: phone, Account: alice}, "", store.KindInvalid, "instrument_required"},
		{"no payer", TokenQuery{Token: nfc.ID, Device: phone}, "", store.KindInvalid, "account_required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.resolve(tc.q)
			if tc.code == "token_not_found" && err != nil && err.Error() != "token "+tc.q.Token+" is not known" {
				t.Errorf("decline says %q: it must not differ between unknown and someone else's", err)
			}
			if tc.token == "" {
				wantErr(t, err, tc.kind, tc.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != tc.token {
				t.Fatalf("resolved %s, want %s", got.ID, tc.token)
			}
		})
	}
}
