package emu

import (
	"testing"

	"github.com/tagpay/tagpay/nfc"
)

// FuzzTransmit sends arbitrary APDUs, two in a row so that state carried between
// commands (sessions, GET_VERSION chains, COMPAT_WRITE) is exercised, to every tag
// model behind both personalities. Every answer must end in a status word.
func FuzzTransmit(f *testing.F) {
	for _, seed := range []string{
		"FFCA000000", "FFB0000410", "FFD6000404AABBCCDD", "FF00000003D44260",
		"FF00000004D442A004", "FFC2000002810000", "FFC200010495026000", "FFC200010E5F4604000186A090020000950160",
		"00A4040007D276000085010100", "00A4000C02E104", "00B0000002", "9060000000", "90AF000000",
	} {
		f.Add(mustHex(seed), mustHex("FFC2000103950230"))
	}
	f.Fuzz(func(t *testing.T, first, second []byte) {
		images := []*nfc.Image{
			{Type: nfc.TypeNTAG213, UID: testUID},
			{Type: nfc.TypeUltralight, UID: testUID},
			{Type: nfc.TypeUltralightC, UID: testUID},
			{Type: nfc.TypeNTAG203, UID: testUID},
			{Type: nfc.TypeNTAGI2C2K, UID: testUID},
			{Type: nfc.TypeNTAG424DNA, UID: testUID, SUN: &nfc.SUNConfig{
				BaseURL: "https://pay.example/t/x", MetaKey: make([]byte, 16), FileKey: make([]byte, 16)}},
		}
		for _, p := range []Personality{ACR122, Part3} {
			for _, img := range images {
				tag, err := NewTag(img)
				if err != nil {
					t.Fatal(err)
				}
				r := NewReader("fuzz", p)
				r.Insert(tag, Faults{})
				for _, apdu := range [][]byte{first, second} {
					resp, err := r.Transmit(apdu)
					if len(apdu) == 0 {
						if err == nil {
							t.Fatal("empty APDU accepted")
						}
						continue
					}
					if err != nil || len(resp) < 2 {
						t.Fatalf("%s %s: Transmit(%X) = %X, %v", p, img.Type, apdu, resp, err)
					}
				}
			}
		}
	})
}
