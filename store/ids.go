package store

import (
	"crypto/rand"
	"encoding/binary"
	"slices"
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
	PrefixWebhook  = "whk"
	PrefixAttempt  = "att"
)

// idPrefixes are the prefixes of every id the ledger makes, for CanonicalID.
var idPrefixes = []string{
	PrefixAccount, PrefixTransfer, PrefixEvent, PrefixOrder, PrefixReply, PrefixTag, PrefixDevice,
	PrefixCard, PrefixToken, PrefixKey, PrefixRefund, PrefixWebhook, PrefixAttempt,
}

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

// FreeText reports whether the request field or command-line flag called name holds
// what a person wrote (a memo, a name, a label, a reason) or an idempotency key: these
// are kept exactly as given, even when they look like an id, by the command line and
// the API alike. Flags spell the names with "-", JSON fields with "_".
func FreeText(name string) bool {
	switch strings.ToLower(strings.ReplaceAll(name, "-", "_")) {
	case "idempotency_key", "memo", "name", "label", "reason":
		return true
	}
	return false
}

// CanonicalID returns s as the ledger spells it when s is one of its ids written in
// another case. The ids are Crockford base32, which reads upper and lower case alike
// (and I and L as 1, O as 0), so an id copied from an upper-case label or read aloud
// still names its record. Anything that is not such an id comes back unchanged.
func CanonicalID(s string) string {
	cut := strings.IndexByte(s, '_')
	if cut < 0 || len(s)-cut-1 != 26 {
		return s
	}
	prefix := strings.ToLower(s[:cut])
	if !slices.Contains(idPrefixes, prefix) {
		return s
	}
	out := []byte(prefix + "_" + s[cut+1:])
	for i := cut + 1; i < len(out); i++ {
		c := out[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch c {
		case 'i', 'l':
			c = '1'
		case 'o':
			c = '0'
		}
		if strings.IndexByte(idAlphabet, c) < 0 {
			return s
		}
		out[i] = c
	}
	return string(out)
}

// NewID returns a new id for a record this transaction writes. The first id of each
// prefix shares one body with the transaction's other first ids: a tap's reply, order,
// transfer and event are rep_X, ord_X, tr_X and evt_X. Each of them names the others,
// and a record that names several of them repeats 16 bytes that a packed ledger file
// stores in three. Further ids of a prefix are new ones, so no two records of a bucket
// share an id; bodies never repeat, since each is a NewID's.
func (tx *Tx) NewID(prefix string) string {
	if tx.idBody == "" {
		tx.idBody = NewID("")[1:]
	}
	if slices.Contains(tx.idPrefixes, prefix) {
		return NewID(prefix)
	}
	tx.idPrefixes = append(tx.idPrefixes, prefix)
	return prefix + "_" + tx.idBody
}
