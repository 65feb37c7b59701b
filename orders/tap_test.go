package orders

import (
	"strings"
	"testing"

	"github.com/tagpay/tagpay/store"
)

func TestTapPaysInOneTransaction(t *testing.T) {
	w := newWorld(t)
	r, err := w.svc.Tap(w.ctx, TapRequest{UID: w.active.UID, Content: w.active.Content, Payer: w.alice.ID, Amount: "3.50", Memo: "coffee"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Order.Status != OrderPaid || r.Order.Reply != r.Reply.ID || r.Order.Transfer != r.Transfer.ID {
		t.Fatalf("receipt does not tie its steps together: %+v", r)
	}
	if !r.Reply.Used || r.Reply.Payee != w.shop.ID || r.Request.UID != w.active.UID {
		t.Fatalf("parsing reply %+v, request %+v", r.Reply, r.Request)
	}
	if r.Transfer.Amount != (store.Money{Amount: 350, Currency: "EUR"}) || r.Transfer.From != w.alice.ID || r.Transfer.To != w.shop.ID {
		t.Fatalf("transfer %+v", r.Transfer)
	}
	// Every step is a record of its own, as the flow names them, and the records of one
	// tap share their ids' body: rep_X, ord_X, tr_X.
	if got, err := w.svc.GetOrder(w.ctx, r.Order.ID); err != nil || got.Status != OrderPaid || got.Memo != "coffee" || got.Amount != r.Order.Amount {
		t.Fatalf("order as stored: %+v, %v", got, err)
	}
	body := strings.TrimPrefix(r.Order.ID, "ord_")
	if r.Reply.ID != "rep_"+body || r.Transfer.ID != "tr_"+body {
		t.Errorf("the tap's reply %s and transfer %s do not share the body of order %s", r.Reply.ID, r.Transfer.ID, r.Order.ID)
	}
	if got := w.balance(w.alice.ID); got != 5000-350 {
		t.Fatalf("payer balance %d", got)
	}
	w.verifyClean()
}

func TestDeclinedTapWritesNothing(t *testing.T) {
	w := newWorld(t)
	poor := w.person("Poor Paul", "1.00")
	for _, tt := range []struct {
		name        string
		req         TapRequest
		kind        store.Kind
		code, words string
	}{
		{"insufficient funds", TapRequest{UID: w.active.UID, Content: w.active.Content, Payer: poor.ID, Amount: "3.50"}, store.KindDeclined, "insufficient_funds", "insufficient funds"},
		{"revoked tag", TapRequest{UID: w.revoked.UID, Content: w.revoked.Content, Payer: w.alice.ID, Amount: "1.00"}, store.KindDeclined, "tag_revoked", "sticker torn"},
		{"clone", TapRequest{UID: "04000000000009", Content: w.active.Content, Payer: w.alice.ID, Amount: "1.00"}, store.KindDeclined, "possible_clone", "possible clone"},
		{"fixed amount differs", TapRequest{UID: w.fixed.UID, Content: w.fixed.Content, Payer: w.alice.ID, Amount: "1.00"}, store.KindDeclined, "amount_mismatch", "fixed 4.20 EUR"},
		{"payer in another currency", TapRequest{UID: w.active.UID, Content: w.active.Content, Payer: w.usd.ID, Amount: "1.00"}, store.KindDeclined, "currency_mismatch", "USD"},
		{"payer is the payee", TapRequest{UID: w.active.UID, Content: w.active.Content, Payer: w.shop.ID, Amount: "1.00"}, store.KindDeclined, "payer_is_payee", "payee"},
		{"unknown payment token", TapRequest{UID: w.active.UID, Content: w.active.Content, Payer: w.alice.ID, Amount: "1.00", PaymentToken: "4000000000000002", Device: "phone-1"}, store.KindDeclined, "token_not_found", "not known"},
		{"with an idempotency key", TapRequest{UID: w.active.UID, Content: w.active.Content, Payer: poor.ID, Amount: "3.50", IdempotencyKey: "tap-1"}, store.KindDeclined, "insufficient_funds", "insufficient funds"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w.declines(t, tt.kind, tt.code, tt.words, func() error {
				_, err := w.svc.Tap(w.ctx, tt.req)
				return err
			})
		})
	}
}

func TestDeclinedSUNTapLeavesTheCounter(t *testing.T) {
	w := newWorld(t)
	uid := "04DE5F1EACC041"
	tag := w.register(RegisterRequest{UID: uid, Merchant: w.shop.ID, SUN: true, MetaKey: metaKeyHex, FileKey: fileKeyHex})
	poor := w.person("Poor Paul", "0.50")
	url := tap(t, tag, uid, 7, metaKeyHex, fileKeyHex, false)
	if _, err := w.svc.Tap(w.ctx, TapRequest{UID: uid, Content: url, Payer: poor.ID, Amount: "1.00"}); store.CodeOf(err) != "insufficient_funds" {
		t.Fatalf("tap by a payer without funds: %v", err)
	}
	// The declined tap consumed nothing: the same URL pays for a payer who can.
	if _, err := w.svc.Tap(w.ctx, TapRequest{UID: uid, Content: url, Payer: w.alice.ID, Amount: "1.00"}); err != nil {
		t.Fatalf("the same SUN URL after a declined tap: %v", err)
	}
	_, err := w.svc.Tap(w.ctx, TapRequest{UID: uid, Content: url, Payer: w.alice.ID, Amount: "1.00"})
	wantError(t, err, store.KindDeclined, "sun_replayed", "SUN counter replayed")
	w.verifyClean()
}

func TestTapIdempotencyComparesTheAmountNotItsSpelling(t *testing.T) {
	w := newWorld(t)
	req := TapRequest{UID: w.active.UID, Content: w.active.Content, Payer: w.alice.ID, Amount: "5", IdempotencyKey: "tap-5"}
	first, err := w.svc.Tap(w.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for _, spelling := range []string{"5", "5.00", "5.00 EUR", "5 eur"} {
		req.Amount = spelling
		again, err := w.svc.Tap(w.ctx, req)
		if err != nil {
			t.Fatalf("retry with amount %q: %v", spelling, err)
		}
		if again.Order.ID != first.Order.ID || again.Transfer.ID != first.Transfer.ID || again.Reply.ID != first.Reply.ID {
			t.Fatalf("retry with amount %q gave another receipt: %+v", spelling, again)
		}
	}
	req.Amount = "5.01"
	_, err = w.svc.Tap(w.ctx, req)
	wantError(t, err, store.KindConflict, "idempotency_key_reused", "different parameters")
	if got := w.balance(w.alice.ID); got != 5000-500 {
		t.Fatalf("payer balance %d: the tap was applied more than once", got)
	}
	w.verifyClean()
}

func TestPreviewTapWritesNothing(t *testing.T) {
	w := newWorld(t)
	before := w.snapshot()
	r, err := w.svc.PreviewTap(w.ctx, PaymentRequest{UID: w.fixed.UID, Content: w.fixed.Content})
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "" || r.Payee != w.shop.ID || r.Amount == nil || r.Amount.Amount != 420 {
		t.Fatalf("preview %+v", r)
	}
	w.unchanged(before)
	_, err = w.svc.PreviewTap(w.ctx, PaymentRequest{UID: w.revoked.UID, Content: w.revoked.Content})
	wantError(t, err, store.KindDeclined, "tag_revoked", "tag revoked")
}

func TestOrdersListedFromTheIndex(t *testing.T) {
	w := newWorld(t)
	bob := w.person("Bob", "50.00")
	var alices []string
	for i := range 5 {
		payer := w.alice.ID
		if i%2 == 1 {
			payer = bob.ID
		}
		r, err := w.svc.Tap(w.ctx, TapRequest{UID: w.active.UID, Content: w.active.Content, Payer: payer, Amount: "1.00"})
		if err != nil {
			t.Fatal(err)
		}
		if payer == w.alice.ID {
			alices = append([]string{r.Order.ID}, alices...) // newest first
		}
	}
	list, err := w.svc.ListOrders(w.ctx, OrderFilter{Payer: w.alice.ID, Limit: 2})
	if err != nil || len(list) != 2 || list[0].ID != alices[0] || list[1].ID != alices[1] {
		t.Fatalf("first page of alice's orders: %v, %v; want %v", ids(list), err, alices[:2])
	}
	next, err := w.svc.ListOrders(w.ctx, OrderFilter{Payer: w.alice.ID, Limit: 2, After: list[1].ID})
	if err != nil || len(next) != 1 || next[0].ID != alices[2] {
		t.Fatalf("second page: %v, %v; want %v", ids(next), err, alices[2:])
	}
	byTag, err := w.svc.ListOrders(w.ctx, OrderFilter{Tag: w.active.Ref})
	if err != nil || len(byTag) != 5 {
		t.Fatalf("orders of the tag by its reference: %d, %v", len(byTag), err)
	}
	_, err = w.svc.ListOrders(w.ctx, OrderFilter{Status: "failed"})
	wantError(t, err, store.KindInvalid, "invalid_status", "not one of")
	_, err = w.svc.ListOrders(w.ctx, OrderFilter{Limit: store.MaxLimit + 1})
	wantError(t, err, store.KindInvalid, "invalid_limit", "from 0 to")
}

func ids(os []Order) []string {
	out := []string{}
	for _, o := range os {
		out = append(out, o.ID)
	}
	return out
}

func TestOrderOfARevokedTagCannotBePaid(t *testing.T) {
	w := newWorld(t)
	o := w.order(w.active, w.alice.ID, "2.00")
	if _, err := w.svc.RevokeTag(w.ctx, TagStateRequest{Tag: w.active.ID, Reason: "stolen sticker"}); err != nil {
		t.Fatal(err)
	}
	w.declines(t, store.KindDeclined, "tag_revoked", "stolen sticker", func() error {
		_, err := w.svc.PayOrder(w.ctx, PayRequest{Order: o.ID})
		return err
	})
}

func TestSUNKeysAreDerivedPerTag(t *testing.T) {
	w := newWorld(t)
	a := w.register(RegisterRequest{UID: "04DE5F1EACC050", Merchant: w.shop.ID, SUN: true, Pending: true})
	b := w.register(RegisterRequest{UID: "04DE5F1EACC051", Merchant: w.shop.ID, SUN: true, Pending: true})
	sa, err := w.svc.TagSecrets(w.ctx, TagSecretsRequest{Tag: a.ID})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := w.svc.TagSecrets(w.ctx, TagSecretsRequest{Tag: b.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(sa.MetaKey) != 32 || sa.MetaKey == sb.MetaKey || sa.FileKey == sb.FileKey || sa.AppKey == sb.AppKey || sa.MetaKey == sa.FileKey {
		t.Fatalf("keys are not per tag and purpose: %+v %+v", sa, sb)
	}
	// Another merchant's key hears the tag does not exist.
	other := store.WithActor(w.ctx, store.Actor{ID: "key_o", Role: store.RoleMerchant, Accounts: []string{"acct_other"}})
	_, err = w.svc.TagSecrets(other, TagSecretsRequest{Tag: a.ID})
	wantError(t, err, store.KindNotFound, "tag_not_found", "not found")
	// Once active, a SUN tag's keys are no longer handed out; a failed one's are, to
	// finish its set-up.
	active := w.register(RegisterRequest{UID: "04DE5F1EACC052", Merchant: w.shop.ID, SUN: true})
	_, err = w.svc.TagSecrets(w.ctx, TagSecretsRequest{Tag: active.ID})
	wantError(t, err, store.KindConflict, "tag_not_in_setup", "only while it is set up")
	if _, err := w.svc.FailTag(w.ctx, TagStateRequest{Tag: a.ID, Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	if again, err := w.svc.TagSecrets(w.ctx, TagSecretsRequest{Tag: a.ID}); err != nil || again != sa {
		t.Fatalf("secrets of the failed tag: %+v, %v", again, err)
	}
	static := w.register(RegisterRequest{UID: "04000000000077", Merchant: w.shop.ID})
	ss, err := w.svc.TagSecrets(w.ctx, TagSecretsRequest{Tag: static.ID})
	if err != nil || len(ss.Password) != 8 || len(ss.PACK) != 4 || ss.MetaKey != "" {
		t.Fatalf("static tag secrets %+v, %v", ss, err)
	}
}
