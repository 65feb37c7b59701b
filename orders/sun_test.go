package orders

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/store"
)

const (
	metaKeyHex = "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF"
	fileKeyHex = "B0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tap is the URL the SUN tag shows on read number counter.
func tap(t testing.TB, tag Tag, uid string, counter uint32, metaKey, fileKey string, plain bool) string {
	t.Helper()
	u, err := nfc.BuildSUN(tag.Content, mustHex(t, uid), counter, mustHex(t, metaKey), mustHex(t, fileKey), plain)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSUNVectorAN12196(t *testing.T) {
	f := newFixture(t)
	shop := f.account("Shop", store.AccountMerchant, "EUR")
	zero := strings.Repeat("0", 32)
	tag := f.register(RegisterRequest{UID: "04DE5F1EACC040", Merchant: shop.ID, SUN: true, MetaKey: zero, FileKey: zero})
	if tag.Kind != TagSUN || tag.Content != "https://pay.test/s/"+tag.Ref {
		t.Fatalf("SUN tag %+v", tag)
	}
	url := tag.Content + "?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086"
	f.parse(tag.UID, url)
	err := f.db.View(f.ctx, func(tx *store.Tx) error {
		n, seen, err := sunCounter(tx, tag.ID)
		if err == nil && (!seen || n != 61) {
			t.Errorf("stored counter %d (seen %v), want 61", n, seen)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	before := f.snapshot()
	_, err = f.svc.ParsePaymentRequest(f.ctx, PaymentRequest{UID: tag.UID, Content: url})
	wantError(t, err, store.KindDeclined, "sun_replayed", "SUN counter replayed: read counter 61, last seen 61")
	f.unchanged(before)
	f.verifyClean()
}

func TestSUNRejections(t *testing.T) {
	w := newWorld(t)
	const uid = "04DE5F1EACC040"
	tag := w.register(RegisterRequest{UID: uid, Merchant: w.shop.ID, SUN: true, MetaKey: metaKeyHex, FileKey: fileKeyHex})
	w.parse(uid, tap(t, tag, uid, 10, metaKeyHex, fileKeyHex, false))

	tests := []struct {
		name, uid, url string
		kind           store.Kind
		code, words    string
	}{
		{"same counter again", uid, tap(t, tag, uid, 10, metaKeyHex, fileKeyHex, false), store.KindDeclined, "sun_replayed", "SUN counter replayed"},
		{"older counter", uid, tap(t, tag, uid, 9, metaKeyHex, fileKeyHex, false), store.KindDeclined, "sun_replayed", "SUN counter replayed"},
		{"older counter, plain mirroring", uid, tap(t, tag, uid, 3, metaKeyHex, fileKeyHex, true), store.KindDeclined, "sun_replayed", "last seen 10"},
		{"wrong file key", uid, tap(t, tag, uid, 11, metaKeyHex, metaKeyHex, false), store.KindDeclined, "sun_invalid", "SUN CMAC invalid"},
		{"wrong meta key", uid, tap(t, tag, uid, 11, fileKeyHex, fileKeyHex, false), store.KindDeclined, "sun_invalid", "SUN CMAC invalid"},
		{"MAC cut", uid, tap(t, tag, uid, 11, metaKeyHex, fileKeyHex, false)[:len(tag.Content)+40], store.KindDeclined, "sun_invalid", "SUN CMAC invalid"},
		{"no SUN message", uid, tag.Content + "?c=0011223344556677", store.KindDeclined, "sun_invalid", "SUN CMAC invalid"},
		{"SUN message of another chip", uid, tap(t, tag, "04AABBCCDDEEFF", 11, metaKeyHex, fileKeyHex, false), store.KindDeclined, "possible_clone", "names UID 04AABBCCDDEEFF"},
		{"read from another chip", "04AABBCCDDEEFF", tap(t, tag, uid, 11, metaKeyHex, fileKeyHex, false), store.KindDeclined, "possible_clone", "possible clone"},
		{"host edited", uid, strings.Replace(tap(t, tag, uid, 11, metaKeyHex, fileKeyHex, false), "pay.test", "pay.tesu", 1), store.KindDeclined, "content_altered", "content altered"},
		{"SUN URL as static", uid, strings.Replace(tap(t, tag, uid, 11, metaKeyHex, fileKeyHex, false), "/s/", "/t/", 1), store.KindDeclined, "content_malformed", "exactly one parameter"},
		{"lower-case hex", uid, lowerQuery(tap(t, tag, uid, 11, metaKeyHex, fileKeyHex, false)), store.KindDeclined, "content_malformed", "upper-case hex"},
		{"unknown parameter", uid, tag.Content + "?x=00", store.KindDeclined, "content_malformed", "not one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.declines(t, tt.kind, tt.code, tt.words, func() error {
				_, err := w.svc.ParsePaymentRequest(w.ctx, PaymentRequest{UID: tt.uid, Content: tt.url})
				return err
			})
		})
	}

	// A newer tap still pays, in both mirroring modes, and only the latest counter counts.
	w.parse(uid, tap(t, tag, uid, 12, metaKeyHex, fileKeyHex, true))
	w.parse(uid, tap(t, tag, uid, 13, metaKeyHex, fileKeyHex, false))
	_, err := w.svc.ParsePaymentRequest(w.ctx, PaymentRequest{UID: uid, Content: tap(t, tag, uid, 12, metaKeyHex, fileKeyHex, false)})
	wantError(t, err, store.KindDeclined, "sun_replayed", "last seen 13")
	w.pay(w.order(Tag{UID: uid, Content: tap(t, tag, uid, 14, metaKeyHex, fileKeyHex, false)}, w.alice.ID, "1.50"))
	w.verifyClean()
}

func TestSUNKeysNeverLeave(t *testing.T) {
	f := newFixture(t)
	shop := f.account("Shop", store.AccountMerchant, "EUR")
	req := RegisterRequest{UID: "04DE5F1EACC040", Merchant: shop.ID, SUN: true, MetaKey: strings.ToLower(metaKeyHex), FileKey: fileKeyHex, Pending: true, IdempotencyKey: "reg"}
	tag := f.register(req)
	if _, err := f.svc.ConfirmTag(f.ctx, ConfirmRequest{Tag: tag.ID, UID: tag.UID, Content: tap(t, tag, tag.UID, 1, metaKeyHex, fileKeyHex, false)}); err != nil {
		t.Fatal(err)
	}
	f.register(req) // a replay returns the stored tag
	if _, err := f.svc.RevokeTag(f.ctx, TagStateRequest{Tag: tag.ID}); err != nil {
		t.Fatal(err)
	}
	listed, err := f.svc.ListTags(f.ctx, TagFilter{})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(listed)
	for _, key := range []string{metaKeyHex, fileKeyHex} {
		if strings.Contains(strings.ToUpper(string(out)), key) {
			t.Errorf("a tag listing shows key %s", key)
		}
		if where := f.rawContains([]byte(key), store.BucketSUNKeys); len(where) > 0 {
			t.Errorf("key %s is stored outside the key bucket, in %v", key, where)
		}
		// Not even there in clear: the key bucket holds them encrypted under the key file.
		raw, _ := hex.DecodeString(key)
		for _, needle := range [][]byte{[]byte(key), raw} {
			if where := f.rawContains(needle, ""); len(where) != 0 {
				t.Errorf("key %s is stored readable in %v, want nowhere", key, where)
			}
		}
	}
}

func TestConfirmSUNTag(t *testing.T) {
	f := newFixture(t)
	shop := f.account("Shop", store.AccountMerchant, "EUR")
	const uid = "04DE5F1EACC040"
	tag := f.register(RegisterRequest{UID: uid, Merchant: shop.ID, SUN: true, MetaKey: metaKeyHex, FileKey: fileKeyHex, Pending: true})
	readBack := tap(t, tag, uid, 1, metaKeyHex, fileKeyHex, false)
	got, err := f.svc.ConfirmTag(f.ctx, ConfirmRequest{Tag: tag.Ref, UID: uid, Content: readBack})
	if err != nil || got.Status != TagActive {
		t.Fatalf("confirm: %+v, %v", got, err)
	}
	// The read-back was a tap: it cannot pay later.
	_, err = f.svc.ParsePaymentRequest(f.ctx, PaymentRequest{UID: uid, Content: readBack})
	wantError(t, err, store.KindDeclined, "sun_replayed", "SUN counter replayed")
	f.parse(uid, tap(t, tag, uid, 2, metaKeyHex, fileKeyHex, false))

	// A tag written with other keys than registered fails provisioning.
	other := f.register(RegisterRequest{UID: "04DE5F1EACC041", Merchant: shop.ID, SUN: true, MetaKey: metaKeyHex, FileKey: fileKeyHex, Pending: true})
	got, err = f.svc.ConfirmTag(f.ctx, ConfirmRequest{Tag: other.ID, UID: other.UID, Content: tap(t, other, other.UID, 1, metaKeyHex, metaKeyHex, false)})
	wantError(t, err, store.KindDeclined, "readback_mismatch", "SUN CMAC invalid")
	if got.Status != TagFailed {
		t.Fatalf("tag with wrong keys is %s, want failed", got.Status)
	}
	f.verifyClean()
}

func lowerQuery(url string) string {
	base, query, _ := strings.Cut(url, "?")
	return base + "?" + strings.ToLower(query)
}
