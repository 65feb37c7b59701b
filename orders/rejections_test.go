package orders

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tagpay/tagpay/store"
)

// world is a ledger with a merchant, a funded payer and tags in every state.
type world struct {
	*fixture
	shop, alice, usd store.Account
	active, fixed    Tag
	revoked, pending Tag
	failed           Tag
}

func newWorld(t *testing.T) *world {
	f := newFixture(t)
	w := &world{fixture: f}
	w.shop = f.account("Shop", store.AccountMerchant, "EUR")
	w.alice = f.person("Alice", "50.00")
	w.usd = f.account("Dollar Dan", store.AccountPerson, "USD")
	f.fund(w.usd.ID, "50.00")
	w.active = f.register(RegisterRequest{UID: "04000000000001", Merchant: w.shop.ID})
	w.fixed = f.register(RegisterRequest{UID: "04000000000002", Merchant: w.shop.ID, Amount: "4.20"})
	w.revoked = f.register(RegisterRequest{UID: "04000000000003", Merchant: w.shop.ID})
	w.pending = f.register(RegisterRequest{UID: "04000000000004", Merchant: w.shop.ID, Pending: true})
	w.failed = f.register(RegisterRequest{UID: "04000000000005", Merchant: w.shop.ID, Pending: true})
	var err error
	if w.revoked, err = f.svc.RevokeTag(f.ctx, TagStateRequest{Tag: w.revoked.Ref, Reason: "sticker torn"}); err != nil {
		t.Fatal(err)
	}
	if w.failed, err = f.svc.FailTag(f.ctx, TagStateRequest{Tag: w.failed.ID, Reason: "write interrupted"}); err != nil {
		t.Fatal(err)
	}
	return w
}

// declines runs step and checks it is refused with the code and words, and that the
// ledger is exactly as before, balances included, and still verifies.
func (w *world) declines(t *testing.T, kind store.Kind, code, words string, step func() error) {
	t.Helper()
	before := w.snapshot()
	balances := map[string]int64{}
	for _, a := range []store.Account{w.shop, w.alice, w.usd} {
		balances[a.ID] = w.balance(a.ID)
	}
	wantError(t, step(), kind, code, words)
	w.unchanged(before)
	for id, b := range balances {
		if got := w.balance(id); got != b {
			t.Errorf("balance of %s moved from %d to %d", id, b, got)
		}
	}
	w.verifyClean()
}

func withRef(content, ref string) string {
	c, _ := ParseContent(content)
	c.Ref = ref
	return c.String()
}

func TestParseRejections(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name        string
		uid         string
		content     string
		kind        store.Kind
		code, words string
	}{
		{"unknown reference", w.active.UID, withRef(w.active.Content, "ZZZZZZZZZZ"), store.KindDeclined, "tag_not_registered", "tag not registered"},
		{"content copied to another chip", "04AAAAAAAAAAAA", w.active.Content, store.KindDeclined, "possible_clone", "content does not match this tag (possible clone)"},
		{"content copied to a 4-byte chip", "DEADBEEF", w.active.Content, store.KindDeclined, "possible_clone", "possible clone"},
		{"MAC edited", w.active.UID, w.active.Content[:len(w.active.Content)-1] + flip(w.active.Content[len(w.active.Content)-1]), store.KindDeclined, "content_altered", "content altered (MAC check failed)"},
		{"MAC of another tag", w.active.UID, w.active.Content[:strings.Index(w.active.Content, "?")] + w.fixed.Content[strings.Index(w.fixed.Content, "?"):], store.KindDeclined, "content_altered", "content altered (MAC check failed)"},
		{"host edited", w.active.UID, strings.Replace(w.active.Content, "pay.test", "pay.tesu", 1), store.KindDeclined, "content_altered", "content altered (MAC check failed)"},
		{"static content as SUN", w.active.UID, strings.Replace(w.active.Content, "/t/", "/s/", 1), store.KindDeclined, "content_malformed", "SUN parameter"},
		{"revoked", w.revoked.UID, w.revoked.Content, store.KindDeclined, "tag_revoked", "tag revoked: sticker torn"},
		{"pending", w.pending.UID, w.pending.Content, store.KindDeclined, "tag_not_active", "pending"},
		{"failed", w.failed.UID, w.failed.Content, store.KindDeclined, "tag_not_active", "failed (write interrupted)"},
		{"empty content", w.active.UID, "", store.KindDeclined, "content_malformed", "content is empty"},
		{"not a URL", w.active.UID, "hello world", store.KindDeclined, "content_malformed", "not a printable ASCII"},
		{"foreign URL", w.active.UID, "https://example.com/menu?x=1", store.KindDeclined, "content_malformed", "/t/<ref>"},
		{"no query", w.active.UID, strings.Split(w.active.Content, "?")[0], store.KindDeclined, "content_malformed", "no query"},
		{"malformed UID", "04ZZ", w.active.Content, store.KindInvalid, "invalid_uid", "not 4, 7 or 10 bytes"},
		{"5-byte UID", "0102030405", w.active.Content, store.KindInvalid, "invalid_uid", "not 4, 7 or 10 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.declines(t, tt.kind, tt.code, tt.words, func() error {
				_, err := w.svc.ParsePaymentRequest(w.ctx, PaymentRequest{UID: tt.uid, Content: tt.content, IdempotencyKey: "parse-" + strings.ReplaceAll(tt.name, " ", "-")})
				return err
			})
		})
	}
	// Nothing above consumed anything: the genuine tag still parses.
	w.parse(w.active.UID, w.active.Content)
}

// flip changes a lower-case hex digit into another one.
func flip(b byte) string {
	if b == '0' {
		return "1"
	}
	return "0"
}

func TestCreateOrderRejections(t *testing.T) {
	w := newWorld(t)
	other := w.account("Other Shop", store.AccountMerchant, "EUR")
	merchantKey := store.WithActor(context.Background(), store.Actor{ID: "key_m", Role: store.RoleMerchant, Accounts: []string{w.shop.ID}})
	payerKey := store.WithActor(context.Background(), store.Actor{ID: "key_p", Role: store.RolePayer, Accounts: []string{w.usd.ID}})

	expired := w.parse(w.active.UID, w.active.Content)
	w.clock.advance(time.Minute)
	used := w.parse(w.active.UID, w.active.Content)
	if _, err := w.svc.CreateOrder(w.ctx, OrderRequest{Reply: used.ID, Payer: w.alice.ID, Amount: "1.00"}); err != nil {
		t.Fatal(err)
	}
	free := w.parse(w.active.UID, w.active.Content)
	fixed := w.parse(w.fixed.UID, w.fixed.Content)
	parseAs := func(ctx context.Context) ParsingReply {
		t.Helper()
		r, err := w.svc.ParsePaymentRequest(ctx, PaymentRequest{UID: w.active.UID, Content: w.active.Content})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	merchantsReply, payersReply := parseAs(merchantKey), parseAs(payerKey)
	soonRevoked := w.register(RegisterRequest{UID: "04000000000006", Merchant: w.shop.ID})
	revokedSince := w.parse(soonRevoked.UID, soonRevoked.Content)
	if _, err := w.svc.RevokeTag(w.ctx, TagStateRequest{Tag: soonRevoked.ID}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name        string
		ctx         context.Context
		req         OrderRequest
		kind        store.Kind
		code, words string
	}{
		{"expired reply", nil, OrderRequest{Reply: expired.ID, Payer: w.alice.ID, Amount: "1.00"}, store.KindDeclined, "reply_expired", "expired"},
		{"used reply", nil, OrderRequest{Reply: used.ID, Payer: w.alice.ID, Amount: "1.00"}, store.KindDeclined, "reply_used", "already used"},
		{"unknown reply", nil, OrderRequest{Reply: store.NewID(store.PrefixReply), Payer: w.alice.ID, Amount: "1.00"}, store.KindNotFound, "reply_not_found", "not found"},
		{"garbage reply id", nil, OrderRequest{Reply: "../../etc", Payer: w.alice.ID, Amount: "1.00"}, store.KindNotFound, "reply_not_found", "not found"},
		{"payer is the payee", nil, OrderRequest{Reply: free.ID, Payer: w.shop.ID, Amount: "1.00"}, store.KindDeclined, "payer_is_payee", "payee"},
		{"payer is a merchant", nil, OrderRequest{Reply: free.ID, Payer: other.ID, Amount: "1.00"}, store.KindInvalid, "invalid_payer", "person accounts"},
		{"unknown payer", nil, OrderRequest{Reply: free.ID, Payer: store.NewID(store.PrefixAccount), Amount: "1.00"}, store.KindNotFound, "account_not_found", "not found"},
		{"reply of another caller", merchantKey, OrderRequest{Reply: free.ID, Payer: w.alice.ID, Amount: "1.00"}, store.KindNotFound, "reply_not_found", "not found"},
		{"payer not the actor's", merchantKey, OrderRequest{Reply: merchantsReply.ID, Payer: w.alice.ID, Amount: "1.00"}, store.KindForbidden, "forbidden", "may not act"},
		{"payer in another currency", payerKey, OrderRequest{Reply: payersReply.ID, Payer: w.usd.ID, Amount: "1.00"}, store.KindDeclined, "currency_mismatch", "USD"},
		{"amount in another currency", nil, OrderRequest{Reply: free.ID, Payer: w.alice.ID, Amount: "1.00 USD"}, store.KindDeclined, "currency_mismatch", "EUR"},
		{"amount missing", nil, OrderRequest{Reply: free.ID, Payer: w.alice.ID}, store.KindInvalid, "amount_required", "no fixed amount"},
		{"amount malformed", nil, OrderRequest{Reply: free.ID, Payer: w.alice.ID, Amount: "1.005"}, store.KindInvalid, "invalid_amount", "decimals"},
		{"amount negative", nil, OrderRequest{Reply: free.ID, Payer: w.alice.ID, Amount: "-1"}, store.KindInvalid, "invalid_amount", "positive"},
		{"fixed amount differs", nil, OrderRequest{Reply: fixed.ID, Payer: w.alice.ID, Amount: "4.00"}, store.KindDeclined, "amount_mismatch", "fixed 4.20 EUR"},
		{"tag revoked since the reply", nil, OrderRequest{Reply: revokedSince.ID, Payer: w.alice.ID, Amount: "1.00"}, store.KindDeclined, "tag_revoked", "tag revoked"},
		{"memo too long", nil, OrderRequest{Reply: free.ID, Payer: w.alice.ID, Amount: "1.00", Memo: strings.Repeat("x", 141)}, store.KindInvalid, "invalid_memo", "at most 140"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = w.ctx
			}
			w.declines(t, tt.kind, tt.code, tt.words, func() error {
				tt.req.IdempotencyKey = "create-" + strings.ReplaceAll(tt.name, " ", "-")
				_, err := w.svc.CreateOrder(ctx, tt.req)
				return err
			})
		})
	}
	// The free reply was never used by the refusals above.
	if _, err := w.svc.CreateOrder(w.ctx, OrderRequest{Reply: free.ID, Payer: w.alice.ID, Amount: "1.00"}); err != nil {
		t.Fatal(err)
	}
}

func TestPayRejections(t *testing.T) {
	w := newWorld(t)
	merchantKey := store.WithActor(context.Background(), store.Actor{ID: "key_m", Role: store.RoleMerchant, Accounts: []string{w.shop.ID}})

	big := w.order(w.active, w.alice.ID, "80.00")
	w.declines(t, store.KindDeclined, "insufficient_funds", "insufficient funds", func() error {
		_, err := w.svc.PayOrder(w.ctx, PayRequest{Order: big.ID, IdempotencyKey: "pay-big"})
		return err
	})
	w.declines(t, store.KindForbidden, "forbidden", "may not act", func() error {
		_, err := w.svc.PayOrder(merchantKey, PayRequest{Order: big.ID})
		return err
	})
	w.declines(t, store.KindNotFound, "order_not_found", "not found", func() error {
		_, err := w.svc.PayOrder(w.ctx, PayRequest{Order: store.NewID(store.PrefixOrder)})
		return err
	})
	// The declined order stays payable: after a top-up it goes through, with the same key.
	w.fund(w.alice.ID, "30.00")
	paid, err := w.svc.PayOrder(w.ctx, PayRequest{Order: big.ID, IdempotencyKey: "pay-big"})
	if err != nil || paid.Status != OrderPaid {
		t.Fatalf("pay after top-up: %+v, %v", paid, err)
	}
	if got := w.balance(w.alice.ID); got != 0 {
		t.Fatalf("payer balance %d, want 0", got)
	}
	w.verifyClean()
}

func TestDoublePayment(t *testing.T) {
	w := newWorld(t)
	o := w.order(w.active, w.alice.ID, "5.00")
	first, err := w.svc.PayOrder(w.ctx, PayRequest{Order: o.ID, IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}

	// The same key again is a replay: the stored result, no second transfer.
	before := w.snapshot()
	again, err := w.svc.PayOrder(w.ctx, PayRequest{Order: o.ID, IdempotencyKey: "k1"})
	if err != nil || again.Transfer != first.Transfer || again.Status != OrderPaid {
		t.Fatalf("replay: %+v, %v", again, err)
	}
	w.unchanged(before)

	// Another key is a second payment: the order is in the wrong state, a conflict.
	w.declines(t, store.KindConflict, "order_not_payable", "is paid", func() error {
		_, err := w.svc.PayOrder(w.ctx, PayRequest{Order: o.ID, IdempotencyKey: "k2"})
		return err
	})
	// The first key with other parameters is a conflict.
	w.declines(t, store.KindConflict, "idempotency_key_reused", "different parameters", func() error {
		_, err := w.svc.PayOrder(w.ctx, PayRequest{Order: o.ID, PaymentToken: "tok", IdempotencyKey: "k1"})
		return err
	})
	if got := w.balance(w.alice.ID); got != 4500 {
		t.Fatalf("payer balance %d, want 4500 (paid once)", got)
	}
	var payments int
	err = w.db.View(w.ctx, func(tx *store.Tx) error {
		return store.Each(tx, store.BucketTransfers, "", false, func(_ string, tr store.Transfer) error {
			if tr.Ref == o.ID {
				payments++
			}
			return nil
		})
	})
	if err != nil || payments != 1 {
		t.Fatalf("%d transfers for the order, want 1 (%v)", payments, err)
	}
}

func TestRefundRejections(t *testing.T) {
	w := newWorld(t)
	payerKey := store.WithActor(context.Background(), store.Actor{ID: "key_p", Role: store.RolePayer, Accounts: []string{w.alice.ID}})
	merchantKey := store.WithActor(context.Background(), store.Actor{ID: "key_m", Role: store.RoleMerchant, Accounts: []string{w.shop.ID}})
	unpaid := w.order(w.active, w.alice.ID, "2.00")
	paid := w.pay(w.order(w.active, w.alice.ID, "10.00"))

	tests := []struct {
		name        string
		ctx         context.Context
		req         RefundRequest
		kind        store.Kind
		code, words string
	}{
		{"more than paid", nil, RefundRequest{Order: paid.ID, Amount: "10.01"}, store.KindDeclined, "refund_exceeds_payment", "exceeds"},
		{"unpaid order", nil, RefundRequest{Order: unpaid.ID}, store.KindConflict, "order_not_refundable", "is created"},
		{"payer refunds itself", payerKey, RefundRequest{Order: paid.ID, Amount: "1.00"}, store.KindForbidden, "forbidden", "may not act"},
		{"amount malformed", nil, RefundRequest{Order: paid.ID, Amount: "ten"}, store.KindInvalid, "invalid_amount", "not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = w.ctx
			}
			w.declines(t, tt.kind, tt.code, tt.words, func() error {
				_, err := w.svc.RefundOrder(ctx, tt.req)
				return err
			})
		})
	}

	// The merchant's own key refunds; a partial refund leaves less to refund.
	part, err := w.svc.RefundOrder(merchantKey, RefundRequest{Order: paid.ID, Amount: "6.00"})
	if err != nil || part.Refunded.Amount != 600 {
		t.Fatalf("partial refund: %+v, %v", part, err)
	}
	w.declines(t, store.KindDeclined, "refund_exceeds_payment", "4.00 EUR left", func() error {
		_, err := w.svc.RefundOrder(w.ctx, RefundRequest{Order: paid.ID, Amount: "4.01"})
		return err
	})
	full, err := w.svc.RefundOrder(merchantKey, RefundRequest{Order: paid.ID, Amount: "4.00"})
	if err != nil || full.Status != OrderRefunded {
		t.Fatalf("last refund: %+v, %v", full, err)
	}
	w.declines(t, store.KindConflict, "order_not_refundable", "is refunded", func() error {
		_, err := w.svc.RefundOrder(w.ctx, RefundRequest{Order: paid.ID, Amount: "0.01"})
		return err
	})
}
