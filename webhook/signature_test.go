package webhook

import (
	"strings"
	"testing"
	"time"

	"github.com/tagpay/tagpay/store"
)

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"evt_1","type":"order.paid"}`)
	h := Sign("whsec_right", now, body)
	if !strings.HasPrefix(h, "t=1800000000,v1=") {
		t.Fatalf("header %q", h)
	}
	if err := Verify("whsec_right", h, body, 0, now.Add(time.Minute)); err != nil {
		t.Fatalf("a good signature: %v", err)
	}
	// A receiver may get several v1 values while a secret is rotated: any one will do.
	if err := Verify("whsec_right", "t=1800000000,v1=00ff,"+h[len("t=1800000000,"):], body, 0, now); err != nil {
		t.Fatalf("two signatures, one good: %v", err)
	}
	for _, c := range []struct {
		name, secret, header string
		body                 []byte
		now                  time.Time
		code                 string
	}{
		{"wrong secret", "whsec_wrong", h, body, now, "signature_mismatch"},
		{"tampered body", "whsec_right", h, []byte(`{"id":"evt_1","type":"order.refunded"}`), now, "signature_mismatch"},
		{"stale timestamp", "whsec_right", h, body, now.Add(DefaultTolerance + time.Second), "stale_signature"},
		{"timestamp from the future", "whsec_right", h, body, now.Add(-DefaultTolerance - time.Second), "stale_signature"},
		{"timestamp moved to now", "whsec_right", strings.Replace(h, "t=1800000000", "t=1800000600", 1), body, now.Add(10 * time.Minute), "signature_mismatch"},
		{"no signature", "whsec_right", "t=1800000000", body, now, "malformed_signature"},
		{"garbage", "whsec_right", "hello", body, now, "malformed_signature"},
		{"empty", "whsec_right", "", body, now, "malformed_signature"},
	} {
		err := Verify(c.secret, c.header, c.body, 0, c.now)
		if store.CodeOf(err) != c.code || store.KindOf(err) != store.KindUnauthorized {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
	if err := Verify("", h, body, 0, now); store.CodeOf(err) != "missing_secret" {
		t.Errorf("no secret: %v", err)
	}
}
