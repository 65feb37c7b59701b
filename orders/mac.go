package orders

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/tagpay/tagpay/store"
)

// The MAC of a static tag binds its reference to its UID, so content copied onto
// another chip (another UID) or edited fails. The key is held in the ledger's key file,
// never in the ledger itself: only the holder of both can make a valid content, and a
// copied ledger file cannot.
const (
	tagMACSecret = store.SecretTagMAC
	tagMACDomain = "tagpay tag v1"
)

// uidSeparators are what people put between the bytes of a UID. A Replacer builds its
// tables on first use: made once, not once per tap.
var uidSeparators = strings.NewReplacer(":", "", "-", "", " ", "")

// NormalizeUID reads a tag UID typed or reported in hex (separators ':', '-' and spaces
// allowed) and returns it in upper-case hex. ISO 14443-3 UIDs are 4, 7 or 10 bytes.
func NormalizeUID(s string) (string, error) {
	clean := uidSeparators.Replace(strings.TrimSpace(s))
	raw, err := hex.DecodeString(clean)
	if err != nil || (len(raw) != 4 && len(raw) != 7 && len(raw) != 10) {
		return "", store.Errorf(store.KindInvalid, "invalid_uid", "tag UID %q is not 4, 7 or 10 bytes of hex", truncate(s, 64)).WithParam("uid")
	}
	return strings.ToUpper(clean), nil
}

// tagMAC computes the content MAC of a static tag. Fields are length-prefixed so that
// one cannot run into the next (UID 04AB + ref C… never equals UID 04 + ref ABC…).
func tagMAC(key []byte, uidHex, ref string) string {
	uid, _ := hex.DecodeString(uidHex) // normalized by the caller
	m := hmac.New(sha256.New, key)
	for _, field := range [][]byte{[]byte(tagMACDomain), uid, []byte(ref)} {
		m.Write([]byte{byte(len(field) >> 8), byte(len(field))})
		m.Write(field)
	}
	return hex.EncodeToString(m.Sum(nil)[:macHexLen/2])
}

// macEqual compares MACs in constant time.
func macEqual(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }

// newRef returns a random tag reference of refLen Crockford base32 characters (50 bits).
func newRef() string {
	var b [refLen]byte
	rand.Read(b[:]) // never fails since Go 1.24
	for i := range b {
		b[i] = refAlphabet[b[i]&31]
	}
	return string(b[:])
}
