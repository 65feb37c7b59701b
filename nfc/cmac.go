package nfc

import (
	"crypto/aes"
	"crypto/subtle"
	"fmt"
)

// CMAC is AES-CMAC (RFC 4493, NIST SP 800-38B) of msg under key, 16 bytes. It is what
// NTAG 424 DNA uses both to derive SUN session keys and to MAC the SUN message. key
// must be 16, 24 or 32 bytes; any other length returns nil.
func CMAC(key, msg []byte) []byte {
	mac, err := cmac(key, msg)
	if err != nil {
		return nil
	}
	return mac
}

func cmac(key, msg []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("AES-CMAC key: %w", err)
	}
	const n = aes.BlockSize
	// Subkeys K1 = L·x and K2 = L·x² in GF(2^128), L = AES(key, 0).
	var k1, k2 [n]byte
	block.Encrypt(k1[:], k1[:])
	double(&k1)
	k2 = k1
	double(&k2)

	blocks := (len(msg) + n - 1) / n
	complete := blocks > 0 && len(msg)%n == 0
	if blocks == 0 {
		blocks = 1
	}
	var last [n]byte
	tail := msg[(blocks-1)*n:]
	if complete {
		subtle.XORBytes(last[:], tail, k1[:])
	} else {
		copy(last[:], tail)
		last[len(tail)] = 0x80
		subtle.XORBytes(last[:], last[:], k2[:])
	}
	var x [n]byte
	for i := 0; i < blocks-1; i++ {
		subtle.XORBytes(x[:], x[:], msg[i*n:(i+1)*n])
		block.Encrypt(x[:], x[:])
	}
	subtle.XORBytes(x[:], x[:], last[:])
	block.Encrypt(x[:], x[:])
	return x[:], nil
}

// double multiplies b by x in GF(2^128) with the CMAC polynomial (Rb = 0x87).
func double(b *[16]byte) {
	carry := b[0] >> 7
	for i := 0; i < 15; i++ {
		b[i] = b[i]<<1 | b[i+1]>>7
	}
	b[15] = b[15]<<1 ^ (0x87 & -carry)
}
