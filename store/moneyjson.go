package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Money is shown the same way everywhere: {"amount", "currency", "formatted"}, balances
// and postings included. Records written before that kept bare minor units; they still
// decode.

// MarshalJSON shows the balance as money.
func (a Account) MarshalJSON() ([]byte, error) {
	o := NewJSONObject(192)
	o.Str("id", a.ID)
	o.Str("name", a.Name)
	o.Str("kind", string(a.Kind))
	o.Str("currency", a.Currency)
	if err := o.Money("balance", a.BalanceMoney()); err != nil {
		return nil, err
	}
	if err := o.Time("created_at", a.CreatedAt); err != nil {
		return nil, err
	}
	return o.Bytes(), nil
}

// UnmarshalJSON reads the balance as money or as bare minor units.
func (a *Account) UnmarshalJSON(b []byte) error {
	if decodeAccountFast(b, a) {
		return nil
	}
	type plain Account
	var v struct {
		plain
		Balance json.RawMessage `json:"balance"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*a = Account(v.plain)
	n, err := minorUnits(v.Balance)
	a.Balance = n
	return err
}

// postingJSON is a posting as shown: its signed amount as money in the transfer's
// currency.
type postingJSON struct {
	Account string          `json:"account"`
	Amount  json.RawMessage `json:"amount"`
}

// MarshalJSON shows each posting's amount as money.
func (t Transfer) MarshalJSON() ([]byte, error) {
	o := NewJSONObject(384)
	o.Str("id", t.ID)
	o.Str("kind", string(t.Kind))
	o.Str("from", t.From)
	o.Str("to", t.To)
	if err := o.Money("amount", t.Amount); err != nil {
		return nil, err
	}
	o.StrOmit("ref", t.Ref)
	o.StrOmit("memo", t.Memo)
	ps := make([]byte, 0, 160)
	ps = append(ps, '[')
	for i, p := range t.Postings {
		if i > 0 {
			ps = append(ps, ',')
		}
		po := NewJSONObject(80)
		po.Str("account", p.Account)
		if err := po.Money("amount", Money{Amount: p.Amount, Currency: t.Amount.Currency}); err != nil {
			return nil, err
		}
		ps = append(ps, po.Bytes()...)
	}
	o.Raw("postings", append(ps, ']'))
	if err := o.Time("created_at", t.CreatedAt); err != nil {
		return nil, err
	}
	return o.Bytes(), nil
}

// UnmarshalJSON reads postings as money or as bare minor units.
func (t *Transfer) UnmarshalJSON(b []byte) error {
	type plain Transfer
	var v struct {
		plain
		Postings [2]postingJSON `json:"postings"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*t = Transfer(v.plain)
	for i, p := range v.Postings {
		n, err := minorUnits(p.Amount)
		if err != nil {
			return err
		}
		t.Postings[i] = Posting{Account: p.Account, Amount: n}
	}
	return nil
}

// minorUnits reads an amount written as money or as a bare number of minor units.
func minorUnits(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	// The form this package writes, read without a second decoder: {"amount":N,…}.
	// A second "amount" (never written by this package) goes to the decoder, which keeps
	// the last.
	if rest, ok := bytes.CutPrefix(raw, []byte(`{"amount":`)); ok && !bytes.Contains(rest, []byte(`"amount"`)) {
		end := 0
		for end < len(rest) && (rest[end] == '-' && end == 0 || '0' <= rest[end] && rest[end] <= '9') {
			end++
		}
		if end < len(rest) && (rest[end] == ',' || rest[end] == '}') {
			if n, err := strconv.ParseInt(string(rest[:end]), 10, 64); err == nil {
				return n, nil
			}
		}
	}
	if raw[0] == '{' {
		var m struct {
			Amount int64 `json:"amount"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return 0, err
		}
		return m.Amount, nil
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fmt.Errorf("amount %s is neither money nor minor units: %w", raw, err)
	}
	return n, nil
}
