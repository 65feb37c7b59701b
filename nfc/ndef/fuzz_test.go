package ndef

import (
	"bytes"
	"testing"
)

// FuzzDecode: Decode never panics, and whatever it accepts encodes to a message that
// decodes to the same records and re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"D00000", "D101075402656E54455854", "D1010A55036E666370792E6F7267",
		"B20A03746578742F706C61696E616263360003646566" + "5600026768",
		"150000160000560000", "950000160000160000", "19010101", "110000",
		"C9010000000302546964" + "02656E",
	} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		enc, err := Encode(m)
		if err != nil {
			t.Fatalf("Decode accepted %X but Encode refused it: %v", b, err)
		}
		m2, err := Decode(enc)
		if err != nil {
			t.Fatalf("Encode produced %X which Decode refuses: %v", enc, err)
		}
		if !equalMessages(m, m2) {
			t.Fatalf("decode→encode→decode changed the message: %+v vs %+v", m, m2)
		}
		enc2, err := Encode(m2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable: %X vs %X (%v)", enc, enc2, err)
		}
		Describe(m) // must not panic on anything Decode accepts
	})
}
