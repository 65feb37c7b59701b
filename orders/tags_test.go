package orders

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/store"
)

func TestRegisterTagValidation(t *testing.T) {
	f := newFixture(t)
	shop := f.account("Shop", store.AccountMerchant, "EUR")
	alice := f.person("Alice", "")
	const key = "00112233445566778899AABBCCDDEEFF"
	tests := []struct {
		name        string
		req         RegisterRequest
		kind        store.Kind
		code, words string
	}{
		{"UID of 5 bytes", RegisterRequest{UID: "0102030405", Merchant: shop.ID}, store.KindInvalid, "invalid_uid", "4, 7 or 10 bytes"},
		{"UID not hex", RegisterRequest{UID: "04GG0000000000", Merchant: shop.ID}, store.KindInvalid, "invalid_uid", "hex"},
		{"person account", RegisterRequest{UID: "04000000000001", Merchant: alice.ID}, store.KindInvalid, "invalid_merchant", "merchant accounts"},
		{"unknown merchant", RegisterRequest{UID: "04000000000001", Merchant: store.NewID(store.PrefixAccount)}, store.KindNotFound, "account_not_found", "not found"},
		{"amount in another currency", RegisterRequest{UID: "04000000000001", Merchant: shop.ID, Amount: "3 USD"}, store.KindInvalid, "currency_mismatch", "EUR"},
		{"base URL with a query", RegisterRequest{UID: "04000000000001", Merchant: shop.ID, BaseURL: "https://x.test?a=1"}, store.KindInvalid, "invalid_base_url", "query"},
		{"base URL not http", RegisterRequest{UID: "04000000000001", Merchant: shop.ID, BaseURL: "ftp://x.test"}, store.KindInvalid, "invalid_base_url", "https://"},
		{"base URL with a slash", RegisterRequest{UID: "04000000000001", Merchant: shop.ID, BaseURL: "https://x.test/"}, store.KindInvalid, "invalid_base_url", "must not end in /"},
		{"label with a control character", RegisterRequest{UID: "04000000000001", Merchant: shop.ID, Label: "a\x1bb"}, store.KindInvalid, "invalid_label", "control"},
		{"SUN with a 4-byte UID", RegisterRequest{UID: "01020304", Merchant: shop.ID, SUN: true, MetaKey: key, FileKey: key}, store.KindInvalid, "invalid_uid", "7-byte UID"},
		{"SUN with a short key", RegisterRequest{UID: "04000000000001", Merchant: shop.ID, SUN: true, MetaKey: "00112233"}, store.KindInvalid, "invalid_key", "meta_key must be 16 bytes"},
		{"SUN with a short file key", RegisterRequest{UID: "04000000000001", Merchant: shop.ID, SUN: true, MetaKey: key, FileKey: key[:30]}, store.KindInvalid, "invalid_key", "file_key must be 16 bytes"},
		{"keys for a static tag", RegisterRequest{UID: "04000000000001", Merchant: shop.ID, MetaKey: key}, store.KindInvalid, "invalid_key", "static tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.snapshot()
			_, err := f.svc.RegisterTag(f.ctx, tt.req)
			wantError(t, err, tt.kind, tt.code, tt.words)
			f.unchanged(before)
			if strings.Contains(err.Error(), key[:30]) {
				t.Errorf("the error %q shows a key", err)
			}
		})
	}
}

func TestRegisterTagConflictsAndReuse(t *testing.T) {
	f := newFixture(t)
	shop := f.account("Shop", store.AccountMerchant, "EUR")
	alice := f.person("Alice", "10.00")
	first := f.register(RegisterRequest{UID: "04112233445566", Merchant: shop.ID, BaseURL: "https://shop.test/pay"})
	if !strings.HasPrefix(first.Content, "https://shop.test/pay/t/"+first.Ref+"?s=") || len(first.Ref) != refLen {
		t.Fatalf("content %q of ref %q", first.Content, first.Ref)
	}

	before := f.snapshot()
	_, err := f.svc.RegisterTag(f.ctx, RegisterRequest{UID: "04:11:22:33:44:55:66", Merchant: shop.ID})
	wantError(t, err, store.KindConflict, "tag_already_registered", "already registered as "+first.ID)
	f.unchanged(before)

	// Revoked, the UID is free again; the new registration has a new reference, and the
	// old content stays refused.
	if _, err := f.svc.RevokeTag(f.ctx, TagStateRequest{Tag: "04112233445566", Reason: "moved"}); err != nil {
		t.Fatal(err)
	}
	second := f.register(RegisterRequest{UID: "04112233445566", Merchant: shop.ID})
	if second.Ref == first.Ref || second.Content == first.Content {
		t.Fatalf("re-registration reused reference %s", first.Ref)
	}
	_, err = f.svc.ParsePaymentRequest(f.ctx, PaymentRequest{UID: first.UID, Content: first.Content})
	wantError(t, err, store.KindDeclined, "tag_revoked", "tag revoked: moved")
	f.pay(f.order(second, alice.ID, "1.00"))

	for _, name := range []string{second.ID, second.Ref, "04112233445566", "04-11-22-33-44-55-66"} {
		got, err := f.svc.GetTag(f.ctx, name)
		if err != nil || got.ID != second.ID {
			t.Errorf("GetTag(%q) = %s, %v; want %s", name, got.ID, err, second.ID)
		}
	}
	if got, err := f.svc.GetTag(f.ctx, first.Ref); err != nil || got.ID != first.ID || got.Status != TagRevoked {
		t.Errorf("GetTag(old ref) = %+v, %v", got, err)
	}
	_, err = f.svc.GetTag(f.ctx, "nothing-like-a-tag")
	wantError(t, err, store.KindNotFound, "tag_not_found", "not found")
	f.verifyClean()
}

func TestTagStateChanges(t *testing.T) {
	f := newFixture(t)
	shop := f.account("Shop", store.AccountMerchant, "EUR")
	active := f.register(RegisterRequest{UID: "04000000000001", Merchant: shop.ID})
	pending := f.register(RegisterRequest{UID: "04000000000002", Merchant: shop.ID, Pending: true})
	if pending.Status != TagPending {
		t.Fatalf("pending registration is %s", pending.Status)
	}

	failed, err := f.svc.FailTag(f.ctx, TagStateRequest{Tag: pending.Ref})
	if err != nil || failed.Status != TagFailed || failed.Reason != "provisioning failed" {
		t.Fatalf("fail: %+v, %v", failed, err)
	}
	revoked, err := f.svc.RevokeTag(f.ctx, TagStateRequest{Tag: active.ID, Reason: "lost"})
	if err != nil || revoked.Status != TagRevoked || revoked.Reason != "lost" {
		t.Fatalf("revoke: %+v, %v", revoked, err)
	}
	tests := []struct {
		name string
		call func() error
		kind store.Kind
		code string
	}{
		{"revoke a revoked tag", func() error { _, err := f.svc.RevokeTag(f.ctx, TagStateRequest{Tag: active.ID}); return err }, store.KindConflict, "tag_not_live"},
		{"fail a revoked tag", func() error { _, err := f.svc.FailTag(f.ctx, TagStateRequest{Tag: active.ID}); return err }, store.KindConflict, "tag_not_live"},
		{"revoke a failed tag", func() error { _, err := f.svc.RevokeTag(f.ctx, TagStateRequest{Tag: pending.ID}); return err }, store.KindConflict, "tag_not_live"},
		{"confirm a failed tag", func() error {
			_, err := f.svc.ConfirmTag(f.ctx, ConfirmRequest{Tag: pending.ID, UID: pending.UID, Content: pending.Content})
			return err
		}, store.KindConflict, "tag_not_pending"},
		{"revoke an unknown tag", func() error { _, err := f.svc.RevokeTag(f.ctx, TagStateRequest{Tag: "0499999999999999"}); return err }, store.KindNotFound, "tag_not_found"},
		{"reason too long", func() error {
			_, err := f.svc.RevokeTag(f.ctx, TagStateRequest{Tag: active.ID, Reason: strings.Repeat("r", 201)})
			return err
		}, store.KindInvalid, "invalid_reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.snapshot()
			wantError(t, tt.call(), tt.kind, tt.code, "")
			f.unchanged(before)
		})
	}
	f.verifyClean()
}

func TestConfirmTag(t *testing.T) {
	f := newFixture(t)
	shop := f.account("Shop", store.AccountMerchant, "EUR")
	good := f.register(RegisterRequest{UID: "04000000000001", Merchant: shop.ID, Pending: true})
	_, err := f.svc.ParsePaymentRequest(f.ctx, PaymentRequest{UID: good.UID, Content: good.Content})
	wantError(t, err, store.KindDeclined, "tag_not_active", "pending")

	confirmed, err := f.svc.ConfirmTag(f.ctx, ConfirmRequest{Tag: good.Ref, UID: "04 00 00 00 00 00 01", Content: good.Content})
	if err != nil || confirmed.Status != TagActive {
		t.Fatalf("confirm: %+v, %v", confirmed, err)
	}
	f.parse(good.UID, good.Content)

	tests := []struct {
		name  string
		read  func(Tag) (uid, content string) // what the reader reported
		words string
	}{
		{"half-written content", func(t Tag) (string, string) { return t.UID, t.Content[:len(t.Content)/2] }, "content read back differs"},
		{"nothing written", func(t Tag) (string, string) { return t.UID, "" }, "content read back differs"},
		{"another chip on the reader", func(t Tag) (string, string) { return "04AAAAAAAAAAAA", t.Content }, "UID read back is 04AAAAAAAAAAAA"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag := f.register(RegisterRequest{UID: fmt.Sprintf("0400000000010%d", i), Merchant: shop.ID, Pending: true})
			uid, content := tt.read(tag)
			req := ConfirmRequest{Tag: tag.ID, UID: uid, Content: content, IdempotencyKey: "confirm-" + tag.ID}
			got, err := f.svc.ConfirmTag(f.ctx, req)
			wantError(t, err, store.KindDeclined, "readback_mismatch", tt.words)
			if got.Status != TagFailed {
				t.Fatalf("after a bad read-back the tag is %s, want failed", got.Status)
			}
			// The failure is recorded, replayed as such, and the tag never pays.
			stored, _ := f.svc.GetTag(f.ctx, tag.ID)
			if stored.Status != TagFailed || !strings.Contains(stored.Reason, tt.words) {
				t.Fatalf("stored tag %+v", stored)
			}
			_, err = f.svc.ConfirmTag(f.ctx, req)
			wantError(t, err, store.KindDeclined, "readback_mismatch", tt.words)
			_, err = f.svc.ParsePaymentRequest(f.ctx, PaymentRequest{UID: tag.UID, Content: tag.Content})
			wantError(t, err, store.KindDeclined, "tag_not_active", "failed")
			// Its UID may be provisioned again.
			f.register(RegisterRequest{UID: tag.UID, Merchant: shop.ID, Pending: true})
		})
	}
	f.verifyClean()
}

func TestIdempotentRegistration(t *testing.T) {
	f := newFixture(t)
	shop := f.account("Shop", store.AccountMerchant, "EUR")
	req := RegisterRequest{UID: "04000000000001", Merchant: shop.ID, IdempotencyKey: "reg-1"}
	a := f.register(req)
	b := f.register(req)
	if a.ID != b.ID || a.Content != b.Content {
		t.Fatalf("a replayed registration made another tag: %s, %s", a.ID, b.ID)
	}
	req.UID = "04000000000002"
	_, err := f.svc.RegisterTag(f.ctx, req)
	wantError(t, err, store.KindConflict, "idempotency_key_reused", "different parameters")
	tags, err := f.svc.ListTags(f.ctx, TagFilter{})
	if err != nil || len(tags) != 1 {
		t.Fatalf("%d tags, want 1 (%v)", len(tags), err)
	}
}

func TestVisibility(t *testing.T) {
	f := newFixture(t)
	shopA := f.account("Shop A", store.AccountMerchant, "EUR")
	shopB := f.account("Shop B", store.AccountMerchant, "EUR")
	alice := f.person("Alice", "20.00")
	bob := f.person("Bob", "20.00")
	tagA := f.register(RegisterRequest{UID: "04000000000001", Merchant: shopA.ID})
	tagB := f.register(RegisterRequest{UID: "04000000000002", Merchant: shopB.ID})
	oAliceA := f.pay(f.order(tagA, alice.ID, "1.00"))
	oBobB := f.pay(f.order(tagB, bob.ID, "2.00"))
	oAliceB := f.order(tagB, alice.ID, "3.00")

	as := func(role store.Role, accounts ...string) context.Context {
		return store.WithActor(context.Background(), store.Actor{ID: "key_" + string(role), Role: role, Accounts: accounts})
	}
	ids := func(os []Order) string {
		var s []string
		for _, o := range os {
			s = append(s, o.ID)
		}
		return strings.Join(s, ",")
	}
	orderTests := []struct {
		name string
		ctx  context.Context
		f    OrderFilter
		want []Order // newest first
	}{
		{"admin sees all", f.ctx, OrderFilter{}, []Order{oAliceB, oBobB, oAliceA}},
		{"admin filters by status", f.ctx, OrderFilter{Status: OrderCreated}, []Order{oAliceB}},
		{"merchant sees orders paid to it", as(store.RoleMerchant, shopB.ID), OrderFilter{}, []Order{oAliceB, oBobB}},
		{"payer sees orders it pays", as(store.RolePayer, alice.ID), OrderFilter{}, []Order{oAliceB, oAliceA}},
		{"payer filters by payee", as(store.RolePayer, alice.ID), OrderFilter{Payee: shopA.ID}, []Order{oAliceA}},
		{"payer cannot widen by filter", as(store.RolePayer, alice.ID), OrderFilter{Payer: bob.ID}, nil},
	}
	for _, tt := range orderTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.svc.ListOrders(tt.ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if ids(got) != ids(tt.want) {
				t.Fatalf("got %s, want %s", ids(got), ids(tt.want))
			}
		})
	}

	tags, err := f.svc.ListTags(as(store.RoleMerchant, shopA.ID), TagFilter{})
	if err != nil || len(tags) != 1 || tags[0].ID != tagA.ID {
		t.Fatalf("merchant A lists %+v, %v", tags, err)
	}
	if tags, _ := f.svc.ListTags(f.ctx, TagFilter{Merchant: shopB.ID}); len(tags) != 1 || tags[0].ID != tagB.ID {
		t.Fatalf("admin filtered by merchant B lists %+v", tags)
	}
	// Another merchant's tag answers as a tag that does not exist, naming no account.
	_, err = f.svc.GetTag(as(store.RoleMerchant, shopA.ID), tagB.Ref)
	wantError(t, err, store.KindNotFound, "tag_not_found", "")
	if strings.Contains(err.Error(), shopB.ID) {
		t.Errorf("the refusal names the owner: %v", err)
	}
	for _, name := range []string{tagB.ID, tagB.UID} {
		_, err = f.svc.GetTag(as(store.RoleMerchant, shopA.ID), name)
		wantError(t, err, store.KindNotFound, "tag_not_found", "")
	}
	_, err = f.svc.GetOrder(as(store.RolePayer, bob.ID), oAliceA.ID)
	wantError(t, err, store.KindForbidden, "forbidden", "")
	if o, err := f.svc.GetOrder(as(store.RoleMerchant, shopA.ID), oAliceA.ID); err != nil || o.ID != oAliceA.ID {
		t.Fatalf("merchant A reads its order: %v", err)
	}
	_, err = f.svc.RevokeTag(as(store.RoleMerchant, shopA.ID), TagStateRequest{Tag: tagB.ID})
	wantError(t, err, store.KindNotFound, "tag_not_found", "")
	_, err = f.svc.FailTag(as(store.RoleMerchant, shopA.ID), TagStateRequest{Tag: tagB.Ref})
	wantError(t, err, store.KindNotFound, "tag_not_found", "")
	_, err = f.svc.ConfirmTag(as(store.RoleMerchant, shopA.ID), ConfirmRequest{Tag: tagB.Ref, UID: tagB.UID, Content: tagB.Content})
	wantError(t, err, store.KindNotFound, "tag_not_found", "")
	// Registering a UID another merchant holds: a conflict that names neither the tag
	// nor its owner.
	_, err = f.svc.RegisterTag(as(store.RoleMerchant, shopA.ID), RegisterRequest{UID: tagB.UID, Merchant: shopA.ID})
	wantError(t, err, store.KindConflict, "tag_already_registered", "already registered")
	for _, leak := range []string{tagB.ID, tagB.Ref, shopB.ID, string(tagB.Status)} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("the conflict names %q: %v", leak, err)
		}
	}
	_, err = f.svc.RegisterTag(as(store.RoleMerchant, shopA.ID), RegisterRequest{UID: "04000000000003", Merchant: shopB.ID})
	wantError(t, err, store.KindForbidden, "forbidden", "")
	err = f.db.View(as(store.RoleMerchant, shopA.ID), func(tx *store.Tx) error {
		_, err := Verify(tx)
		return err
	})
	wantError(t, err, store.KindForbidden, "forbidden", "")
}

// Labels and reasons refuse invisible format characters, such as a right-to-left
// override that makes a label read backwards in a table.
func TestTagTextRefusesFormatCharacters(t *testing.T) {
	f := newFixture(t)
	shop := f.account("Shop", store.AccountMerchant, "EUR")
	_, err := f.svc.RegisterTag(f.ctx, RegisterRequest{UID: "04112233445577", Merchant: shop.ID, Label: "till \u202E1"})
	wantError(t, err, store.KindInvalid, "invalid_label", "format character")
	tag := f.register(RegisterRequest{UID: "04112233445577", Merchant: shop.ID})
	_, err = f.svc.RevokeTag(f.ctx, TagStateRequest{Tag: tag.ID, Reason: "lost\u200B"})
	wantError(t, err, store.KindInvalid, "invalid_reason", "format character")
}
