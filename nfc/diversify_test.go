package nfc

import (
	"bytes"
	"testing"
)

// AN10922's AES-128 example (section 2.2.1): master key 00112233…EEFF, UID
// 04782E21801D80, AID 3042F5, system identifier "NXP Abu".
func TestDiversifyAES128Example(t *testing.T) {
	got := DiversifyAES128(unhex(t, "00112233445566778899AABBCCDDEEFF"), unhex(t, "04782E21801D80"), unhex(t, "3042F5"), unhex(t, "4E585020416275"))
	if want := unhex(t, "A8DD63A3B89D54B37CA802473FDA9175"); !bytes.Equal(got, want) {
		t.Fatalf("diversified key = %X, want %X", got, want)
	}
}

// With a 31-byte input no padding is added, so the result is plain CMAC of the 32
// bytes 01 ‖ input; a shorter one is CMAC's padding taken to 32 bytes, which CMAC
// itself does whenever 01 ‖ input is 17 to 31 bytes long.
func TestDiversifyAES128AgreesWithCMAC(t *testing.T) {
	key := unhex(t, "2B7E151628AED2A6ABF7158809CF4F3C")
	for n := 1; n <= 31; n++ {
		m := bytes.Repeat([]byte{byte(n)}, n)
		got, err := DiversifyKeyAES128(key, m)
		if err != nil {
			t.Fatal(err)
		}
		if n >= 16 {
			if want := CMAC(key, append([]byte{0x01}, m...)); !bytes.Equal(got, want) {
				t.Fatalf("input of %d bytes: %X, CMAC gives %X", n, got, want)
			}
		} else {
			// Padded to 32 bytes, not to 16: differs from CMAC of the short message.
			if short := CMAC(key, append([]byte{0x01}, m...)); bytes.Equal(got, short) {
				t.Fatalf("input of %d bytes padded to one block only", n)
			}
		}
	}
	a := DiversifyAES128(key, unhex(t, "04010203040506"), unhex(t, "000001"), []byte("tagpay"))
	b := DiversifyAES128(key, unhex(t, "04010203040507"), unhex(t, "000001"), []byte("tagpay"))
	if len(a) != 16 || bytes.Equal(a, b) {
		t.Fatalf("two UIDs give %X and %X", a, b)
	}
}

func TestDiversifyAES128RefusesBadInput(t *testing.T) {
	key := make([]byte, 16)
	for _, c := range []struct {
		name   string
		key, m []byte
	}{
		{"short master", make([]byte, 8), []byte{1}},
		{"empty input", key, nil},
		{"input over 31 bytes", key, make([]byte, 32)},
	} {
		if k, err := DiversifyKeyAES128(c.key, c.m); err == nil || k != nil {
			t.Errorf("%s: %X, %v; want an error", c.name, k, err)
		}
	}
	if DiversifyAES128(key, make([]byte, 7), make([]byte, 3), make([]byte, 22)) != nil {
		t.Error("a 32-byte input was diversified")
	}
}
