package cards

import (
	"bytes"
	"crypto/rand"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tagpay/tagpay/store"
)

func TestActivateAllFunctions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person("alice")
	phone := e.login(alice)
	card := e.card(alice, phone)
	order := []Function{FunctionQR, FunctionInApp, FunctionNFC, FunctionOnline}

	a, err := e.s.ActivateCard(e.payer(alice), ActivateRequest{Card: card.ID, Functions: order})
	if err != nil {
		t.Fatal(err)
	}
	if a.Card != card.ID || len(a.Identifiers) != len(order) {
		t.Fatalf("activation = %+v", a)
	}
	seen := map[string]bool{}
	for i, tok := range a.Identifiers {
		f := order[i]
		wantLen := 16
		if f == FunctionQR {
			wantLen = 18
		}
		switch {
		case tok.Function != f:
			t.Errorf("identifier %d is for %s, want %s (request order)", i, tok.Function, f)
		case len(tok.Number) != wantLen || !LuhnValid(tok.Number) || !strings.HasPrefix(tok.Number, DefaultBIN):
			t.Errorf("%s number %q is not %d Luhn-valid digits in BIN %s", f, tok.Number, wantLen, DefaultBIN)
		case tok.Status != TokenActive || tok.Card != card.ID || tok.Device != phone || tok.Account != alice:
			t.Errorf("%s token = %+v", f, tok)
		case !tok.ExpiresAt.Equal(e.clock.Now().Add(DefaultTokenTTL)):
			t.Errorf("%s token expires %s, want now + %s", f, tok.ExpiresAt, DefaultTokenTTL)
		case seen[tok.Number]:
			t.Errorf("number %s issued twice", tok.Number)
		}
		seen[tok.Number] = true
	}

	// Asking again gives the same identifiers back and issues nothing new.
	e.clock.advance(time.Hour)
	again := e.activate(card.ID, FunctionNFC, FunctionQR, FunctionOnline, FunctionInApp)
	for _, tok := range again.Identifiers {
		if !seen[tok.Number] {
			t.Errorf("repeat activation issued a new %s token %s", tok.Function, tok.Number)
		}
	}
	if n := len(e.tokens(card.ID)); n != 4 {
		t.Fatalf("card has %d tokens after a repeat activation, want 4", n)
	}
}

func TestActivateValidatesEveryFunctionFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person("alice")
	card := e.card(alice, e.login(alice))
	tests := []struct {
		name      string
		functions []Function
		code      string
	}{
		{"unknown after a valid one", []Function{FunctionNFC, "contactless"}, "unknown_function"},
		{"unknown alone", []Function{"bitcoin"}, "unknown_function"},
		{"none", nil, "no_functions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.s.ActivateCard(e.admin, ActivateRequest{Card: card.ID, Functions: tc.functions})
			wantErr(t, err, store.KindInvalid, tc.code)
			if !strings.Contains(err.Error(), "nfc, qr, online, inapp") {
				t.Errorf("error %q does not name the valid functions", err)
			}
			if ts := e.tokens(card.ID); len(ts) != 0 {
				t.Fatalf("a refused activation created tokens: %+v", ts)
			}
		})
	}
}

func TestActivateCollapsesRepeatedFunctions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person("alice")
	card := e.card(alice, e.login(alice))
	a := e.activate(card.ID, FunctionQR, "NFC", FunctionQR, " nfc ")
	if len(a.Identifiers) != 2 || a.Identifiers[0].Function != FunctionQR || a.Identifiers[1].Function != FunctionNFC {
		t.Fatalf("identifiers = %+v; want one qr then one nfc", a.Identifiers)
	}
}

func TestActivateIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person("alice")
	card := e.card(alice, e.login(alice))
	req := ActivateRequest{Card: card.ID, Functions: []Function{FunctionNFC}, IdempotencyKey: "act-1"}
	first, err := e.s.ActivateCard(e.admin, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.DeactivateCard(e.admin, DeactivateRequest{Card: card.ID, Functions: []Function{FunctionNFC}}); err != nil {
		t.Fatal(err)
	}
	// The replay returns the stored reply; it does not activate again.
	replay, err := e.s.ActivateCard(e.admin, req)
	if err != nil || replay.Identifiers[0].ID != first.Identifiers[0].ID {
		t.Fatalf("replay = %+v, %v; want the first reply", replay, err)
	}
	if n := len(e.tokens(card.ID)); n != 1 {
		t.Fatalf("replay issued a token: card has %d", n)
	}
	req.Functions = []Function{FunctionQR}
	_, err = e.s.ActivateCard(e.admin, req)
	wantErr(t, err, store.KindConflict, "idempotency_key_reused")
}

func TestDeactivate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person("alice")
	phone := e.login(alice)
	card := e.card(alice, phone)
	first := e.activate(card.ID, Functions...)

	gone, err := e.s.DeactivateCard(e.payer(alice), DeactivateRequest{Card: card.ID, Functions: []Function{FunctionNFC, FunctionQR}})
	if err != nil {
		t.Fatal(err)
	}
	if len(gone) != 2 || gone[0].Function != FunctionNFC || gone[1].Function != FunctionQR {
		t.Fatalf("deactivated %+v, want the nfc and qr tokens", gone)
	}
	for _, tok := range gone {
		if tok.Status != TokenDeleted || tok.Reason != ReasonUser {
			t.Errorf("deactivated token = %+v, want deleted for reason user", tok)
		}
	}
	states := map[Function]TokenStatus{}
	for _, tok := range e.tokens(card.ID) {
		states[tok.Function] = tok.Status
	}
	want := map[Function]TokenStatus{FunctionNFC: TokenDeleted, FunctionQR: TokenDeleted, FunctionOnline: TokenActive, FunctionInApp: TokenActive}
	for f, s := range want {
		if states[f] != s {
			t.Errorf("%s token is %s, want %s", f, states[f], s)
		}
	}
	// Nothing left to deactivate is not an error.
	gone, err = e.s.DeactivateCard(e.admin, DeactivateRequest{Card: card.ID, Functions: []Function{FunctionNFC}})
	if err != nil || len(gone) != 0 {
		t.Fatalf("second deactivation = %+v, %v", gone, err)
	}
	// Activating again issues a new number; the old one never comes back.
	again := e.activate(card.ID, FunctionNFC)
	if again.Identifiers[0].Number == first.Identifiers[0].Number {
		t.Fatal("a deleted token's number was issued again")
	}
	_, err = e.resolve(TokenQuery{Token: first.Identifiers[0].Number, Device: phone, Account: alice})
	wantErr(t, err, store.KindDeclined, "token_deleted")
}

func TestTokenTransitions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		from   []TokenAction // actions that bring a fresh active token to the start state
		action TokenAction
		reason Reason
		state  TokenStatus // "" = refused
		kind   store.Kind
		code   string
	}{
		{"suspend an active token", nil, ActionSuspend, ReasonLost, TokenSuspended, 0, ""},
		{"resume a suspended token", []TokenAction{ActionSuspend}, ActionResume, ReasonUser, TokenActive, 0, ""},
		{"delete an active token", nil, ActionDelete, ReasonFraud, TokenDeleted, 0, ""},
		{"delete a suspended token", []TokenAction{ActionSuspend}, ActionDelete, ReasonStolen, TokenDeleted, 0, ""},
		{"reason defaults to user", nil, ActionSuspend, "", TokenSuspended, 0, ""},
		{"resume an active token", nil, ActionResume, ReasonUser, "", store.KindConflict, "token_already_active"},
		{"suspend a suspended token", []TokenAction{ActionSuspend}, ActionSuspend, ReasonLost, "", store.KindConflict, "token_already_suspended"},
		{"resume a deleted token", []TokenAction{ActionDelete}, ActionResume, ReasonUser, "", store.KindConflict, "token_deleted"},
		{"suspend a deleted token", []TokenAction{ActionDelete}, ActionSuspend, ReasonLost, "", store.KindConflict, "token_deleted"},
		{"delete a deleted token", []TokenAction{ActionDelete}, ActionDelete, ReasonUser, "", store.KindConflict, "token_deleted"},
		{"unknown action", nil, "freeze", ReasonUser, "", store.KindInvalid, "invalid_action"},
		{"unknown reason", nil, ActionSuspend, "bored", "", store.KindInvalid, "invalid_reason"},
		{"migration is not a person's reason", nil, ActionDelete, ReasonMigrated, "", store.KindInvalid, "invalid_reason"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			alice := e.person("alice")
			card := e.card(alice, e.login(alice))
			tok := e.activate(card.ID, FunctionNFC).Identifiers[0]
			for _, a := range tc.from {
				if _, err := e.s.ChangeToken(e.admin, TokenStatusRequest{Token: tok.ID, Action: a, Reason: ReasonUser}); err != nil {
					t.Fatal(err)
				}
			}
			before, err := e.s.GetToken(e.admin, tok.ID)
			if err != nil {
				t.Fatal(err)
			}
			// By number, as a person reading it off a screen would.
			got, err := e.s.ChangeToken(e.payer(alice), TokenStatusRequest{Token: tok.Number, Action: tc.action, Reason: tc.reason})
			if tc.state == "" {
				wantErr(t, err, tc.kind, tc.code)
				after, _ := e.s.GetToken(e.admin, tok.ID)
				if after != before {
					t.Fatalf("a refused change altered the token: %+v → %+v", before, after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantReason := tc.reason
			switch {
			case tc.state == TokenActive:
				wantReason = ""
			case wantReason == "":
				wantReason = ReasonUser
			}
			if got.Status != tc.state || got.Reason != wantReason {
				t.Fatalf("token is %s (%q), want %s (%q)", got.Status, got.Reason, tc.state, wantReason)
			}
		})
	}
}

func TestSuspendedTokenDeclinesAndBlocksReactivation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person("alice")
	phone := e.login(alice)
	card := e.card(alice, phone)
	tok := e.activate(card.ID, FunctionNFC).Identifiers[0]
	if _, err := e.s.ChangeToken(e.admin, TokenStatusRequest{Token: tok.ID, Action: ActionSuspend, Reason: ReasonLost}); err != nil {
		t.Fatal(err)
	}
	_, err := e.resolve(TokenQuery{Card: card.ID, Device: phone, Account: alice})
	wantErr(t, err, store.KindDeclined, "token_suspended")
	if want := "token suspended (lost)"; err.Error() != want {
		t.Fatalf("decline says %q, want %q", err, want)
	}
	_, err = e.s.ActivateCard(e.admin, ActivateRequest{Card: card.ID, Functions: []Function{FunctionQR, FunctionNFC}})
	wantErr(t, err, store.KindConflict, "token_suspended")
	if n := len(e.tokens(card.ID)); n != 1 {
		t.Fatalf("the refused activation issued tokens: card has %d", n)
	}
}

func TestExpiredTokenIsDeclinedThenReplaced(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person("alice")
	phone := e.login(alice)
	card := e.card(alice, phone)
	e.clock.advance(-4 * 365 * 24 * time.Hour) // issue it four years ago: past its three
	old := e.activate(card.ID, FunctionNFC).Identifiers[0]

	_, err := e.resolve(TokenQuery{Card: card.ID, Device: phone, Account: alice})
	wantErr(t, err, store.KindDeclined, "token_expired")
	if _, err := e.s.ChangeToken(e.admin, TokenStatusRequest{Token: old.ID, Action: ActionSuspend}); err != nil {
		t.Fatal(err)
	}
	e.clock.advance(4 * 365 * 24 * time.Hour)
	_, err = e.s.ChangeToken(e.admin, TokenStatusRequest{Token: old.ID, Action: ActionResume})
	wantErr(t, err, store.KindConflict, "token_expired")
	if _, err := e.s.ChangeToken(e.admin, TokenStatusRequest{Token: old.ID, Action: ActionDelete}); err != nil {
		t.Fatal(err)
	}

	fresh := e.activate(card.ID, FunctionNFC).Identifiers[0]
	if fresh.ID == old.ID {
		t.Fatal("activation returned the expired token")
	}
	if _, err := e.resolve(TokenQuery{Card: card.ID, Device: phone, Account: alice}); err != nil {
		t.Fatalf("fresh token declined: %v", err)
	}
}

func TestActivationReplacesAnExpiredActiveToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person("alice")
	card := e.card(alice, e.login(alice))
	old := e.activate(card.ID, FunctionOnline).Identifiers[0]
	e.clock.advance(DefaultTokenTTL)
	fresh := e.activate(card.ID, FunctionOnline).Identifiers[0]
	if fresh.ID == old.ID {
		t.Fatal("activation returned a token at its expiry instant")
	}
	after, err := e.s.GetToken(e.admin, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Status != TokenDeleted || after.Reason != ReasonExpired {
		t.Fatalf("expired token = %s (%s), want deleted (expired)", after.Status, after.Reason)
	}
}

// zeros then real randomness: the first draws are all the same number.
func forcedDraws(s *Service, zeroBytes int) {
	s.random = io.MultiReader(bytes.NewReader(make([]byte, zeroBytes)), rand.Reader)
}

func TestTokenNumberCollisionRedraws(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person("alice")
	card := e.card(alice, e.login(alice))
	// A 16-digit token takes nine random digits; the second draw repeats the first.
	forcedDraws(e.s, 18)
	a := e.activate(card.ID, FunctionNFC, FunctionOnline)
	first := DefaultBIN + "000000000"
	first += string(luhnCheckDigit(first))
	if a.Identifiers[0].Number != first {
		t.Fatalf("first number = %s, want %s from the forced draw", a.Identifiers[0].Number, first)
	}
	if a.Identifiers[1].Number == first || !LuhnValid(a.Identifiers[1].Number) {
		t.Fatalf("second number = %s; want a redraw", a.Identifiers[1].Number)
	}
}

func TestTokenNumberNeverEqualsTheCardPAN(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person("alice")
	phone := e.login(alice)
	pan := DefaultBIN + "000000000"
	pan += string(luhnCheckDigit(pan))
	card, err := e.s.AddCard(e.admin, AddCardRequest{Account: alice, Device: phone, PAN: pan})
	if err != nil {
		t.Fatal(err)
	}
	forcedDraws(e.s, 9)
	tok := e.activate(card.ID, FunctionNFC).Identifiers[0]
	if tok.Number == pan {
		t.Fatal("the token number equals the card's PAN")
	}
}

func TestActivationIsAllOrNothingWhenNumbersRunOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person("alice")
	card := e.card(alice, e.login(alice))
	e.s.random = bytes.NewReader(make([]byte, 1<<16)) // every draw is the same number
	_, err := e.s.ActivateCard(e.admin, ActivateRequest{Card: card.ID, Functions: []Function{FunctionNFC, FunctionOnline}})
	wantErr(t, err, store.KindUnavailable, "token_range_exhausted")
	if ts := e.tokens(card.ID); len(ts) != 0 {
		t.Fatalf("the failed activation left tokens: %+v", ts)
	}
}

func TestBadBINIsReported(t *testing.T) {
	t.Parallel()
	for _, bin := range []string{"12345", "1234567", "12345a"} {
		e := rawEnv(t, Config{BIN: bin})
		if err := (Config{BIN: bin}).Validate(); store.CodeOf(err) != "invalid_bin" {
			t.Errorf("Validate(BIN %q) = %v", bin, err)
		}
		alice := e.person("alice")
		card := e.card(alice, e.login(alice))
		_, err := e.s.ActivateCard(e.admin, ActivateRequest{Card: card.ID, Functions: []Function{FunctionNFC}})
		wantErr(t, err, store.KindInvalid, "invalid_bin")
	}
}

func TestGetTokenByNumberHidesOtherAccountsTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob := e.person("alice"), e.person("bob")
	tok := e.activate(e.card(alice, e.login(alice)).ID, FunctionNFC).Identifiers[0]

	got, err := e.s.GetToken(e.payer(alice), tok.Number)
	if err != nil || got.ID != tok.ID {
		t.Fatalf("GetToken by number = %+v, %v", got, err)
	}
	_, err = e.s.GetToken(e.payer(bob), tok.Number)
	wantErr(t, err, store.KindNotFound, "token_not_found")
	_, err = e.s.GetToken(e.payer(bob), tok.ID)
	wantErr(t, err, store.KindForbidden, "forbidden")
	_, err = e.s.GetToken(e.admin, "not a token")
	wantErr(t, err, store.KindNotFound, "token_not_found")
	bobs, err := e.s.ListTokens(e.payer(bob), "", store.Page{})
	if err != nil || len(bobs) != 0 {
		t.Fatalf("bob lists %+v, %v", bobs, err)
	}
}
