package nfc

import (
	"crypto/aes"
	"crypto/subtle"
	"fmt"
)

// DiversifyAES128 derives a tag's own AES-128 key from a master key, as NXP's AN10922
// describes: CMAC under master of 01 ‖ UID ‖ AID ‖ system identifier, padded with
// 80 00… to 32 bytes. It returns nil when master is not 16 bytes or the input (UID,
// AID and system identifier together) is empty or longer than 31 bytes; see
// DiversifyKeyAES128 for the error.
func DiversifyAES128(master, uid, aid, systemID []byte) []byte {
	m := append(append(append([]byte(nil), uid...), aid...), systemID...)
	k, err := DiversifyKeyAES128(master, m)
	if err != nil {
		return nil
	}
	return k
}

// DiversifyKeyAES128 is DiversifyAES128 over a diversification input m given whole.
func DiversifyKeyAES128(master, m []byte) ([]byte, error) {
	if len(master) != 16 {
		return nil, fmt.Errorf("key diversification: master key is %d bytes, want 16 (AES-128)", len(master))
	}
	if len(m) == 0 || len(m) > 31 {
		return nil, fmt.Errorf("key diversification: input is %d bytes, want 1 to 31", len(m))
	}
	block, err := aes.NewCipher(master)
	if err != nil {
		return nil, fmt.Errorf("key diversification: %w", err)
	}
	// Always two blocks: an input shorter than 31 bytes is padded to 32 and, as in
	// CMAC, the last block then takes subkey K2 instead of K1.
	d := make([]byte, 32)
	d[0] = 0x01
	copy(d[1:], m)
	var k [16]byte
	block.Encrypt(k[:], k[:])
	double(&k)
	if len(m) < 31 {
		d[1+len(m)] = 0x80
		double(&k)
	}
	subtle.XORBytes(d[16:], d[16:], k[:])
	var x [16]byte
	block.Encrypt(x[:], d[:16])
	subtle.XORBytes(x[:], x[:], d[16:])
	block.Encrypt(x[:], x[:])
	return x[:], nil
}
