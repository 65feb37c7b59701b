package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

// TestClientRoundTrips runs every Backend method through the client and the server, and
// checks each answer against the ledger as the local backend sees it.
func TestClientRoundTrips(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.client(f.admin)
	var be backend.Backend = c
	local := f.local
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	same := func(what string, remote, direct any) {
		t.Helper()
		if !reflect.DeepEqual(remote, direct) {
			t.Fatalf("%s over HTTP:\n%+v\nlocally:\n%+v", what, remote, direct)
		}
	}

	// Accounts and the ledger.
	merchant, err := be.CreateAccount(ctx, store.CreateAccountRequest{Name: "Cafe", Kind: store.AccountMerchant, Currency: "EUR", IdempotencyKey: "m"})
	must(err)
	payer, err := be.CreateAccount(ctx, store.CreateAccountRequest{Name: "Ada", Kind: store.AccountPerson, Currency: "EUR"})
	must(err)
	accts, err := be.ListAccounts(ctx, store.Page{})
	must(err)
	direct, err := local.ListAccounts(ctx, store.Page{})
	must(err)
	same("ListAccounts", accts, direct)
	got, err := be.GetAccount(ctx, payer.ID)
	must(err)
	same("GetAccount", got, payer)
	topUp, err := be.FundAccount(ctx, store.FundRequest{Account: payer.ID, Amount: "50.00", IdempotencyKey: "fund"})
	must(err)
	if topUp.Amount != (store.Money{Amount: 50_00, Currency: "EUR"}) || topUp.To != payer.ID {
		t.Fatalf("FundAccount = %+v", topUp)
	}
	again, err := be.FundAccount(ctx, store.FundRequest{Account: payer.ID, Amount: "50.00", IdempotencyKey: "fund"})
	must(err)
	same("replayed FundAccount", again, topUp)
	journal, err := be.Journal(ctx, store.Page{Limit: 1})
	must(err)
	if len(journal) != 1 || journal[0].ID != topUp.ID {
		t.Fatalf("Journal(1) = %+v", journal)
	}

	// Tags.
	tag, err := be.RegisterTag(ctx, orders.RegisterRequest{UID: "04515CFA6F7381", Merchant: merchant.ID, Label: "till"})
	must(err)
	pending, err := be.RegisterTag(ctx, orders.RegisterRequest{UID: "04DE5F1EACC040", Merchant: merchant.ID, Pending: true})
	must(err)
	confirmed, err := be.ConfirmTag(ctx, orders.ConfirmRequest{Tag: pending.Ref, UID: pending.UID, Content: pending.Content})
	must(err)
	if confirmed.Status != orders.TagActive {
		t.Fatalf("ConfirmTag = %+v", confirmed)
	}
	failing, err := be.RegisterTag(ctx, orders.RegisterRequest{UID: "04AABBCCDDEE01", Merchant: merchant.ID, Pending: true})
	must(err)
	failed, err := be.FailTag(ctx, orders.TagStateRequest{Tag: failing.ID, Reason: "write failed"})
	must(err)
	revoked, err := be.RevokeTag(ctx, orders.TagStateRequest{Tag: confirmed.UID, Reason: "stolen"})
	must(err)
	if failed.Status != orders.TagFailed || revoked.Status != orders.TagRevoked {
		t.Fatalf("FailTag = %s, RevokeTag = %s", failed.Status, revoked.Status)
	}
	tags, err := be.ListTags(ctx, orders.TagFilter{Merchant: merchant.ID})
	must(err)
	directTags, err := local.ListTags(ctx, orders.TagFilter{Merchant: merchant.ID})
	must(err)
	same("ListTags", tags, directTags)
	byRef, err := be.GetTag(ctx, tag.Ref)
	must(err)
	same("GetTag", byRef, tag)

	// Payments.
	reply, err := be.ParsePaymentRequest(ctx, orders.PaymentRequest{UID: tag.UID, Content: tag.Content})
	must(err)
	if reply.Payee != merchant.ID {
		t.Fatalf("ParsePaymentRequest = %+v", reply)
	}
	order, err := be.CreateOrder(ctx, orders.OrderRequest{Reply: reply.ID, Payer: payer.ID, Amount: "12.50", Memo: "lunch"})
	must(err)
	paid, err := be.PayOrder(ctx, orders.PayRequest{Order: order.ID, IdempotencyKey: "pay"})
	must(err)
	refunded, err := be.RefundOrder(ctx, orders.RefundRequest{Order: order.ID, Amount: "2.50"})
	must(err)
	if paid.Status != orders.OrderPaid || refunded.Refunded.Amount != 2_50 {
		t.Fatalf("PayOrder = %s, RefundOrder refunded %v", paid.Status, refunded.Refunded)
	}
	reply2, err := be.ParsePaymentRequest(ctx, orders.PaymentRequest{UID: tag.UID, Content: tag.Content})
	must(err)
	order2, err := be.CreateOrder(ctx, orders.OrderRequest{Reply: reply2.ID, Payer: payer.ID, Amount: "1.00"})
	must(err)
	cancelled, err := be.CancelOrder(ctx, orders.CancelRequest{Order: order2.ID})
	must(err)
	if cancelled.Status != orders.OrderCancelled {
		t.Fatalf("CancelOrder = %+v", cancelled)
	}
	list, err := be.ListOrders(ctx, orders.OrderFilter{Payer: payer.ID, Status: orders.OrderPaid})
	must(err)
	if len(list) != 1 || list[0].ID != order.ID {
		t.Fatalf("ListOrders(paid) = %+v", list)
	}
	gotOrder, err := be.GetOrder(ctx, order.ID)
	must(err)
	same("GetOrder", gotOrder, refunded)

	// Devices, cards and tokens.
	oldDev, newDev := store.NewID(store.PrefixDevice), store.NewID(store.PrefixDevice)
	_, err = be.Login(ctx, cards.LoginRequest{Account: payer.ID, Device: oldDev, Name: "old phone"})
	must(err)
	card, err := be.AddCard(ctx, cards.AddCardRequest{Account: payer.ID, Label: "Visa", PAN: "4111111111111111", Device: oldDev})
	must(err)
	if card.PANLast4 != "1111" {
		t.Fatalf("AddCard = %+v", card)
	}
	act, err := be.ActivateCard(ctx, cards.ActivateRequest{Card: card.ID, Functions: []cards.Function{cards.FunctionNFC, cards.FunctionQR}})
	must(err)
	if len(act.Identifiers) != 2 {
		t.Fatalf("ActivateCard = %+v", act)
	}
	tok, err := be.GetToken(ctx, act.Identifiers[0].Number)
	must(err)
	same("GetToken by number", tok, act.Identifiers[0])
	suspended, err := be.ChangeToken(ctx, cards.TokenStatusRequest{Token: tok.ID, Action: cards.ActionSuspend, Reason: cards.ReasonLost})
	must(err)
	resumed, err := be.ChangeToken(ctx, cards.TokenStatusRequest{Token: tok.ID, Action: cards.ActionResume})
	must(err)
	if suspended.Status != cards.TokenSuspended || resumed.Status != cards.TokenActive {
		t.Fatalf("ChangeToken: %s then %s", suspended.Status, resumed.Status)
	}
	deactivated, err := be.DeactivateCard(ctx, cards.DeactivateRequest{Card: card.ID, Functions: []cards.Function{cards.FunctionQR}})
	must(err)
	if len(deactivated) != 1 || deactivated[0].Status != cards.TokenDeleted {
		t.Fatalf("DeactivateCard = %+v", deactivated)
	}
	_, err = be.Login(ctx, cards.LoginRequest{Account: payer.ID, Device: newDev, Name: "new phone"})
	must(err)
	logins, err := be.ListLogins(ctx, payer.ID)
	must(err)
	directLogins, err := local.ListLogins(ctx, payer.ID)
	must(err)
	same("ListLogins", logins, directLogins)
	mig, err := be.MigrateCard(ctx, cards.MigrateRequest{Account: payer.ID, From: oldDev, To: newDev})
	must(err)
	if mig.Card != card.ID || len(mig.Issued) != 1 || mig.Issued[0].Device != newDev {
		t.Fatalf("MigrateCard = %+v", mig)
	}
	out, err := be.Logout(ctx, cards.LogoutRequest{Account: payer.ID, Device: oldDev})
	must(err)
	if len(out) != 1 || out[0].LoggedIn {
		t.Fatalf("Logout = %+v", out)
	}
	cardsList, err := be.ListCards(ctx, payer.ID, store.Page{})
	must(err)
	gotCard, err := be.GetCard(ctx, card.ID)
	must(err)
	if len(cardsList) != 1 || gotCard.Device != newDev {
		t.Fatalf("ListCards = %+v, GetCard = %+v", cardsList, gotCard)
	}
	toks, err := be.ListTokens(ctx, card.ID, store.Page{})
	must(err)
	directToks, err := local.ListTokens(ctx, card.ID, store.Page{})
	must(err)
	same("ListTokens", toks, directToks)

	// Keys.
	k, err := be.CreateKey(ctx, store.CreateKeyRequest{Role: store.RolePayer, Account: payer.ID, IdempotencyKey: "payer-key"})
	must(err)
	if !strings.HasPrefix(k.Secret, store.SecretPrefix) {
		t.Fatalf("CreateKey secret %q", k.Secret)
	}
	replay, err := be.CreateKey(ctx, store.CreateKeyRequest{Role: store.RolePayer, Account: payer.ID, IdempotencyKey: "payer-key"})
	must(err)
	if replay.ID != k.ID || replay.Secret != "" {
		t.Fatalf("replayed CreateKey = %+v; want the same key without its secret", replay)
	}
	keys, err := be.ListKeys(ctx, store.Page{})
	must(err)
	if !slices.ContainsFunc(keys, func(x store.APIKey) bool { return x.ID == k.ID }) {
		t.Fatalf("ListKeys = %+v lacks %s", keys, k.ID)
	}
	rk, err := be.RevokeKey(ctx, k.ID)
	must(err)
	if rk.RevokedAt == nil {
		t.Fatalf("RevokeKey = %+v", rk)
	}
	v, err := be.Verify(ctx)
	must(err)
	if len(v) != 0 {
		t.Fatalf("Verify = %v", v)
	}
}

// TestClientErrorsMatchLocal makes failing calls both ways on one ledger: the client's
// error carries the local error's kind, code, message and parameter.
func TestClientErrorsMatchLocal(t *testing.T) {
	f := newFixture(t)
	w := f.buildWorld()
	ctx := context.Background()
	remote := f.client(f.admin)
	unknownAccount, unknownKey := store.NewID(store.PrefixAccount), store.NewID(store.PrefixKey)
	calls := []struct {
		name string
		call func(backend.Backend) error
	}{
		{"unknown account", func(b backend.Backend) error { _, err := b.GetAccount(ctx, unknownAccount); return err }},
		{"malformed account", func(b backend.Backend) error { _, err := b.GetAccount(ctx, "acct_nope"); return err }},
		{"bad currency", func(b backend.Backend) error {
			_, err := b.CreateAccount(ctx, store.CreateAccountRequest{Name: "x", Kind: store.AccountPerson, Currency: "XXXX"})
			return err
		}},
		{"insufficient funds", func(b backend.Backend) error {
			r, err := b.ParsePaymentRequest(ctx, orders.PaymentRequest{UID: w.tag1.UID, Content: w.tag1.Content})
			if err != nil {
				return err
			}
			o, err := b.CreateOrder(ctx, orders.OrderRequest{Reply: r.ID, Payer: w.payer1.ID, Amount: "1000.00"})
			if err != nil {
				return err
			}
			_, err = b.PayOrder(ctx, orders.PayRequest{Order: o.ID})
			return err
		}},
		{"tap without funds", func(b backend.Backend) error {
			_, err := b.Tap(ctx, orders.TapRequest{UID: w.tag1.UID, Content: w.tag1.Content, Payer: w.payer1.ID, Amount: "1000.00"})
			return err
		}},
		{"tap with a journal-sized limit", func(b backend.Backend) error {
			_, err := b.Journal(ctx, store.Page{Limit: store.MaxLimit + 1})
			return err
		}},
		{"clone", func(b backend.Backend) error {
			_, err := b.ParsePaymentRequest(ctx, orders.PaymentRequest{UID: "04000000000001", Content: w.tag1.Content})
			return err
		}},
		{"paid order cancelled", func(b backend.Backend) error {
			_, err := b.CancelOrder(ctx, orders.CancelRequest{Order: w.paid1.ID})
			return err
		}},
		{"unknown tag", func(b backend.Backend) error { _, err := b.GetTag(ctx, "nosuchref"); return err }},
		{"unknown token action", func(b backend.Backend) error {
			_, err := b.ChangeToken(ctx, cards.TokenStatusRequest{Token: w.token2.ID, Action: "explode"})
			return err
		}},
		{"bad device", func(b backend.Backend) error {
			_, err := b.Login(ctx, cards.LoginRequest{Account: w.payer1.ID, Device: "my phone"})
			return err
		}},
		{"unknown key", func(b backend.Backend) error { _, err := b.RevokeKey(ctx, unknownKey); return err }},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			lerr := tt.call(f.local)
			rerr := tt.call(remote)
			var le, re *store.Error
			if !errors.As(lerr, &le) || !errors.As(rerr, &re) {
				t.Fatalf("local %v, remote %v: want store errors both", lerr, rerr)
			}
			if le.Kind != re.Kind || le.Code != re.Code || le.Param != re.Param || lerr.Error() != rerr.Error() {
				t.Fatalf("local  %s %s %q %q\nremote %s %s %q %q", le.Kind, le.Code, le.Param, lerr, re.Kind, re.Code, re.Param, rerr)
			}
		})
	}
}

func TestClientUnreachableServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	_, err = NewClient(url, "tpk_x").ListAccounts(context.Background(), store.Page{})
	if store.KindOf(err) != store.KindUnavailable || !strings.Contains(err.Error(), url) {
		t.Fatalf("unreachable server: %v (kind %s); want unavailable naming %s", err, store.KindOf(err), url)
	}
}

func TestClientBadURL(t *testing.T) {
	for _, u := range []string{"", "localhost:7433", "ftp://host", "http://"} {
		_, err := NewClient(u, "").ListAccounts(context.Background(), store.Page{})
		if store.CodeOf(err) != "invalid_server_url" {
			t.Errorf("NewClient(%q): %v, want invalid_server_url", u, err)
		}
	}
}

func TestClientReadsForeignErrors(t *testing.T) {
	tests := []struct {
		status int
		kind   store.Kind
	}{
		{http.StatusBadGateway, store.KindUnavailable},
		{http.StatusForbidden, store.KindForbidden},
		{http.StatusTeapot, store.KindInternal},
	}
	for _, tt := range tests {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "proxy says no", tt.status)
		})}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		_, err = NewClient("http://"+ln.Addr().String(), "").ListAccounts(context.Background(), store.Page{})
		srv.Close()
		if store.KindOf(err) != tt.kind {
			t.Errorf("status %d: %v (kind %s), want %s", tt.status, err, store.KindOf(err), tt.kind)
		}
	}
}
