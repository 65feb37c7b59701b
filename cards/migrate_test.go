package cards

import (
	"slices"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/store"
)

func TestMigrateCard(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person("alice")
	oldPhone := e.login(alice)
	card := e.card(alice, oldPhone)
	old := e.activate(card.ID, FunctionNFC, FunctionQR, FunctionOnline).Identifiers
	// A suspended function is deleted with the rest but not brought back.
	if _, err := e.s.ChangeToken(e.admin, TokenStatusRequest{Token: old[2].ID, Action: ActionSuspend, Reason: ReasonLost}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Logout(e.admin, LogoutRequest{Account: alice, Device: oldPhone}); err != nil {
		t.Fatal(err)
	}
	newPhone := e.login(alice)

	// The devices offered for migration are the account's login history.
	history, err := e.s.ListLogins(e.payer(alice), alice)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(history, func(l Login) bool { return l.Device == oldPhone }) {
		t.Fatalf("history %+v does not offer the old phone", history)
	}

	m, err := e.s.MigrateCard(e.payer(alice), MigrateRequest{Account: alice, From: oldPhone, To: newPhone, IdempotencyKey: "mig-1"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Card != card.ID || m.From != oldPhone || m.To != newPhone || len(m.Deleted) != 3 || len(m.Issued) != 2 {
		t.Fatalf("migration = %+v; want 3 deleted, 2 issued", m)
	}
	for _, tok := range m.Deleted {
		if tok.Status != TokenDeleted || tok.Reason != ReasonMigrated || tok.Device != oldPhone {
			t.Errorf("deleted token = %+v", tok)
		}
	}
	for i, f := range []Function{FunctionNFC, FunctionQR} {
		tok := m.Issued[i]
		if tok.Function != f || tok.Status != TokenActive || tok.Device != newPhone || slices.ContainsFunc(old, func(o Token) bool { return o.Number == tok.Number }) {
			t.Errorf("issued token %d = %+v, want a fresh active %s token on the new phone", i, tok, f)
		}
	}
	moved, err := e.s.GetCard(e.admin, card.ID)
	if err != nil || moved.Device != newPhone {
		t.Fatalf("card after migration = %+v, %v", moved, err)
	}

	// The old tokens can never pay again, by number or through the old device.
	for _, q := range []TokenQuery{
		{Token: old[0].Number, Device: oldPhone, Account: alice},
		{Token: old[1].ID, Device: oldPhone, Account: alice},
		{Card: card.ID, Device: oldPhone, Account: alice},
		{Token: old[0].ID, Device: newPhone, Account: alice},
	} {
		_, err := e.resolve(q)
		wantErr(t, err, store.KindDeclined, "token_deleted")
		if want := "token deleted (card migrated to another device)"; err.Error() != want {
			t.Errorf("decline for %+v says %q, want %q", q, err, want)
		}
	}
	paying, err := e.resolve(TokenQuery{Card: card.ID, Device: newPhone, Account: alice})
	if err != nil || paying.ID != m.Issued[0].ID {
		t.Fatalf("new phone pays with %+v, %v; want the new nfc token", paying, err)
	}

	// The audit trail says who moved what.
	err = e.db.View(e.admin, func(tx *store.Tx) error {
		events, err := tx.Events(0)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(events, func(ev store.Event) bool { return ev.ID == m.Event })
		if i < 0 {
			t.Fatalf("event %s not in the audit trail", m.Event)
		}
		ev := events[i]
		if ev.Action != "card.migrate" || ev.Subject != card.ID || ev.Actor != "key_payer_"+alice ||
			ev.Detail["from"] != oldPhone || ev.Detail["to"] != newPhone ||
			ev.Detail["deleted"] != joinIDs(m.Deleted) || ev.Detail["issued"] != joinIDs(m.Issued) {
			t.Fatalf("audit event = %+v", ev)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A retry with the key gets the same answer and moves nothing.
	replay, err := e.s.MigrateCard(e.payer(alice), MigrateRequest{Account: alice, From: oldPhone, To: newPhone, IdempotencyKey: "mig-1"})
	if err != nil || replay.Event != m.Event || replay.Issued[0].ID != m.Issued[0].ID {
		t.Fatalf("replay = %+v, %v", replay, err)
	}
	// Without the key the card is no longer on the old phone.
	_, err = e.s.MigrateCard(e.payer(alice), MigrateRequest{Account: alice, From: oldPhone, To: newPhone})
	wantErr(t, err, store.KindNotFound, "no_card_on_source")
}

func TestMigrateCardRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob := e.person("alice"), e.person("bob")
	shop := e.account("shop", store.AccountMerchant)
	oldPhone := e.login(alice)
	card := e.card(alice, oldPhone)
	e.activate(card.ID, FunctionNFC)
	newPhone := e.login(alice)
	emptyTablet := e.login(alice)
	loggedOut := e.login(alice)
	if _, err := e.s.Logout(e.admin, LogoutRequest{Account: alice, Device: loggedOut}); err != nil {
		t.Fatal(err)
	}
	bobPhone := e.login(bob)
	e.card(bob, bobPhone)

	tests := []struct {
		name  string
		actor string // "" = admin
		req   MigrateRequest
		kind  store.Kind
		code  string
	}{
		{"target not logged in", "", MigrateRequest{Account: alice, From: oldPhone, To: loggedOut}, store.KindConflict, "target_not_logged_in"},
		{"target never seen", "", MigrateRequest{Account: alice, From: oldPhone, To: newDevice()}, store.KindConflict, "target_not_logged_in"},
		{"target is another account's device", "", MigrateRequest{Account: alice, From: oldPhone, To: bobPhone}, store.KindConflict, "target_not_logged_in"},
		{"source never used by the account", "", MigrateRequest{Account: alice, From: newDevice(), To: newPhone}, store.KindNotFound, "source_not_in_history"},
		{"source is another account's device", "", MigrateRequest{Account: alice, From: bobPhone, To: newPhone}, store.KindNotFound, "source_not_in_history"},
		{"no card on the source", "", MigrateRequest{Account: alice, From: emptyTablet, To: newPhone}, store.KindNotFound, "no_card_on_source"},
		{"named card not on the source", "", MigrateRequest{Account: alice, From: emptyTablet, To: newPhone, Card: card.ID}, store.KindNotFound, "no_card_on_source"},
		{"same device", "", MigrateRequest{Account: alice, From: newPhone, To: newPhone}, store.KindInvalid, "same_device"},
		{"malformed device", "", MigrateRequest{Account: alice, From: "dev x", To: newPhone}, store.KindInvalid, "invalid_device"},
		{"payer key of another account", bob, MigrateRequest{Account: alice, From: oldPhone, To: newPhone}, store.KindForbidden, "forbidden"},
		{"bob's key moving bob's card to alice's phone", bob, MigrateRequest{Account: bob, From: bobPhone, To: newPhone}, store.KindConflict, "target_not_logged_in"},
		{"merchant key", shop, MigrateRequest{Account: alice, From: oldPhone, To: newPhone}, store.KindForbidden, "forbidden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := e.admin
			switch tc.actor {
			case bob:
				ctx = e.payer(bob)
			case shop:
				ctx = e.merchantKey(shop)
			}
			_, err := e.s.MigrateCard(ctx, tc.req)
			wantErr(t, err, tc.kind, tc.code)
			c, _ := e.s.GetCard(e.admin, card.ID)
			if c.Device != oldPhone {
				t.Fatalf("refused migration moved the card to %s", c.Device)
			}
			if _, err := e.resolve(TokenQuery{Card: card.ID, Device: oldPhone, Account: alice}); err != nil {
				t.Fatalf("refused migration broke the old token: %v", err)
			}
		})
	}
}

func TestMigrateAskForTheCardWhenTheSourceHoldsSeveral(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person("alice")
	oldPhone := e.login(alice)
	first, second := e.card(alice, oldPhone), e.card(alice, oldPhone)
	newPhone := e.login(alice)

	_, err := e.s.MigrateCard(e.admin, MigrateRequest{Account: alice, From: oldPhone, To: newPhone})
	wantErr(t, err, store.KindInvalid, "card_required")
	if !strings.Contains(err.Error(), first.ID) || !strings.Contains(err.Error(), second.ID) {
		t.Fatalf("error %q does not list the cards to choose from", err)
	}
	m, err := e.s.MigrateCard(e.admin, MigrateRequest{Account: alice, From: oldPhone, To: newPhone, Card: second.ID})
	if err != nil || m.Card != second.ID {
		t.Fatalf("migration = %+v, %v", m, err)
	}
	stayed, _ := e.s.GetCard(e.admin, first.ID)
	if stayed.Device != oldPhone {
		t.Fatalf("the card not picked moved to %s", stayed.Device)
	}
	// Now one card is left: no need to name it.
	if _, err := e.s.MigrateCard(e.admin, MigrateRequest{Account: alice, From: oldPhone, To: newPhone}); err != nil {
		t.Fatal(err)
	}
}
