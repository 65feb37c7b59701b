package store

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/s2"
)

// A bbolt file stores the records of the buckets that grow with every tap packed: their
// ids, times and hashes in binary, then compressed with S2 against a dictionary of
// records of that bucket. A tap's records shrink from about 2.3 KB of JSON to about
// 0.5 KB. PostgreSQL keeps JSON, which its views read.
//
// A packed value is packMark and an S2 block. Any other value is the record as it is:
// records written before packing, and those packing would not shrink. The marker, the
// token layout and the dictionaries are part of the file format: a change to any of them
// needs a new marker, and the old one must stay readable.
const packMark = 0x01

// Tokens of the packed form (before compression). Each stands for a JSON string,
// quotes included; packEscape makes the next byte literal, so that any input packs.
// JSON never holds these bytes unescaped, so records need no escapes.
const (
	tokTime    = 0x01 // 8 bytes of Unix seconds, 4 of nanoseconds: an RFC 3339 UTC time
	tokNano    = 0x02 // 8 bytes of Unix nanoseconds: such a time from 1970 to 2262
	tokHex16   = 0x03 // 16 bytes: 32 lower-case hex digits
	tokHex32   = 0x04 // 32 bytes: 64 lower-case hex digits (a SHA-256)
	packEscape = 0x05
	// tokID+i, then 16 bytes, is the id "<packPrefixes[i]>_<26 base32>".
	tokID = 0x06
	// tokWord+i is the key segment keyWords[i]; the ids' tokens end before it (one per
	// packPrefixes, as TestPackPrefixesSortAsIDs holds).
	tokWord = tokID + 13
	// tokUUID, then 16 bytes, is a key segment that is a UUID in lower case (an
	// idempotency key as clients make them).
	tokUUID   = tokWord + 3
	lastToken = tokUUID
)

// packPrefixes are the id prefixes that tokens number, in the order "<prefix>_" sorts,
// so that packed keys sort as their text. Part of the file format: never reorder them.
// An id of a prefix added later stays text in values; in the keys of keyPacked buckets
// it would sort apart from packed ids, so such a prefix needs a new table.
var packPrefixes = []string{"acct", "att", "card", "dev", "evt", "key", "ord", "rep", "rf", "tag", "tok", "tr", "whk"}

// keyWords are the words that begin the order index's keys, in the order they sort.
// Part of the file format, as packPrefixes.
var keyWords = []string{"payee", "payer", "tag"}

// maxUnpacked bounds what one packed value may claim to hold, so that a damaged length
// cannot make a reader allocate gigabytes.
const maxUnpacked = 16 << 20

// packDicts are the dictionaries of the packed buckets, made once from packSamples.
var packDicts = sync.OnceValue(func() map[Bucket]*s2.Dict {
	out := make(map[Bucket]*s2.Dict, len(packSamples))
	for b, samples := range packSamples {
		var dict []byte
		for _, s := range samples {
			dict = appendTokens(dict, []byte(s))
		}
		out[b] = s2.MakeDictManual(dict, 0)
	}
	return out
})

// packValue returns v as bucket b stores it in a bbolt file. The result is a new slice
// (bbolt holds a value until the commit).
func packValue(b Bucket, v []byte) []byte {
	d := packDicts()[b]
	if d == nil || len(v) == 0 {
		return v
	}
	tokens, block := packBuffers.Get().(*[]byte), packBuffers.Get().(*[]byte)
	defer packBuffers.Put(tokens)
	defer packBuffers.Put(block)
	*tokens = appendTokens((*tokens)[:0], v)
	*block = d.Encode((*block)[:cap(*block)], *tokens)
	if 1+len(*block) >= len(v) && v[0] != packMark {
		return v
	}
	return append([]byte{packMark}, *block...)
}

var packBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// unpackValue returns the record that v, read from bucket b of a bbolt file, holds.
func unpackValue(b Bucket, v []byte) ([]byte, error) {
	d := packDicts()[b]
	if d == nil || len(v) == 0 || v[0] != packMark {
		return v, nil
	}
	n, err := s2.DecodedLen(v[1:])
	if err != nil {
		return nil, fmt.Errorf("packed record: %w", err)
	}
	if n > maxUnpacked {
		return nil, fmt.Errorf("packed record claims %d bytes", n)
	}
	buf := packBuffers.Get().(*[]byte)
	defer packBuffers.Put(buf)
	tokens, err := d.Decode((*buf)[:0], v[1:])
	if err != nil {
		return nil, fmt.Errorf("packed record: %w", err)
	}
	out, err := appendText(make([]byte, 0, len(tokens)*3/2), tokens)
	if tokens != nil && cap(tokens) <= 64<<10 {
		*buf = tokens[:0]
	}
	return out, err
}

// appendTokens appends src with its ids, times and hashes as tokens.
func appendTokens(dst, src []byte) []byte {
	for len(src) > 0 {
		q := bytes.IndexByte(src, '"')
		if q < 0 {
			q = len(src)
		}
		dst = appendLiteral(dst, src[:q])
		if src = src[q:]; len(src) == 0 {
			break
		}
		if end := bytes.IndexByte(src[1:], '"'); end >= 0 {
			if out, ok := appendToken(dst, src[1:1+end]); ok {
				dst, src = out, src[end+2:]
				continue
			}
		}
		dst, src = append(dst, '"'), src[1:]
	}
	return dst
}

// appendLiteral appends s with the bytes that tokens use escaped (JSON has none).
func appendLiteral(dst, s []byte) []byte {
	for i, c := range s {
		if c <= lastToken {
			dst = append(dst, s[:i]...)
			for _, c := range s[i:] {
				if c <= lastToken {
					dst = append(dst, packEscape)
				}
				dst = append(dst, c)
			}
			return dst
		}
	}
	return append(dst, s...)
}

// appendToken appends the token for the JSON string whose contents are s, if s is an id,
// a time or a hash that the token gives back exactly.
func appendToken(dst, s []byte) ([]byte, bool) {
	switch {
	case len(s) == 64 || len(s) == 32:
		var h [32]byte
		n, err := hex.Decode(h[:], s)
		if err != nil || bytes.ContainsAny(s, "ABCDEF") {
			return dst, false
		}
		if n == 16 {
			return append(append(dst, tokHex16), h[:16]...), true
		}
		return append(append(dst, tokHex32), h[:]...), true
	case len(s) >= 20 && len(s) <= 30 && s[len(s)-1] == 'Z' && s[4] == '-' && s[10] == 'T':
		t, ok := parseUTC(s)
		if !ok {
			return dst, false
		}
		if t.Year() < 2262 {
			return binary.BigEndian.AppendUint64(append(dst, tokNano), uint64(t.UnixNano())), true
		}
		dst = append(dst, tokTime)
		dst = binary.BigEndian.AppendUint64(dst, uint64(t.Unix()))
		return binary.BigEndian.AppendUint32(dst, uint32(t.Nanosecond())), true
	case len(s) >= 28 && len(s) <= 31 && s[len(s)-27] == '_':
		return appendID(dst, s)
	}
	return dst, false
}

// parseUTC reads s if it is a time from 1970 on exactly as time.RFC3339Nano writes it in
// UTC ("2006-01-02T15:04:05.999999999Z": a fraction without trailing zeros, or none), so
// that the time gives s back. It is time.Parse and a check by Format, several times faster
// (a tap packs eight times).
func parseUTC(s []byte) (time.Time, bool) {
	n := len(s)
	if n < 20 || n == 21 || n > 30 || s[n-1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	digits := func(b []byte) (int, bool) {
		v := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || year < 1970 || month < 1 || month > 12 ||
		day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if n > 20 {
		frac := s[20 : n-1]
		v, ok := digits(frac)
		if s[19] != '.' || !ok || frac[len(frac)-1] == '0' {
			return time.Time{}, false
		}
		for range 9 - len(frac) {
			v *= 10
		}
		nsec = v
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// appendID appends the token of id s, if it is one of the ledger's.
func appendID(dst, s []byte) ([]byte, bool) {
	p := slices.IndexFunc(packPrefixes, func(pre string) bool { return pre == string(s[:len(s)-27]) })
	raw, ok := decode128(s[len(s)-26:])
	if p < 0 || !ok {
		return dst, false
	}
	return append(append(dst, byte(tokID+p)), raw[:]...), true
}

// appendText appends the text that tokens stand for: the inverse of appendTokens.
func appendText(dst, tokens []byte) ([]byte, error) {
	short := errors.New("packed record ends inside a token")
	for i := 0; i < len(tokens); i++ {
		c := tokens[i]
		switch {
		case c >= tokID && c < tokWord:
			if len(tokens)-i < 17 {
				return nil, short
			}
			dst = appendIDText(append(dst, '"'), c, tokens[i+1:i+17])
			dst = append(dst, '"')
			i += 16
		case c == tokNano:
			if len(tokens)-i < 9 {
				return nil, short
			}
			ns := int64(binary.BigEndian.Uint64(tokens[i+1:]))
			if ns < 0 {
				return nil, errors.New("packed record holds an impossible time")
			}
			dst = appendTimeText(dst, time.Unix(0, ns))
			i += 8
		case c == tokTime:
			if len(tokens)-i < 13 {
				return nil, short
			}
			sec := int64(binary.BigEndian.Uint64(tokens[i+1:]))
			nsec := binary.BigEndian.Uint32(tokens[i+9:])
			if nsec >= 1e9 || sec < 0 || sec > 253402300799 { // up to 9999-12-31T23:59:59Z
				return nil, errors.New("packed record holds an impossible time")
			}
			dst = appendTimeText(dst, time.Unix(sec, int64(nsec)))
			i += 12
		case c == tokHex16 || c == tokHex32:
			n := 16
			if c == tokHex32 {
				n = 32
			}
			if len(tokens)-i <= n {
				return nil, short
			}
			dst = append(dst, '"')
			dst = hex.AppendEncode(dst, tokens[i+1:i+1+n])
			dst = append(dst, '"')
			i += n
		case c == packEscape:
			if i+1 == len(tokens) {
				return nil, short
			}
			i++
			dst = append(dst, tokens[i])
		case c <= lastToken:
			return nil, fmt.Errorf("packed record holds token %#x where it takes none", c)
		default:
			dst = append(dst, c)
		}
	}
	return dst, nil
}

// appendTimeText appends t as a JSON string, as a time token stands for it.
func appendTimeText(dst []byte, t time.Time) []byte {
	dst = t.UTC().AppendFormat(append(dst, '"'), time.RFC3339Nano)
	return append(dst, '"')
}

// appendIDText appends the id that token tok and its 16 bytes stand for.
func appendIDText(dst []byte, tok byte, raw []byte) []byte {
	dst = append(append(dst, packPrefixes[tok-tokID]...), '_')
	return append(dst, encode128([16]byte(raw))...)
}

// decode128 reads the 26 base32 characters of an id, which encode128 gives back: the
// first must be 0 to 7, since 26 characters hold 130 bits.
func decode128(s []byte) (out [16]byte, ok bool) {
	if len(s) != 26 || s[0] > '7' {
		return out, false
	}
	var hi, lo uint64
	for _, c := range s {
		v := idValue[c]
		if v < 0 {
			return out, false
		}
		hi = hi<<5 | lo>>59
		lo = lo<<5 | uint64(v)
	}
	binary.BigEndian.PutUint64(out[:8], hi)
	binary.BigEndian.PutUint64(out[8:], lo)
	return out, true
}

// idValue maps a byte to its value in idAlphabet, or -1.
var idValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := range len(idAlphabet) {
		t[idAlphabet[i]] = int8(i)
	}
	return t
}()

// packSamples are the records each packed bucket's dictionary is made of: the shapes
// its records take, the commonest last (S2 reaches the end of a dictionary with the
// shortest offsets). Part of the file format: never edit these, add a marker instead.
var packSamples = map[Bucket][]string{
	BucketEvents: {
		`{"id":"evt_00000000000000000000000000","type":"tag.registered","created_at":"2026-12-01T00:00:00.123456789Z","subject":"tag_00000000000000000000000000","accounts":["acct_00000000000000000000000000"],"data":{"id":"tag_00000000000000000000000000","ref":"","uid":"04","kind":"static","merchant":"acct_00000000000000000000000000","currency":"EUR","base_url":"https://","content":"https://","status":"active","created_at":"2026-12-01T00:00:00.123456789Z","updated_at":"2026-12-01T00:00:00.123456789Z"}}`,
		`{"id":"evt_00000000000000000000000000","type":"account.funded","created_at":"2026-12-01T00:00:00.123456789Z","subject":"acct_00000000000000000000000000","accounts":["acct_00000000000000000000000000"],"data":{"id":"tr_00000000000000000000000000","kind":"topup","from":"acct_00000000000000000000000000","to":"acct_00000000000000000000000000","amount":{"amount":10000,"currency":"EUR"},"postings":[{"account":"acct_00000000000000000000000000","amount":{"amount":-10000,"currency":"EUR"}},{"account":"acct_00000000000000000000000000","amount":{"amount":10000,"currency":"EUR"}}],"created_at":"2026-12-01T00:00:00.123456789Z"}}`,
		`{"id":"evt_00000000000000000000000000","type":"order.paid","created_at":"2026-12-01T00:00:00.123456789Z","subject":"ord_00000000000000000000000000","accounts":["acct_00000000000000000000000000","acct_00000000000000000000000000"],"data":{"id":"ord_00000000000000000000000000","reply":"rep_00000000000000000000000000","tag":"tag_00000000000000000000000000","payer":"acct_00000000000000000000000000","payee":"acct_00000000000000000000000000","payee_name":"","amount":{"amount":100,"currency":"EUR"},"refunded":{"amount":0,"currency":"EUR"},"status":"paid","instrument":{"kind":"balance"},"transfer":"tr_00000000000000000000000000","created_at":"2026-12-01T00:00:00.123456789Z","paid_at":"2026-12-01T00:00:00.123456789Z"}}`,
	},
	BucketOrders: {
		`{"id":"ord_00000000000000000000000000","reply":"rep_00000000000000000000000000","tag":"tag_00000000000000000000000000","payer":"acct_00000000000000000000000000","payee":"acct_00000000000000000000000000","payee_name":"","amount":{"amount":100,"currency":"EUR"},"refunded":{"amount":0,"currency":"EUR"},"status":"created","instrument":{"kind":"card","card":"card_00000000000000000000000000","token":"tok_00000000000000000000000000"},"memo":"","created_at":"2026-12-01T00:00:00.123456789Z"}`,
		`{"id":"ord_00000000000000000000000000","reply":"rep_00000000000000000000000000","tag":"tag_00000000000000000000000000","payer":"acct_00000000000000000000000000","payee":"acct_00000000000000000000000000","payee_name":"","amount":{"amount":100,"currency":"EUR"},"refunded":{"amount":0,"currency":"EUR"},"status":"paid","instrument":{"kind":"balance"},"transfer":"tr_00000000000000000000000000","created_at":"2026-12-01T00:00:00.123456789Z","paid_at":"2026-12-01T00:00:00.123456789Z"}`,
	},
	BucketTransfers: {
		`{"id":"tr_00000000000000000000000000","kind":"topup","from":"acct_00000000000000000000000000","to":"acct_00000000000000000000000000","amount":{"amount":10000,"currency":"EUR"},"postings":[{"account":"acct_00000000000000000000000000","amount":{"amount":-10000,"currency":"EUR"}},{"account":"acct_00000000000000000000000000","amount":{"amount":10000,"currency":"EUR"}}],"created_at":"2026-12-01T00:00:00.123456789Z"}`,
		`{"id":"tr_00000000000000000000000000","kind":"payment","from":"acct_00000000000000000000000000","to":"acct_00000000000000000000000000","amount":{"amount":100,"currency":"EUR"},"ref":"ord_00000000000000000000000000","postings":[{"account":"acct_00000000000000000000000000","amount":{"amount":-100,"currency":"EUR"}},{"account":"acct_00000000000000000000000000","amount":{"amount":100,"currency":"EUR"}}],"created_at":"2026-12-01T00:00:00.123456789Z"}`,
	},
	BucketReplies: {
		`{"id":"rep_00000000000000000000000000","tag":"tag_00000000000000000000000000","tag_ref":"","payee":"acct_00000000000000000000000000","payee_name":"","currency":"EUR","amount":{"amount":100,"currency":"EUR"},"caller":"key_00000000000000000000000000","expires_at":"2026-12-01T00:00:00.123456789Z","created_at":"2026-12-01T00:00:00.123456789Z"}`,
		`{"id":"rep_00000000000000000000000000","tag":"tag_00000000000000000000000000","tag_ref":"","payee":"acct_00000000000000000000000000","payee_name":"","currency":"EUR","caller":"local","expires_at":"2026-12-01T00:00:00.123456789Z","used":true,"created_at":"2026-12-01T00:00:00.123456789Z"}`,
	},
	BucketAudit: {
		`{"id":"evt_00000000000000000000000000","at":"2026-12-01T00:00:00.123456789Z","actor":"local","action":"account.fund","subject":"acct_00000000000000000000000000","detail":{"amount":"100.00 EUR","transfer":"tr_00000000000000000000000000"}}`,
		`{"id":"evt_00000000000000000000000000","at":"2026-12-01T00:00:00.123456789Z","actor":"key_00000000000000000000000000","action":"tap","subject":"ord_00000000000000000000000000","detail":{"reply":"rep_00000000000000000000000000","transfer":"tr_00000000000000000000000000"}}`,
		`{"id":"evt_00000000000000000000000000","at":"2026-12-01T00:00:00.123456789Z","actor":"local","action":"tap","subject":"ord_00000000000000000000000000","detail":{"reply":"rep_00000000000000000000000000","transfer":"tr_00000000000000000000000000"}}`,
	},
	BucketIdempotency: {
		`{"op":"account.fund","hash":"0000000000000000000000000000000000000000000000000000000000000000","result":{"id":"tr_00000000000000000000000000"},"created_at":"2026-12-01T00:00:00.123456789Z"}`,
		`{"op":"account.fund","hash":"00000000000000000000000000000000","result":{"id":"tr_00000000000000000000000000"},"created_at":"2026-12-01T00:00:00.123456789Z"}`,
		`{"op":"tap","hash":"00000000000000000000000000000000","result":"ord_00000000000000000000000000","created_at":"2026-12-01T00:00:00.123456789Z"}`,
	},
}

// The keys of the buckets that grow with every tap are made of ids ("ord_…", "evt_…/whk_…",
// "payer:acct_…/ord_…"). In a ledger created with packed keys (metaPackedKeys), each id
// in them is stored in 17 bytes instead of 28 to 31 (its prefix's token, then its 16
// bytes), and each of keyWords in one. Keys keep their order, since the tokens are
// numbered in the order their text sorts and the 16 bytes sort as the 26 characters do;
// a prefix that ends at a ':' or '/' packs to a prefix of the keys it begins. Older
// ledgers keep their keys as text: changing them would mean rewriting every key at once.
var keyPacked = map[Bucket]bool{
	BucketOrders: true, BucketEvents: true, BucketTransfers: true, BucketReplies: true,
	BucketAudit: true, BucketOutbox: true, BucketOrderIndex: true, BucketIdempotency: true,
}

// parseUUID reads a UUID written as appendUUID writes it: 8-4-4-4-12 lower-case hex.
func parseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	h := s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	if _, err := hex.Decode(u[:], []byte(h)); err != nil || hex.EncodeToString(u[:]) != h {
		return u, false
	}
	return u, true
}

func appendUUID(dst, u []byte) []byte {
	h := hex.EncodeToString(u)
	return append(dst, h[:8]+"-"+h[8:12]+"-"+h[12:16]+"-"+h[16:20]+"-"+h[20:]...)
}

// metaPackedKeys marks a ledger whose keyPacked buckets have packed keys.
var metaPackedKeys = []byte("packed_keys")

// packKey returns key as bucket b stores it in a ledger with packed keys.
func packKey(b Bucket, key string) []byte {
	if !keyPacked[b] {
		return []byte(key)
	}
	out := make([]byte, 0, len(key))
	for start := 0; start <= len(key); {
		end := strings.IndexAny(key[start:], ":/")
		if end < 0 {
			end = len(key)
		} else {
			end += start
		}
		out = appendKeySegment(out, key[start:end])
		if end < len(key) {
			out = append(out, key[end])
		}
		start = end + 1
	}
	return out
}

func appendKeySegment(dst []byte, s string) []byte {
	if len(s) >= 28 && len(s) <= 31 && s[len(s)-27] == '_' {
		if out, ok := appendID(dst, []byte(s)); ok {
			return out
		}
	}
	if w := slices.Index(keyWords, s); w >= 0 {
		return append(dst, byte(tokWord+w))
	}
	if u, ok := parseUUID(s); ok {
		return append(append(dst, tokUUID), u[:]...)
	}
	for i := range len(s) {
		if s[i] <= lastToken {
			dst = append(dst, packEscape)
		}
		dst = append(dst, s[i])
	}
	return dst
}

// unpackKey returns the key that k, read from bucket b of a ledger with packed keys,
// stands for.
func unpackKey(b Bucket, k []byte) (string, error) {
	if !keyPacked[b] {
		return string(k), nil
	}
	out := make([]byte, 0, len(k)*2)
	for i := 0; i < len(k); i++ {
		switch c := k[i]; {
		case c >= tokID && c < tokWord:
			if len(k)-i < 17 {
				return "", fmt.Errorf("key %q ends inside an id", k)
			}
			out = appendIDText(out, c, k[i+1:i+17])
			i += 16
		case c >= tokWord && c < tokUUID:
			out = append(out, keyWords[c-tokWord]...)
		case c == tokUUID:
			if len(k)-i < 17 {
				return "", fmt.Errorf("key %q ends inside a UUID", k)
			}
			out = appendUUID(out, k[i+1:i+17])
			i += 16
		case c == packEscape:
			if i+1 == len(k) {
				return "", fmt.Errorf("key %q ends inside an escape", k)
			}
			i++
			out = append(out, k[i])
		case c < tokID:
			return "", fmt.Errorf("key %q holds token %#x", k, c)
		default:
			out = append(out, c)
		}
	}
	return string(out), nil
}

// packSeek returns from, a cursor, as a place among the packed keys of bucket b. A
// cursor may end in part of an id (events after "evt_01m8s9", a time) or in text where
// ids are (a cursor that is no id): its last segment then becomes the place where the
// text sorts among ids, the smallest id it begins or the first prefix after it. exact
// is false then, for a key equal to that place comes after from, not at it.
func packSeek(b Bucket, from string) (k []byte, exact bool) {
	cut := strings.LastIndexAny(from, ":/") + 1
	last := from[cut:]
	if !keyPacked[b] || (cut == 0 && b == BucketOrderIndex) || b == BucketIdempotency {
		// Text leads the keys of the order index ("payer:", "tag:"), ids the others;
		// the idempotency bucket is only walked from keys it gave.
		return packKey(b, from), true
	}
	k = packKey(b, from[:cut])
	if seg := appendKeySegment(nil, last); len(seg) > 0 && seg[0] >= tokID && seg[0] < tokWord {
		return append(k, seg...), true
	}
	if p, rest, ok := strings.Cut(last, "_"); ok && len(rest) < 26 && slices.Contains(packPrefixes, p) {
		if raw, ok := decode128([]byte(rest + strings.Repeat("0", 26-len(rest)))); ok {
			return append(append(k, byte(tokID+slices.Index(packPrefixes, p))), raw[:]...), false
		}
	}
	after := 0
	for _, p := range packPrefixes {
		if p+"_" < last {
			after++
		}
	}
	return append(k, byte(tokID+after)), false
}
