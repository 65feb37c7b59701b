package orders

import (
	"testing"

	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/store"
)

// A card's nfc token names the instrument; after the card migrates, the old device's
// token is refused with the reason, and nothing moves.
func TestPayWithToken(t *testing.T) {
	w := newWorld(t)
	cs := cards.New(w.db, cards.Config{})
	oldPhone, newPhone := store.NewID(store.PrefixDevice), store.NewID(store.PrefixDevice)
	for _, dev := range []string{oldPhone, newPhone} {
		if _, err := cs.Login(w.ctx, cards.LoginRequest{Account: w.alice.ID, Device: dev}); err != nil {
			t.Fatal(err)
		}
	}
	card, err := cs.AddCard(w.ctx, cards.AddCardRequest{Account: w.alice.ID, Label: "debit", PAN: "4111111111111111", Device: oldPhone})
	if err != nil {
		t.Fatal(err)
	}
	act, err := cs.ActivateCard(w.ctx, cards.ActivateRequest{Card: card.ID, Functions: []cards.Function{cards.FunctionNFC}})
	if err != nil || len(act.Identifiers) != 1 {
		t.Fatalf("activate: %+v, %v", act, err)
	}
	oldToken := act.Identifiers[0]

	paid, err := w.svc.PayOrder(w.ctx, PayRequest{Order: w.order(w.active, w.alice.ID, "2.00").ID, Card: card.ID, Device: oldPhone})
	if err != nil {
		t.Fatal(err)
	}
	if in := paid.Instrument; in == nil || in.Kind != InstrumentToken || in.Card != card.ID || in.Token != oldToken.ID {
		t.Fatalf("instrument %+v, want token %s of card %s", paid.Instrument, oldToken.ID, card.ID)
	}
	if got := w.balance(w.alice.ID); got != 4800 {
		t.Fatalf("the balance paid: %d, want 4800", got)
	}

	if _, err := cs.MigrateCard(w.ctx, cards.MigrateRequest{Account: w.alice.ID, From: oldPhone, To: newPhone}); err != nil {
		t.Fatal(err)
	}
	o := w.order(w.active, w.alice.ID, "3.00")
	tests := []struct {
		name string
		req  PayRequest
		code string
	}{
		{"card on the old device", PayRequest{Order: o.ID, Card: card.ID, Device: oldPhone}, "token_deleted"},
		{"the old token by id", PayRequest{Order: o.ID, PaymentToken: oldToken.ID, Device: oldPhone}, "token_deleted"},
		{"the old token by number", PayRequest{Order: o.ID, PaymentToken: oldToken.Number, Device: oldPhone}, "token_deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.declines(t, store.KindDeclined, tt.code, "token deleted (card migrated to another device)", func() error {
				_, err := w.svc.PayOrder(w.ctx, tt.req)
				return err
			})
		})
	}
	paid, err = w.svc.PayOrder(w.ctx, PayRequest{Order: o.ID, Card: card.ID, Device: newPhone})
	if err != nil || paid.Instrument.Token == oldToken.ID || paid.Instrument.Card != card.ID {
		t.Fatalf("pay on the new device: %+v, %v", paid.Instrument, err)
	}
	w.verifyClean()
}
