package emu

import (
	"crypto/aes"
	"crypto/cipher"
	"hash/crc32"
)

// The emulated NTAG 424 DNA keeps its own AES-CMAC and secure-messaging arithmetic
// rather than calling package nfc's, so that tests pitting the reader code against
// the emulator compare two independent implementations.

type block16 = [16]byte

func aesBlock(key []byte) cipher.Block {
	b, err := aes.NewCipher(key)
	if err != nil {
		// Every key here is a fixed-size 16-byte array or a checked 16-byte slice.
		panic("emu: AES-128 key of the wrong size")
	}
	return b
}

// shiftXor is the CMAC subkey step: b·x in GF(2^128), reduced by x^128+x^7+x^2+x+1.
func shiftXor(b block16) block16 {
	var out block16
	for i := 0; i < 16; i++ {
		out[i] = b[i] << 1
		if i < 15 {
			out[i] |= b[i+1] >> 7
		}
	}
	if b[0]&0x80 != 0 {
		out[15] ^= 0x87
	}
	return out
}

// aesCMAC computes AES-CMAC (NIST SP 800-38B) by CBC-encrypting the padded message
// with a zero IV and keeping the last block.
func aesCMAC(key, msg []byte) block16 {
	c := aesBlock(key)
	var l block16
	c.Encrypt(l[:], l[:])
	k1 := shiftXor(l)
	k2 := shiftXor(k1)

	n := (len(msg) + 15) / 16
	full := n > 0 && len(msg)%16 == 0
	if n == 0 {
		n = 1
	}
	buf := make([]byte, n*16)
	copy(buf, msg)
	sub := k1
	if !full {
		buf[len(msg)] = 0x80
		sub = k2
	}
	for i := 0; i < 16; i++ {
		buf[(n-1)*16+i] ^= sub[i]
	}
	cipher.NewCBCEncrypter(c, make([]byte, 16)).CryptBlocks(buf, buf)
	var out block16
	copy(out[:], buf[(n-1)*16:])
	return out
}

// macT keeps the odd-indexed bytes of a CMAC: the 8-byte MAC the tag sends.
func macT(full block16) []byte {
	out := make([]byte, 8)
	for i := range out {
		out[i] = full[2*i+1]
	}
	return out
}

// sessionKeys derives SesAuthENCKey and SesAuthMACKey from the authentication
// randoms: SV = label ‖ 00 01 00 80 ‖ A[0:2] ‖ (A[2:8] ⊕ B[0:6]) ‖ B[6:16] ‖ A[8:16].
func sessionKeys(key []byte, rndA, rndB block16) (enc, mac block16) {
	sv := func(l0, l1 byte) []byte {
		v := []byte{l0, l1, 0x00, 0x01, 0x00, 0x80}
		v = append(v, rndA[0], rndA[1])
		for i := 0; i < 6; i++ {
			v = append(v, rndA[2+i]^rndB[i])
		}
		v = append(v, rndB[6:16]...)
		return append(v, rndA[8:16]...)
	}
	return aesCMAC(key, sv(0xA5, 0x5A)), aesCMAC(key, sv(0x5A, 0xA5))
}

// smIV is the IV of a FULL-mode exchange: E(SesAuthENCKey, label ‖ TI ‖ CmdCtr ‖ 0⁸),
// label A5 5A for commands and 5A A5 for answers.
func smIV(enc block16, label0, label1 byte, ti [4]byte, ctr uint16) []byte {
	iv := make([]byte, 16)
	iv[0], iv[1] = label0, label1
	copy(iv[2:6], ti[:])
	iv[6], iv[7] = byte(ctr), byte(ctr>>8)
	aesBlock(enc[:]).Encrypt(iv, iv)
	return iv
}

// padISO appends 80 and zeros up to the next multiple of 16 (always at least one byte).
func padISO(b []byte) []byte {
	out := append(append([]byte(nil), b...), 0x80)
	for len(out)%16 != 0 {
		out = append(out, 0)
	}
	return out
}

// unpadISO strips 80 00…; false when the padding is missing.
func unpadISO(b []byte) ([]byte, bool) {
	for i := len(b) - 1; i >= 0 && i >= len(b)-16; i-- {
		switch b[i] {
		case 0x00:
			continue
		case 0x80:
			return b[:i], true
		}
		return nil, false
	}
	return nil, false
}

func cbcEncrypt(key []byte, iv, data []byte) []byte {
	out := make([]byte, len(data))
	cipher.NewCBCEncrypter(aesBlock(key), iv).CryptBlocks(out, data)
	return out
}

func cbcDecrypt(key []byte, iv, data []byte) []byte {
	out := make([]byte, len(data))
	cipher.NewCBCDecrypter(aesBlock(key), iv).CryptBlocks(out, data)
	return out
}

// jamCRC is the CRC32 ChangeKey appends to a new key: IEEE CRC32 without its final
// complement, little-endian.
func jamCRC(b []byte) []byte {
	c := ^crc32.ChecksumIEEE(b)
	return []byte{byte(c), byte(c >> 8), byte(c >> 16), byte(c >> 24)}
}

func rotl(b block16) block16 {
	var out block16
	copy(out[:], b[1:])
	out[15] = b[0]
	return out
}
