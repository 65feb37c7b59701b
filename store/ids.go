package store

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"sync"
	"time"
)

// Id prefixes name what an id points at.
const (
	PrefixAccount  = "acct"
	PrefixTransfer = "tr"
	PrefixEvent    = "evt"
	PrefixOrder    = "ord"
	PrefixReply    = "rep"
	PrefixTag      = "tag"
	PrefixDevice   = "dev"
	PrefixCard     = "card"
	PrefixToken    = "tok"
	PrefixKey      = "key"
	PrefixRefund   = "rf"
)

// Crockford base32: sorts like the bytes it encodes, no ambiguous letters.
const idAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

var (
	idMu   sync.Mutex
	idLast uint64
)

// NewID returns prefix_ followed by 26 characters: 48 bits of milliseconds and a 16-bit
// counter for ids made within the same millisecond (together monotonic within this
// process), then 64 random bits, so ids sort by creation and are usable directly as
// bbolt keys.
func NewID(prefix string) string {
	idMu.Lock()
	ms := uint64(time.Now().UnixMilli()) << 16
	if ms <= idLast {
		ms = idLast + 1 // several per millisecond: keep order with a sub-millisecond counter
	}
	idLast = ms
	idMu.Unlock()

	var raw [16]byte
	binary.BigEndian.PutUint64(raw[:8], ms)
	rand.Read(raw[8:]) // never fails since Go 1.24
	return prefix + "_" + encode128(raw)
}

func encode128(b [16]byte) string {
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = idAlphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// ValidID reports whether s looks like an id of the given prefix, so a hostile id
// (path pieces, control characters) is refused before it reaches a bucket.
func ValidID(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok || len(rest) != 26 {
		return false
	}
	for _, r := range rest {
		if !strings.ContainsRune(idAlphabet, r) {
			return false
		}
	}
	return true
}
