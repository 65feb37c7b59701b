package nfc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/hex"
	"fmt"
	"math/big"
)

// NXP's originality public keys. A genuine IC carries a signature, made at the factory
// with NXP's private key, over its UID; a clone with a copied UID cannot carry a valid
// one unless the whole signature was copied too, which only a UID check can catch.
const (
	// NTAG21x (NXP AN11350), secp128r1.
	keyNTAG21x = "04494E1A386D3D3CFE3DC10E5DE68A499B1C202DB5B132393E89ED19FE5BE8BC61"
	// MIFARE Ultralight EV1 (NXP AN11341), secp128r1.
	keyUltralightEV1 = "0490933BDCD6E99B4E255E3DA55389A827564E11718E017292FAF23226A96614B8"
	// NTAG 424 DNA (NXP AN12196), secp224r1.
	keyNTAG424DNA = "048A9B380AF2EE1B98DC417FECC263F8449C7625CECE82D9B916C992DA" +
		"209D68422B81EC20B65A66B5102A61596AF3379200599316A00A1410"
)

// VerifyOriginality checks the originality signature sig (READ_SIG) of a tag of type t
// with UID uid against NXP's public key for that IC: ECDSA over the raw UID, no hash,
// sig = r‖s (secp128r1, 32 bytes, for NTAG21x and Ultralight EV1; secp224r1, 56 bytes,
// for NTAG 424 DNA). It returns false for a signature that does not verify, and an
// error for an IC without originality signature or input of the wrong length.
func VerifyOriginality(t TagType, uid, sig []byte) (bool, error) {
	if len(uid) != 7 {
		return false, fmt.Errorf("originality check: UID is %d bytes, want 7", len(uid))
	}
	switch t {
	case TypeNTAG213, TypeNTAG215, TypeNTAG216, TypeUltralightEV1:
		if len(sig) != 32 {
			return false, fmt.Errorf("originality check: signature is %d bytes, want 32 for %s", len(sig), t)
		}
		key := keyNTAG21x
		if t == TypeUltralightEV1 {
			key = keyUltralightEV1
		}
		qx, qy, err := secp128r1.parsePoint(key)
		if err != nil {
			return false, err
		}
		r := new(big.Int).SetBytes(sig[:16])
		s := new(big.Int).SetBytes(sig[16:])
		return secp128r1.verify(qx, qy, new(big.Int).SetBytes(uid), r, s), nil
	case TypeNTAG424DNA:
		if len(sig) != 56 {
			return false, fmt.Errorf("originality check: signature is %d bytes, an NTAG 424 DNA signs with 56", len(sig))
		}
		raw, err := hex.DecodeString(keyNTAG424DNA)
		if err != nil {
			return false, fmt.Errorf("originality check: NTAG 424 DNA key: %w", err)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P224(), raw)
		if err != nil {
			return false, fmt.Errorf("originality check: NTAG 424 DNA key: %w", err)
		}
		r := new(big.Int).SetBytes(sig[:28])
		s := new(big.Int).SetBytes(sig[28:])
		// The UID is shorter than the curve order, so ECDSA uses it whole as the digest.
		return ecdsa.Verify(pub, uid, r, s), nil
	default:
		return false, fmt.Errorf("%w: %s %s has no originality signature to check", ErrUnsupported, article(string(t)), t)
	}
}

// shortCurve is a curve y² = x³ + ax + b over GF(p) with a base point of order n.
// crypto/elliptic has no secp128r1, so its arithmetic lives here, in affine
// coordinates: verification is rare and the numbers are small.
type shortCurve struct {
	p, a, b, n, gx, gy *big.Int
}

func hexInt(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 16)
	if !ok {
		panic("bad curve constant " + s) // constants below; never reached with input
	}
	return v
}

// secp128r1 as SEC 2 defines it.
var secp128r1 = &shortCurve{
	p:  hexInt("FFFFFFFDFFFFFFFFFFFFFFFFFFFFFFFF"),
	a:  hexInt("FFFFFFFDFFFFFFFFFFFFFFFFFFFFFFFC"),
	b:  hexInt("E87579C11079F43DD824993C2CEE5ED3"),
	n:  hexInt("FFFFFFFE0000000075A30D1B9038A115"),
	gx: hexInt("161FF7528B899B2D0C28607CA52C5B86"),
	gy: hexInt("CF5AC8395BAFEB13C02DA292DDED7A83"),
}

// parsePoint reads an uncompressed point (04 ‖ X ‖ Y) given in hex and checks it is on
// the curve.
func (c *shortCurve) parsePoint(h string) (x, y *big.Int, err error) {
	raw, err := hex.DecodeString(h)
	size := (c.p.BitLen() + 7) / 8
	if err != nil || len(raw) != 1+2*size || raw[0] != 0x04 {
		return nil, nil, fmt.Errorf("originality check: public key %s is not an uncompressed point", h)
	}
	x = new(big.Int).SetBytes(raw[1 : 1+size])
	y = new(big.Int).SetBytes(raw[1+size:])
	if !c.onCurve(x, y) {
		return nil, nil, fmt.Errorf("originality check: public key %s is not on the curve", h)
	}
	return x, y, nil
}

func (c *shortCurve) onCurve(x, y *big.Int) bool {
	if x.Sign() < 0 || x.Cmp(c.p) >= 0 || y.Sign() < 0 || y.Cmp(c.p) >= 0 {
		return false
	}
	lhs := new(big.Int).Mul(y, y)
	lhs.Mod(lhs, c.p)
	rhs := new(big.Int).Mul(x, x)
	rhs.Add(rhs, c.a)
	rhs.Mul(rhs, x)
	rhs.Add(rhs, c.b)
	rhs.Mod(rhs, c.p)
	return lhs.Cmp(rhs) == 0
}

// add returns P+Q; a nil x stands for the point at infinity.
func (c *shortCurve) add(x1, y1, x2, y2 *big.Int) (*big.Int, *big.Int) {
	if x1 == nil {
		return x2, y2
	}
	if x2 == nil {
		return x1, y1
	}
	var lambda *big.Int
	if x1.Cmp(x2) == 0 {
		sum := new(big.Int).Add(y1, y2)
		if sum.Mod(sum, c.p).Sign() == 0 {
			return nil, nil // P + (-P), or doubling a point with y = 0
		}
		// λ = (3x² + a) / 2y
		num := new(big.Int).Mul(x1, x1)
		num.Mul(num, big.NewInt(3))
		num.Add(num, c.a)
		den := new(big.Int).Lsh(y1, 1)
		lambda = num.Mul(num, den.ModInverse(den.Mod(den, c.p), c.p))
	} else {
		// λ = (y2 - y1) / (x2 - x1)
		num := new(big.Int).Sub(y2, y1)
		den := new(big.Int).Sub(x2, x1)
		den.Mod(den, c.p)
		lambda = num.Mul(num, den.ModInverse(den, c.p))
	}
	lambda.Mod(lambda, c.p)
	x3 := new(big.Int).Mul(lambda, lambda)
	x3.Sub(x3, x1)
	x3.Sub(x3, x2)
	x3.Mod(x3, c.p)
	y3 := new(big.Int).Sub(x1, x3)
	y3.Mul(y3, lambda)
	y3.Sub(y3, y1)
	y3.Mod(y3, c.p)
	return x3, y3
}

// mul returns kP by double-and-add.
func (c *shortCurve) mul(k, x, y *big.Int) (*big.Int, *big.Int) {
	var rx, ry *big.Int
	for i := k.BitLen() - 1; i >= 0; i-- {
		rx, ry = c.add(rx, ry, rx, ry)
		if k.Bit(i) == 1 {
			rx, ry = c.add(rx, ry, x, y)
		}
	}
	return rx, ry
}

// verify is ECDSA verification of (r, s) over the message integer e with public key Q.
func (c *shortCurve) verify(qx, qy, e, r, s *big.Int) bool {
	if r.Sign() <= 0 || r.Cmp(c.n) >= 0 || s.Sign() <= 0 || s.Cmp(c.n) >= 0 {
		return false
	}
	if excess := e.BitLen() - c.n.BitLen(); excess > 0 {
		e = new(big.Int).Rsh(e, uint(excess)) // leftmost bits, as ECDSA truncates a digest
	}
	w := new(big.Int).ModInverse(s, c.n)
	if w == nil {
		return false
	}
	u1 := new(big.Int).Mul(e, w)
	u1.Mod(u1, c.n)
	u2 := new(big.Int).Mul(r, w)
	u2.Mod(u2, c.n)
	x1, y1 := c.mul(u1, c.gx, c.gy)
	x2, y2 := c.mul(u2, qx, qy)
	x, _ := c.add(x1, y1, x2, y2)
	if x == nil {
		return false
	}
	return new(big.Int).Mod(x, c.n).Cmp(r) == 0
}
