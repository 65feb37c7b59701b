package store

import (
	"encoding/json"
	"testing"
	"time"
)

// stored is the record of a, as Put writes it.
func stored(t testing.TB, a Account) []byte {
	raw, err := encodeRecord(a)
	if err != nil {
		t.Fatal(err)
	}
	return stripFormatted(raw)
}

// slowAccount decodes b as encoding/json does, without the fast path.
func slowAccount(b []byte) (Account, error) {
	type plain Account
	var v struct {
		plain
		Balance json.RawMessage `json:"balance"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return Account{}, err
	}
	a := Account(v.plain)
	n, err := minorUnits(v.Balance)
	a.Balance = n
	return a, err
}

func TestAccountsReadBackAsWritten(t *testing.T) {
	at := time.Date(2026, 12, 1, 15, 9, 28, 416086058, time.UTC)
	for _, a := range []Account{
		{ID: "acct_01m8s2enf00001qkb3zfdx1z6f", Name: "payer 15", Kind: AccountPerson, Currency: "EUR", Balance: 384994, CreatedAt: at},
		{ID: "acct_x", Name: `Caf\u00e9 "Zur Post" <b>`, Kind: AccountMerchant, Currency: "JPY", Balance: -7, CreatedAt: at.Add(time.Hour)},
		{ID: "acct_y", Name: "Café ☕ 東京", Kind: AccountWorld, Currency: "EUR", Balance: 0, CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", 3600))},
		{ID: "acct_z", Name: "tab\there", Kind: AccountPerson, Currency: "EUR", Balance: 1<<62 + 5, CreatedAt: at},
	} {
		raw := stored(t, a)
		var got Account
		if err := json.Unmarshal(raw, &got); err != nil || !got.CreatedAt.Equal(a.CreatedAt) {
			t.Fatalf("%s: %+v, %v", raw, got, err)
		}
		got.CreatedAt, a.CreatedAt = time.Time{}, time.Time{}
		if got != a {
			t.Fatalf("%s read back as %+v, want %+v", raw, got, a)
		}
	}
	// The layout as written takes the fast path; a name with an escape does not.
	plain := stored(t, Account{ID: "acct_a", Name: "Ada", Kind: AccountPerson, Currency: "EUR", CreatedAt: at})
	quoted := stored(t, Account{ID: "acct_a", Name: `A "d" a`, Kind: AccountPerson, Currency: "EUR", CreatedAt: at})
	var a Account
	if !decodeAccountFast(plain, &a) || decodeAccountFast(quoted, &a) {
		t.Fatalf("fast path: %s should be read, %s left to the decoder", plain, quoted)
	}
}

// FuzzAccountJSON: whatever a record holds, the fast path reads it exactly as
// encoding/json does, or leaves it to encoding/json.
func FuzzAccountJSON(f *testing.F) {
	at := time.Date(2026, 12, 1, 15, 9, 28, 416086058, time.UTC)
	for _, a := range []Account{
		{ID: "acct_01m8s2enf00001qkb3zfdx1z6f", Name: "payer 15", Kind: AccountPerson, Currency: "EUR", Balance: 384994, CreatedAt: at},
		{ID: "acct_x", Name: "Zürich", Kind: AccountMerchant, Currency: "JPY", Balance: -7, CreatedAt: at},
	} {
		f.Add(stored(f, a))
	}
	f.Add([]byte(`{"id":"acct_a","name":"A","kind":"person","currency":"EUR","balance":{"amount":01,"currency":"EUR"},"created_at":"2026-12-01T15:09:28Z"}`))
	f.Add([]byte(`{"id":"acct_a","name":"A","kind":"person","currency":"EUR","balance":{"amount":-0,"currency":"EUR"},"created_at":"2026-12-01T15:09:28Z"}`))
	f.Add([]byte(`{"id":"acct_a","name":"A","kind":"person","currency":"EUR","balance":{"amount":1,"currency":"EUR"},"created_at":"2026-13-01T15:09:28Z"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var fast Account
		if !decodeAccountFast(raw, &fast) {
			return
		}
		slow, err := slowAccount(raw)
		if err != nil {
			t.Fatalf("%q: the fast path read %+v, encoding/json refuses it: %v", raw, fast, err)
		}
		if !fast.CreatedAt.Equal(slow.CreatedAt) || fast.CreatedAt.Location().String() != slow.CreatedAt.Location().String() {
			t.Fatalf("%q: created_at %v fast, %v slow", raw, fast.CreatedAt, slow.CreatedAt)
		}
		fast.CreatedAt, slow.CreatedAt = time.Time{}, time.Time{}
		if fast != slow {
			t.Fatalf("%q: %+v fast, %+v slow", raw, fast, slow)
		}
	})
}
