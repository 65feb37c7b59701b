package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/tagpay/tagpay/store"
)

// SignatureHeader carries the signature of a delivery: "t=<unix seconds>,v1=<hex>",
// where v1 is HMAC-SHA256 with the endpoint's secret over "<t>.<body>". The time is
// signed too, so a receiver that refuses old timestamps refuses replays.
const SignatureHeader = "Tagpay-Signature"

// DefaultTolerance is how far a signature's time may be from the receiver's clock.
const DefaultTolerance = 5 * time.Minute

// Sign returns the SignatureHeader value for body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks header against body: the header's time is within tolerance of now (0
// means DefaultTolerance) and one of its v1 signatures is the HMAC of the time and body
// under secret. Every failure is an unauthorized error saying which check failed.
func Verify(secret, header string, body []byte, tolerance time.Duration, now time.Time) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if secret == "" {
		return store.Errorf(store.KindInvalid, "missing_secret", "no signing secret given").WithParam("secret")
	}
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return store.Errorf(store.KindUnauthorized, "malformed_signature", "the %s header is not \"t=<unix time>,v1=<hex>\"", SignatureHeader)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return store.Errorf(store.KindUnauthorized, "stale_signature", "the signature was made at %s, %s from now; at most %s is allowed", time.Unix(sec, 0).UTC().Format(time.RFC3339), d.Round(time.Second).Abs(), tolerance)
	}
	want := []byte(mac(secret, ts, body))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), want) {
			return nil
		}
	}
	return store.Errorf(store.KindUnauthorized, "signature_mismatch", "the signature does not match the body under this secret")
}
