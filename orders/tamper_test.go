package orders

import (
	"sync"
	"testing"

	"github.com/tagpay/tagpay/store"
)

// variants is every single-character edit of s: each character replaced by others of
// several classes, deleted, or preceded by an extra character.
func variants(s string) []string {
	const others = "01aAfFzZ/?&=.-%:_"
	var out []string
	for i := 0; i <= len(s); i++ {
		for j := 0; j < len(others); j++ {
			c := others[j]
			if i < len(s) && s[i] != c {
				out = append(out, s[:i]+string(c)+s[i+1:])
			}
			if j < 3 {
				out = append(out, s[:i]+string(c)+s[i:])
			}
		}
		if i < len(s) {
			out = append(out, s[:i]+s[i+1:])
		}
	}
	return out
}

// allDeclined parses every variant at once (group commit keeps this fast) and fails
// for any that is not declined.
func allDeclined(t *testing.T, f *fixture, uid string, contents []string) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	errs := make([]error, len(contents))
	for i, c := range contents {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, errs[i] = f.svc.ParsePaymentRequest(f.ctx, PaymentRequest{UID: uid, Content: c})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil || store.KindOf(err) != store.KindDeclined {
			t.Errorf("edited content %q: want declined, got %v", contents[i], err)
		}
	}
}

func TestTamperedStaticContentDeclined(t *testing.T) {
	f := newFixture(t)
	shop := f.account("Shop", store.AccountMerchant, "EUR")
	tag := f.register(RegisterRequest{UID: "04515CFA6F7381", Merchant: shop.ID})
	before := f.snapshot()
	vs := variants(tag.Content)
	if len(vs) < 10*len(tag.Content) {
		t.Fatalf("only %d variants of %d characters", len(vs), len(tag.Content))
	}
	allDeclined(t, f, tag.UID, vs)
	f.unchanged(before)
	f.parse(tag.UID, tag.Content)
	f.verifyClean()
}

func TestTamperedSUNContentDeclined(t *testing.T) {
	f := newFixture(t)
	shop := f.account("Shop", store.AccountMerchant, "EUR")
	tag := f.register(RegisterRequest{UID: "04DE5F1EACC040", Merchant: shop.ID, SUN: true, MetaKey: metaKeyHex, FileKey: fileKeyHex})
	for i, plain := range []bool{false, true} {
		url := tap(t, tag, tag.UID, uint32(7+i), metaKeyHex, fileKeyHex, plain)
		before := f.snapshot()
		allDeclined(t, f, tag.UID, variants(url))
		f.unchanged(before)
		// None of the edits used up the genuine tap.
		f.parse(tag.UID, url)
	}
	f.verifyClean()
}
