package nfc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrNotSUN marks a URL that carries no SUN message at all (a static tag's URL, or a
// SUN parameter missing). Errors about a SUN message that is present but malformed
// do not match it.
var ErrNotSUN = errors.New("not a SUN URL")

// SUNResult is what a SUN URL says once decrypted and checked. UID and Counter come
// from the URL and mean nothing unless Valid.
type SUNResult struct {
	UID      []byte
	Counter  uint32
	FileData []byte // decrypted SDMENCFileData, when the URL has an enc parameter
	Valid    bool   // the MAC matches: the URL was made by a tag holding fileKey
}

// Session vector prefixes (AN12196, SUN in AES mode): SV1 derives the file data
// encryption key, SV2 the MAC key. Both continue with the mirrored UID and counter.
var (
	sv1Prefix = []byte{0xC3, 0x3C, 0x00, 0x01, 0x00, 0x80}
	sv2Prefix = []byte{0x3C, 0xC3, 0x00, 0x01, 0x00, 0x80}
)

// PICCDataTag bits: UID mirrored, counter mirrored, low nibble the UID length.
const (
	piccUID     = 0x80
	piccCounter = 0x40
	piccUIDLen  = 0x0F
)

// sunParams is a SUN URL taken apart, with the offsets the MAC input is cut from.
type sunParams struct {
	picc, enc, mac, uid, ctr string
	encStart, macStart       int // offsets in the raw URL of the enc and MAC values
	hasEnc                   bool
}

var sunNames = map[string]string{
	"e": "picc", "picc_data": "picc", "enc": "enc", "c": "mac", "cmac": "mac", "uid": "uid", "ctr": "ctr",
}

func parseSUNURL(rawURL string) (sunParams, error) {
	var p sunParams
	q := strings.IndexByte(rawURL, '?')
	if q < 0 {
		return p, fmt.Errorf("%w: the URL has no query (no c or cmac parameter)", ErrNotSUN)
	}
	end := len(rawURL)
	if h := strings.IndexByte(rawURL[q:], '#'); h >= 0 {
		end = q + h
	}
	seen := map[string]string{}
	for pos := q + 1; pos <= end; {
		next := strings.IndexByte(rawURL[pos:end], '&')
		if next < 0 {
			next = end - pos
		}
		pair := rawURL[pos : pos+next]
		name, value, _ := strings.Cut(pair, "=")
		valueStart := pos + len(name) + 1
		if role, ok := sunNames[name]; ok {
			if other, dup := seen[role]; dup {
				return p, fmt.Errorf("SUN URL: parameters %s and %s both given", other, name)
			}
			seen[role] = name
			switch role {
			case "picc":
				p.picc = value
			case "enc":
				p.enc, p.encStart, p.hasEnc = value, valueStart, true
			case "mac":
				p.mac, p.macStart = value, valueStart
			case "uid":
				p.uid = value
			case "ctr":
				p.ctr = value
			}
		}
		pos += next + 1
	}
	switch {
	case seen["mac"] == "":
		return p, fmt.Errorf("%w: no MAC parameter (c or cmac)", ErrNotSUN)
	case seen["picc"] == "" && seen["uid"] == "":
		return p, fmt.Errorf("%w: no PICC data parameter (e or picc_data, or uid with ctr)", ErrNotSUN)
	case seen["picc"] != "" && (seen["uid"] != "" || seen["ctr"] != ""):
		return p, errors.New("SUN URL: both encrypted PICC data and plain uid/ctr given")
	case seen["uid"] != "" && seen["ctr"] == "":
		return p, fmt.Errorf("%w: uid without ctr", ErrNotSUN)
	case p.hasEnc && p.encStart > p.macStart:
		return p, errors.New("SUN URL: the enc parameter must come before the MAC it is covered by")
	}
	return p, nil
}

func hexParam(name, v string, size int) ([]byte, error) {
	if len(v) != 2*size {
		return nil, fmt.Errorf("SUN URL: %s must be %d hex digits, has %d characters", name, 2*size, len(v))
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("SUN URL: %s is not hex: %w", name, err)
	}
	return b, nil
}

// VerifySUN decrypts and checks the SUN message in rawURL (NTAG 424 DNA, AES mode,
// AN12196). metaKey is the tag's SDMMetaRead key (decrypts the PICC data), fileKey its
// SDMFileRead key (MAC and file data). The parameters may be named e or picc_data
// (encrypted PICC data), uid and ctr (plain mirroring, counter big-endian), enc
// (encrypted file data), c or cmac (the MAC), in any order.
//
// The MAC input is the URL text from the tag's SDMMACInputOffset to the MAC. NXP's
// layouts put that offset at the MAC itself (empty input) unless file data is
// mirrored, where it is the start of the enc value, so the input is that value and
// the text up to the MAC (e.g. "CEE9…62&cmac="). VerifySUN assumes these layouts.
//
// A URL without a SUN message returns an error matching ErrNotSUN; a well-formed
// message whose MAC does not match returns Valid false and no error.
func VerifySUN(rawURL string, metaKey, fileKey []byte) (SUNResult, error) {
	var res SUNResult
	p, err := parseSUNURL(rawURL)
	if err != nil {
		return res, err
	}
	if len(fileKey) != 16 {
		return res, fmt.Errorf("SUN file key is %d bytes, want 16", len(fileKey))
	}
	mac, err := hexParam("MAC", p.mac, 8)
	if err != nil {
		return res, err
	}
	var uid, ctr []byte // ctr little-endian, as the session vectors want it
	if p.picc != "" {
		if len(metaKey) != 16 {
			return res, fmt.Errorf("SUN meta key is %d bytes, want 16", len(metaKey))
		}
		enc, err := hexParam("PICC data", p.picc, 16)
		if err != nil {
			return res, err
		}
		if uid, ctr, err = decryptPICCData(metaKey, enc); err != nil {
			return res, err
		}
	} else {
		if uid, err = hexParam("uid", p.uid, 7); err != nil {
			return res, err
		}
		be, err := hexParam("ctr", p.ctr, 3)
		if err != nil {
			return res, err
		}
		ctr = []byte{be[2], be[1], be[0]}
	}
	res.UID = uid
	if ctr != nil {
		res.Counter = uint32(ctr[0]) | uint32(ctr[1])<<8 | uint32(ctr[2])<<16
	}
	var input []byte
	if p.hasEnc {
		if uid == nil || ctr == nil {
			return res, errors.New("SUN URL: encrypted file data needs both UID and counter mirrored")
		}
		if len(p.enc) == 0 || len(p.enc)%32 != 0 {
			return res, fmt.Errorf("SUN URL: enc must be a multiple of 32 hex digits, has %d characters", len(p.enc))
		}
		encData, err := hex.DecodeString(p.enc)
		if err != nil {
			return res, fmt.Errorf("SUN URL: enc is not hex: %w", err)
		}
		if res.FileData, err = decryptFileData(fileKey, uid, ctr, encData); err != nil {
			return res, err
		}
		input = []byte(rawURL[p.encStart:p.macStart])
	}
	want, err := sunMAC(fileKey, uid, ctr, input)
	if err != nil {
		return res, err
	}
	res.Valid = subtle.ConstantTimeCompare(want, mac) == 1
	return res, nil
}

// decryptPICCData opens the e parameter: AES-CBC with a zero IV under the meta key,
// giving PICCDataTag ‖ UID ‖ counter (little-endian) ‖ random padding.
func decryptPICCData(metaKey, enc []byte) (uid, ctr []byte, err error) {
	block, err := aes.NewCipher(metaKey)
	if err != nil {
		return nil, nil, fmt.Errorf("SUN meta key: %w", err)
	}
	plain := make([]byte, 16)
	cipher.NewCBCDecrypter(block, make([]byte, 16)).CryptBlocks(plain, enc)
	tag := plain[0]
	if tag&^(piccUID|piccCounter|piccUIDLen) != 0 || tag&(piccUID|piccCounter) == 0 {
		return nil, nil, fmt.Errorf("SUN PICC data does not decrypt to a PICC data tag (got 0x%02X): wrong meta key or altered URL", tag)
	}
	rest := plain[1:]
	if tag&piccUID != 0 {
		if n := int(tag & piccUIDLen); n != 7 {
			return nil, nil, fmt.Errorf("SUN PICC data announces a %d-byte UID, NTAG 424 DNA has 7: wrong meta key or altered URL", n)
		}
		uid, rest = append([]byte(nil), rest[:7]...), rest[7:]
	}
	if tag&piccCounter != 0 {
		ctr = append([]byte(nil), rest[:3]...)
	}
	return uid, ctr, nil
}

// sessionVector is prefix ‖ UID ‖ counter, zero-padded to a multiple of 16 bytes.
func sessionVector(prefix, uid, ctr []byte) []byte {
	sv := append(append(append([]byte(nil), prefix...), uid...), ctr...)
	if r := len(sv) % 16; r != 0 {
		sv = append(sv, make([]byte, 16-r)...)
	}
	return sv
}

// sunMACKey is KSesSDMFileReadMAC = CMAC(fileKey, SV2).
func sunMACKey(fileKey, uid, ctr []byte) ([]byte, error) {
	return cmac(fileKey, sessionVector(sv2Prefix, uid, ctr))
}

// sunMAC is the 8-byte SDMMAC: the odd-indexed bytes of CMAC(session key, input).
func sunMAC(fileKey, uid, ctr, input []byte) ([]byte, error) {
	key, err := sunMACKey(fileKey, uid, ctr)
	if err != nil {
		return nil, fmt.Errorf("SUN file key: %w", err)
	}
	full, err := cmac(key, input)
	if err != nil {
		return nil, err
	}
	return truncateMAC(full), nil
}

func truncateMAC(full []byte) []byte {
	out := make([]byte, 0, len(full)/2)
	for i := 1; i < len(full); i += 2 {
		out = append(out, full[i])
	}
	return out
}

// decryptFileData opens the enc parameter: AES-CBC under KSesSDMFileReadENC =
// CMAC(fileKey, SV1) with IV = AES(that key, counter ‖ 13 zero bytes).
func decryptFileData(fileKey, uid, ctr, enc []byte) ([]byte, error) {
	key, err := cmac(fileKey, sessionVector(sv1Prefix, uid, ctr))
	if err != nil {
		return nil, fmt.Errorf("SUN file key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	iv := make([]byte, 16)
	copy(iv, ctr)
	block.Encrypt(iv, iv)
	plain := make([]byte, len(enc))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, enc)
	return plain, nil
}

// BuildSUN makes the URL a tag with these keys would show on read number counter:
// base + "?e=<PICC data>&c=<MAC>", or "?uid=<UID>&ctr=<counter>&c=<MAC>" when plain
// (uid and counter in clear, counter big-endian). Hex is upper case, as tags mirror it.
// metaKey is unused when plain.
func BuildSUN(base string, uid []byte, counter uint32, metaKey, fileKey []byte, plain bool) (string, error) {
	if len(uid) != 7 {
		return "", fmt.Errorf("SUN: UID is %d bytes, want 7", len(uid))
	}
	if counter > 0xFFFFFF {
		return "", fmt.Errorf("SUN: counter %d does not fit in 3 bytes", counter)
	}
	if len(fileKey) != 16 {
		return "", fmt.Errorf("SUN file key is %d bytes, want 16", len(fileKey))
	}
	ctr := []byte{byte(counter), byte(counter >> 8), byte(counter >> 16)}
	mac, err := sunMAC(fileKey, uid, ctr, nil)
	if err != nil {
		return "", err
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	upper := func(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }
	if plain {
		return fmt.Sprintf("%s%suid=%s&ctr=%06X&c=%s", base, sep, upper(uid), counter, upper(mac)), nil
	}
	if len(metaKey) != 16 {
		return "", fmt.Errorf("SUN meta key is %d bytes, want 16", len(metaKey))
	}
	block, err := aes.NewCipher(metaKey)
	if err != nil {
		return "", fmt.Errorf("SUN meta key: %w", err)
	}
	picc := make([]byte, 16)
	picc[0] = piccUID | piccCounter | 7
	copy(picc[1:], uid)
	copy(picc[8:], ctr)
	// Random padding, as the tag does, so equal UID and counter never repeat a ciphertext.
	if _, err := rand.Read(picc[11:]); err != nil {
		return "", fmt.Errorf("SUN: random padding: %w", err)
	}
	cipher.NewCBCEncrypter(block, make([]byte, 16)).CryptBlocks(picc, picc)
	return fmt.Sprintf("%s%se=%s&c=%s", base, sep, upper(picc), upper(mac)), nil
}
