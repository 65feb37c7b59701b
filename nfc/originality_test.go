package nfc

import (
	"errors"
	"math/big"
	"strings"
	"testing"
)

func TestVerifyOriginality(t *testing.T) {
	tests := []struct {
		name string
		typ  TagType
		uid  string
		sig  string
		want bool
	}{
		// Shared vectors (NXP AN11350, a real NTAG215).
		{"NTAG215 genuine", TypeNTAG215, "04515CFA6F7381", "4221E46C796A815EEA0D936D85EE4B0C2A00D577F1C567F36375F8EB86485E6B", true},
		{"NTAG21x genuine", TypeNTAG213, "04E10CDA993C80", "8B76052EE42F5567BEB53238B3E3F9950707C0DCC956B5C5EFCFDB709B2D82B3", true},
		{"NTAG21x second sample", TypeNTAG216, "04DB0BDA993C80", "6048EFD9417CD10F6B7F1818D471A7FE5B46868D2EABDC6307A1E0AAE139D8D0", true},
		{"NTAG21x UID changed", TypeNTAG213, "04E10CDA993C81", "8B76052EE42F5567BEB53238B3E3F9950707C0DCC956B5C5EFCFDB709B2D82B3", false},
		{"NTAG21x signature of another tag", TypeNTAG215, "04515CFA6F7381", "8B76052EE42F5567BEB53238B3E3F9950707C0DCC956B5C5EFCFDB709B2D82B3", false},
		{"NTAG21x zero signature", TypeNTAG213, "04515CFA6F7381", strings.Repeat("00", 32), false},
		{"NTAG21x s at the order", TypeNTAG213, "04515CFA6F7381", "4221E46C796A815EEA0D936D85EE4B0C" + "FFFFFFFE0000000075A30D1B9038A115", false},
		// Ultralight EV1 signs with its own key (NXP AN11341).
		{"Ultralight EV1 genuine", TypeUltralightEV1, "04C1285A373080", "CEA2EB0B3C95D0844A95B824A7553703B3702378033BF0987899DB70151A19E7", true},
		{"Ultralight EV1 second sample", TypeUltralightEV1, "04C2285A373080", "A561506723D422D29ED9F93E60D20B9ED1E05CC1BF81DA19FE500CA0B81CC0ED", true},
		{"Ultralight EV1 signature on an NTAG", TypeNTAG213, "04C1285A373080", "CEA2EB0B3C95D0844A95B824A7553703B3702378033BF0987899DB70151A19E7", false},
		// NTAG 424 DNA, secp224r1 (public samples of real tags).
		{"NTAG 424 DNA genuine", TypeNTAG424DNA, "0463474AA26A80", "27E9A50E6CA4BA9037C02F7D20A80D0284D0C1D83C67F5A5AC1D8A4EF86C9508417E4E9C6F85AA7920F0ABDED984CAF20467D66EA54BBF08", true},
		{"NTAG 424 DNA second sample", TypeNTAG424DNA, "04C46C222A6380", "344A806EBF704C05C19215D2F840529CE365AAD2D08A469A95896D75D477D9FAB02A0C827E9F215BD8EB0E56A3A9A008FB75D706AABBD4DA", true},
		{"NTAG 424 DNA UID changed", TypeNTAG424DNA, "04C46C222A6381", "344A806EBF704C05C19215D2F840529CE365AAD2D08A469A95896D75D477D9FAB02A0C827E9F215BD8EB0E56A3A9A008FB75D706AABBD4DA", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := VerifyOriginality(tt.typ, unhex(t, tt.uid), unhex(t, tt.sig))
			if err != nil {
				t.Fatalf("VerifyOriginality: %v", err)
			}
			if got != tt.want {
				t.Fatalf("VerifyOriginality = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestVerifyOriginalityErrors(t *testing.T) {
	tests := []struct {
		name        string
		typ         TagType
		uidLen      int
		sigLen      int
		wantErr     string
		unsupported bool
	}{
		{"short UID", TypeNTAG213, 4, 32, "UID is 4 bytes", false},
		{"NTAG short signature", TypeNTAG215, 7, 31, "signature is 31 bytes, want 32 for ntag215", false},
		{"424 DNA NTAG-sized signature", TypeNTAG424DNA, 7, 32, "signature is 32 bytes, an NTAG 424 DNA signs with 56", false},
		{"Ultralight has none", TypeUltralight, 7, 32, "has no originality signature", true},
		{"Ultralight C has none", TypeUltralightC, 7, 32, "has no originality signature", true},
		{"unknown type", TypeUnknown, 7, 32, "has no originality signature", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := VerifyOriginality(tt.typ, make([]byte, tt.uidLen), make([]byte, tt.sigLen))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("VerifyOriginality = %v, %v; want error containing %q", ok, err, tt.wantErr)
			}
			if got := errors.Is(err, ErrUnsupported); got != tt.unsupported {
				t.Fatalf("errors.Is(err, ErrUnsupported) = %v, want %v", got, tt.unsupported)
			}
		})
	}
}

func TestSecp128r1Arithmetic(t *testing.T) {
	c := secp128r1
	if !c.onCurve(c.gx, c.gy) {
		t.Fatal("G is not on secp128r1")
	}
	// nG is the point at infinity; (n-1)G is -G.
	if x, _ := c.mul(c.n, c.gx, c.gy); x != nil {
		t.Fatalf("nG = (%x, …), want infinity", x)
	}
	nm1 := new(big.Int).Sub(c.n, big.NewInt(1))
	x, y := c.mul(nm1, c.gx, c.gy)
	negY := new(big.Int).Sub(c.p, c.gy)
	if x.Cmp(c.gx) != 0 || y.Cmp(negY) != 0 {
		t.Fatalf("(n-1)G is not -G")
	}
	if _, _, err := c.parsePoint("04" + strings.Repeat("11", 32)); err == nil {
		t.Fatal("parsePoint accepted a point off the curve")
	}
}
