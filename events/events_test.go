package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/events"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

func open(t *testing.T) *backend.Local {
	t.Helper()
	l, err := backend.OpenLocal(filepath.Join(t.TempDir(), "ledger.db"), backend.LocalOptions{Store: store.Options{NoSync: true, KeysPath: filepath.Join(t.TempDir(), "keys.json")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// since returns the events written since `after`, oldest first.
func since(t *testing.T, l *backend.Local, after string) []events.Event {
	t.Helper()
	q := events.Query{Since: after, Limit: events.MaxLimit}
	if after == "" {
		q.Since = store.IDFloor(store.PrefixEvent, time.Unix(0, 0))
	}
	evs, err := l.ListEvents(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestEveryTypeIsWrittenWithItsChange runs each state change once and checks that it
// wrote exactly its event, about its object, for its accounts, carrying the object.
func TestEveryTypeIsWrittenWithItsChange(t *testing.T) {
	ctx := context.Background()
	l := open(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	last := ""
	seen := map[string]bool{}
	expect := func(typ, subject string, accounts ...string) events.Event {
		t.Helper()
		evs := since(t, l, last)
		if len(evs) != 1 {
			var types []string
			for _, e := range evs {
				types = append(types, e.Type)
			}
			t.Fatalf("want one %s event, got %v", typ, types)
		}
		e := evs[0]
		last = e.ID
		if e.Type != typ || e.Subject != subject {
			t.Fatalf("event %s about %s, want %s about %s", e.Type, e.Subject, typ, subject)
		}
		slices.Sort(accounts)
		got := slices.Sorted(slices.Values(e.Accounts))
		if !slices.Equal(got, accounts) {
			t.Fatalf("%s concerns %v, want %v", typ, got, accounts)
		}
		var obj map[string]any
		if err := json.Unmarshal(e.Data, &obj); err != nil || len(obj) == 0 {
			t.Fatalf("%s carries %s: %v", typ, e.Data, err)
		}
		seen[typ] = true
		return e
	}
	merchant, err := l.CreateAccount(ctx, store.CreateAccountRequest{Name: "Cafe", Kind: store.AccountMerchant, Currency: "EUR"})
	must(err)
	payer, err := l.CreateAccount(ctx, store.CreateAccountRequest{Name: "Ada", Kind: store.AccountPerson, Currency: "EUR"})
	must(err)
	if evs := since(t, l, ""); len(evs) != 0 {
		t.Fatalf("creating accounts wrote %d events", len(evs))
	}
	_, err = l.FundAccount(ctx, store.FundRequest{Account: payer.ID, Amount: "100.00"})
	must(err)
	expect(events.AccountFunded, payer.ID, payer.ID)

	tag, err := l.RegisterTag(ctx, orders.RegisterRequest{UID: "04515CFA6F7381", Merchant: merchant.ID, Pending: true})
	must(err)
	expect(events.TagRegistered, tag.ID, merchant.ID)
	tag, err = l.ConfirmTag(ctx, orders.ConfirmRequest{Tag: tag.ID, UID: tag.UID, Content: tag.Content})
	must(err)
	e := expect(events.TagProvisioned, tag.ID, merchant.ID)
	if !strings.Contains(string(e.Data), `"status":"active"`) {
		t.Fatalf("tag.provisioned carries %s", e.Data)
	}
	bad, err := l.RegisterTag(ctx, orders.RegisterRequest{UID: "04515CFA6F7382", Merchant: merchant.ID, Pending: true})
	must(err)
	expect(events.TagRegistered, bad.ID, merchant.ID)
	_, err = l.FailTag(ctx, orders.TagStateRequest{Tag: bad.ID, Reason: "write failed"})
	must(err)
	expect(events.TagFailed, bad.ID, merchant.ID)

	r, err := l.ParsePaymentRequest(ctx, orders.PaymentRequest{UID: tag.UID, Content: tag.Content})
	must(err)
	o, err := l.CreateOrder(ctx, orders.OrderRequest{Reply: r.ID, Payer: payer.ID, Amount: "5.00"})
	must(err)
	expect(events.OrderCreated, o.ID, payer.ID, merchant.ID)
	_, err = l.PayOrder(ctx, orders.PayRequest{Order: o.ID})
	must(err)
	expect(events.OrderPaid, o.ID, payer.ID, merchant.ID)
	_, err = l.RefundOrder(ctx, orders.RefundRequest{Order: o.ID, Amount: "1.00"})
	must(err)
	expect(events.OrderRefunded, o.ID, payer.ID, merchant.ID)
	r, err = l.ParsePaymentRequest(ctx, orders.PaymentRequest{UID: tag.UID, Content: tag.Content})
	must(err)
	o2, err := l.CreateOrder(ctx, orders.OrderRequest{Reply: r.ID, Payer: payer.ID, Amount: "2.00"})
	must(err)
	expect(events.OrderCreated, o2.ID, payer.ID, merchant.ID)
	_, err = l.CancelOrder(ctx, orders.CancelRequest{Order: o2.ID})
	must(err)
	expect(events.OrderCancelled, o2.ID, payer.ID, merchant.ID)

	// A tap that pays: one order.paid carrying the order.
	rc, err := l.Tap(ctx, orders.TapRequest{UID: tag.UID, Content: tag.Content, Payer: payer.ID, Amount: "3.00"})
	must(err)
	e = expect(events.OrderPaid, rc.Order.ID, payer.ID, merchant.ID)
	var paid orders.Order
	if err := json.Unmarshal(e.Data, &paid); err != nil || paid.Status != orders.OrderPaid || paid.ID != rc.Order.ID {
		t.Fatalf("the tap's order.paid carries %s", e.Data)
	}
	// A declined tap writes nothing.
	if _, err := l.Tap(ctx, orders.TapRequest{UID: tag.UID, Content: tag.Content, Payer: payer.ID, Amount: "1000.00"}); store.KindOf(err) != store.KindDeclined {
		t.Fatalf("tap beyond the balance: %v", err)
	}
	if evs := since(t, l, last); len(evs) != 0 {
		t.Fatalf("a declined tap wrote %s", evs[0].Type)
	}

	dev1, dev2 := store.NewID(store.PrefixDevice), store.NewID(store.PrefixDevice)
	for _, d := range []string{dev1, dev2} {
		_, err := l.Login(ctx, cards.LoginRequest{Account: payer.ID, Device: d})
		must(err)
	}
	card, err := l.AddCard(ctx, cards.AddCardRequest{Account: payer.ID, Label: "debit", Device: dev1})
	must(err)
	act, err := l.ActivateCard(ctx, cards.ActivateRequest{Card: card.ID, Functions: []cards.Function{cards.FunctionNFC}})
	must(err)
	e = expect(events.CardActivated, card.ID, payer.ID)
	number := act.Identifiers[0].Number
	if strings.Contains(string(e.Data), number) || !strings.Contains(string(e.Data), number[len(number)-4:]) {
		t.Fatalf("card.activated shows the token number: %s", e.Data)
	}
	tok := act.Identifiers[0].ID
	for _, c := range []struct {
		action cards.TokenAction
		typ    string
	}{{cards.ActionSuspend, events.TokenSuspended}, {cards.ActionResume, events.TokenResumed}} {
		_, err := l.ChangeToken(ctx, cards.TokenStatusRequest{Token: tok, Action: c.action, Reason: cards.ReasonLost})
		must(err)
		e := expect(c.typ, tok, payer.ID)
		if strings.Contains(string(e.Data), number) {
			t.Fatalf("%s shows the token number: %s", c.typ, e.Data)
		}
	}
	m, err := l.MigrateCard(ctx, cards.MigrateRequest{Account: payer.ID, From: dev1, To: dev2})
	must(err)
	expect(events.CardMigrated, card.ID, payer.ID)
	_, err = l.ChangeToken(ctx, cards.TokenStatusRequest{Token: m.Issued[0].ID, Action: cards.ActionDelete, Reason: cards.ReasonLost})
	must(err)
	expect(events.TokenDeleted, m.Issued[0].ID, payer.ID)

	_, err = l.RevokeTag(ctx, orders.TagStateRequest{Tag: tag.ID, Reason: "lost"})
	must(err)
	expect(events.TagRevoked, tag.ID, merchant.ID)

	for _, typ := range events.Types {
		if !seen[typ] {
			t.Errorf("no change wrote a %s event", typ)
		}
	}
	// A replay of an idempotent request writes no second event.
	_, err = l.FundAccount(ctx, store.FundRequest{Account: payer.ID, Amount: "1.00", IdempotencyKey: "k1"})
	must(err)
	expect(events.AccountFunded, payer.ID, payer.ID)
	_, err = l.FundAccount(ctx, store.FundRequest{Account: payer.ID, Amount: "1.00", IdempotencyKey: "k1"})
	must(err)
	if evs := since(t, l, last); len(evs) != 0 {
		t.Fatalf("a replay wrote %s", evs[0].Type)
	}
}

// TestFailedTransactionWritesNoEvent: an event and its outbox entry are part of the
// transaction that emits them, so a transaction that fails after emitting leaves neither.
// The entry is written only while a webhook endpoint exists.
func TestFailedTransactionWritesNoEvent(t *testing.T) {
	ctx := context.Background()
	l := open(t)
	boom := errors.New("boom")
	err := l.DB.Update(ctx, func(tx *store.Tx) error {
		if err := tx.Emit(events.OrderPaid, "ord_x", map[string]string{"id": "ord_x"}, "acct_a"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update: %v", err)
	}
	err = l.DB.View(ctx, func(tx *store.Tx) error {
		for _, b := range []store.Bucket{store.BucketEvents, store.BucketOutbox} {
			n := 0
			if err := tx.ForEach(b, "", false, func(string, []byte) error { n++; return nil }); err != nil {
				return err
			}
			if n != 0 {
				t.Errorf("bucket %s holds %d records after a failed transaction", b, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The same emit in a transaction that commits is there. Its outbox entry is there
	// only while a webhook endpoint exists: without one, nothing would deliver it.
	emit := func() {
		err := l.DB.Update(ctx, func(tx *store.Tx) error {
			return tx.Emit(events.OrderPaid, "ord_x", map[string]string{"id": "ord_x"}, "acct_a", "", "acct_a")
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	emit()
	err = l.DB.Update(ctx, func(tx *store.Tx) error {
		return tx.PutRaw(store.BucketWebhooks, "whk_x", []byte(`{"id":"whk_x"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	emit()
	evs := since(t, l, "")
	if len(evs) != 2 || !slices.Equal(evs[0].Accounts, []string{"acct_a"}) {
		t.Fatalf("events %+v", evs)
	}
	l.DB.View(ctx, func(tx *store.Tx) error {
		if tx.GetRaw(store.BucketOutbox, evs[0].ID) != nil {
			t.Error("an event made while no endpoint existed is queued for webhooks")
		}
		if tx.GetRaw(store.BucketOutbox, evs[1].ID) == nil {
			t.Error("a committed event has no outbox entry while an endpoint exists")
		}
		return nil
	})
}

func TestRolesSeeTheEventsOfWhatTheyOwn(t *testing.T) {
	ctx := context.Background()
	l := open(t)
	for _, acct := range []string{"acct_a", "acct_b", "acct_a"} {
		err := l.DB.Update(ctx, func(tx *store.Tx) error {
			return tx.Emit(events.AccountFunded, acct, map[string]string{"id": acct}, acct)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	all := since(t, l, "")
	as := store.WithActor(ctx, store.Actor{ID: "key_a", Role: store.RolePayer, Accounts: []string{"acct_a"}})
	got, err := l.ListEvents(as, events.Query{})
	if err != nil || len(got) != 2 {
		t.Fatalf("payer of acct_a sees %d events: %v", len(got), err)
	}
	for _, e := range all {
		_, err := l.GetEvent(as, e.ID)
		if mine := e.Accounts[0] == "acct_a"; mine != (err == nil) {
			t.Errorf("payer of acct_a shows %s of %v: %v", e.ID, e.Accounts, err)
		}
	}
	if got, _ := l.ListEvents(store.WithActor(ctx, store.Actor{ID: "key_c", Role: store.RoleMerchant, Accounts: []string{"acct_c"}}), events.Query{}); len(got) != 0 {
		t.Errorf("an owner of nothing here sees %d events", len(got))
	}
}
