package store

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// A tap reads the payer's and the merchant's accounts, and encoding/json spent more
// time on them than the rest of the tap's reads together: it checks the whole record,
// then decodes it by reflection. decodeAccountFast reads an account in exactly the
// layout Account.MarshalJSON writes; anything else (an escape in a name, another key
// order, an older record) goes to encoding/json, so the two always agree
// (FuzzAccountJSON holds them to it).

// jsonReader reads a JSON text the way this package writes it, refusing anything else.
type jsonReader struct{ b []byte }

// lit consumes s.
func (r *jsonReader) lit(s string) bool {
	if !bytes.HasPrefix(r.b, []byte(s)) {
		return false
	}
	r.b = r.b[len(s):]
	return true
}

// quoted consumes a string without escapes or control characters, valid UTF-8, and
// returns it with its quotes.
func (r *jsonReader) quoted() ([]byte, bool) {
	if len(r.b) == 0 || r.b[0] != '"' {
		return nil, false
	}
	for i := 1; i < len(r.b); i++ {
		switch c := r.b[i]; {
		case c == '"':
			s := r.b[:i+1]
			if !utf8.Valid(s) {
				return nil, false
			}
			r.b = r.b[i+1:]
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// str consumes a string as quoted does and returns its text.
func (r *jsonReader) str() (string, bool) {
	s, ok := r.quoted()
	if !ok {
		return "", false
	}
	return string(s[1 : len(s)-1]), true
}

// int consumes an integer as JSON writes it, without leading zeros. (A fraction or an
// exponent after it fails the literal that must follow.)
func (r *jsonReader) int() (int64, bool) {
	end := 0
	if end < len(r.b) && r.b[end] == '-' {
		end++
	}
	digits := end
	for end < len(r.b) && '0' <= r.b[end] && r.b[end] <= '9' {
		end++
	}
	if end == digits || r.b[digits] == '0' && end > digits+1 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(r.b[:end]), 10, 64)
	if err != nil {
		return 0, false
	}
	r.b = r.b[end:]
	return n, true
}

// decodeAccountFast decodes b into a when b is laid out as Account.MarshalJSON writes.
func decodeAccountFast(b []byte, a *Account) bool {
	r := jsonReader{b: b}
	var (
		v    Account
		kind string
		ok   bool
	)
	if !r.lit(`{"id":`) {
		return false
	}
	if v.ID, ok = r.str(); !ok || !r.lit(`,"name":`) {
		return false
	}
	if v.Name, ok = r.str(); !ok || !r.lit(`,"kind":`) {
		return false
	}
	if kind, ok = r.str(); !ok || !r.lit(`,"currency":`) {
		return false
	}
	if v.Currency, ok = r.str(); !ok || !r.lit(`,"balance":{"amount":`) {
		return false
	}
	if v.Balance, ok = r.int(); !ok || !r.lit(`,"currency":`) {
		return false
	}
	// The balance's currency is the account's; encoding/json does not compare them either.
	if _, ok = r.str(); !ok || !r.lit(`},"created_at":`) {
		return false
	}
	at, ok := r.quoted()
	if !ok || !r.lit("}") || len(r.b) != 0 || v.CreatedAt.UnmarshalJSON(at) != nil {
		return false
	}
	v.Kind = AccountKind(kind)
	*a = v
	return true
}
