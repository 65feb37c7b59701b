package store

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/text/currency"
)

// Money is an integer count of minor units of an ISO 4217 currency. There are no floats
// anywhere near money.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// Exponent is the number of minor-unit digits of an ISO 4217 currency (EUR 2, JPY 0,
// KWD 3), taken from CLDR's ISO data rather than a table of our own.
func Exponent(code string) (int, error) {
	if exp, ok := knownExponent(code); ok {
		return exp, nil
	}
	c := strings.ToUpper(strings.TrimSpace(code))
	if len(c) != 3 {
		return 0, Errorf(KindInvalid, "unknown_currency", "unknown currency %q: want a three-letter ISO 4217 code", c).WithParam("currency")
	}
	return 0, Errorf(KindInvalid, "unknown_currency", "unknown currency %q", c).WithParam("currency")
}

// exponents remembers the exponent of each code asked for: every amount shown or stored
// asks, and CLDR's lookup costs more than the rest of formatting.
var exponents sync.Map

// knownExponent is Exponent for code when it is a currency, without making an error:
// formatting money asks it on the path of every record written.
func knownExponent(code string) (int, bool) {
	if exp, ok := exponents.Load(code); ok {
		return exp.(int), true
	}
	c := strings.ToUpper(strings.TrimSpace(code))
	if len(c) != 3 {
		return 0, false
	}
	unit, err := currency.ParseISO(c)
	if err != nil {
		return 0, false
	}
	scale, _ := currency.Standard.Rounding(unit)
	exponents.Store(code, scale)
	return scale, true
}

// NormalizeCurrency upper-cases and checks an ISO 4217 code.
func NormalizeCurrency(code string) (string, error) {
	if _, err := Exponent(code); err != nil {
		return "", err
	}
	return strings.ToUpper(strings.TrimSpace(code)), nil
}

// ParseAmount reads an amount typed by a person: "12.50", "12.50 EUR", "EUR 12.50",
// "1000 JPY". When the text names no currency, def is used; when it names one and def is
// not empty, they must agree. The amount must be positive and fit in int64 minor units.
func ParseAmount(text, def string) (Money, error) {
	fields := strings.Fields(text)
	var num, cur string
	switch len(fields) {
	case 1:
		num = fields[0]
	case 2:
		num, cur = fields[0], fields[1]
		if _, err := strconv.ParseFloat(cur, 64); err == nil || strings.ContainsAny(cur, "0123456789") {
			num, cur = fields[1], fields[0]
		}
	default:
		return Money{}, invalidAmount(text, "want a number and an optional currency, like \"12.50 EUR\"")
	}
	if cur == "" {
		cur = def
	} else if def != "" && !strings.EqualFold(cur, def) {
		return Money{}, Errorf(KindInvalid, "currency_mismatch", "amount %q is in %s, expected %s", text, strings.ToUpper(cur), strings.ToUpper(def)).WithParam("amount")
	}
	if cur == "" {
		return Money{}, invalidAmount(text, "no currency given")
	}
	code, err := NormalizeCurrency(cur)
	if err != nil {
		return Money{}, err
	}
	exp, _ := Exponent(code)
	minor, err := parseMinor(num, exp)
	if err != nil {
		return Money{}, invalidAmount(text, err.Error())
	}
	return Money{Amount: minor, Currency: code}, nil
}

func invalidAmount(text, why string) error {
	return Errorf(KindInvalid, "invalid_amount", "invalid amount %q: %s", text, why).WithParam("amount")
}

// parseMinor turns a decimal string into minor units with exactly exp decimals allowed.
func parseMinor(num string, exp int) (int64, error) {
	if strings.HasPrefix(num, "-") {
		return 0, fmt.Errorf("must be positive")
	}
	num = strings.TrimPrefix(num, "+")
	whole, frac, hasDot := strings.Cut(num, ".")
	if whole == "" && frac == "" {
		return 0, fmt.Errorf("not a number")
	}
	if hasDot && frac == "" {
		return 0, fmt.Errorf("nothing after the decimal point")
	}
	for _, s := range []string{whole, frac} {
		for _, r := range s {
			if r < '0' || r > '9' {
				return 0, fmt.Errorf("not a number")
			}
		}
	}
	if len(frac) > exp {
		if exp == 0 {
			return 0, fmt.Errorf("this currency has no minor unit")
		}
		return 0, fmt.Errorf("too many decimals (at most %d)", exp)
	}
	frac += strings.Repeat("0", exp-len(frac))
	digits := strings.TrimLeft(whole+frac, "0")
	if digits == "" {
		return 0, fmt.Errorf("must be greater than zero")
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("too large")
	}
	return v, nil
}

// String formats m as "3.50 EUR".
func (m Money) String() string {
	exp, ok := knownExponent(m.Currency)
	if !ok {
		return fmt.Sprintf("%d %s", m.Amount, m.Currency)
	}
	return FormatMinor(m.Amount, exp) + " " + m.Currency
}

// FormatMinor writes minor units as a decimal with exp digits after the point.
func FormatMinor(v int64, exp int) string {
	sign := ""
	u := uint64(v)
	if v < 0 {
		sign = "-"
		u = uint64(-(v + 1)) + 1 // also right for math.MinInt64
	}
	s := strconv.FormatUint(u, 10)
	if exp == 0 {
		return sign + s
	}
	if len(s) <= exp {
		s = strings.Repeat("0", exp-len(s)+1) + s
	}
	return sign + s[:len(s)-exp] + "." + s[len(s)-exp:]
}

// MarshalJSON writes amount, currency and a formatted string, a stable contract for scripts.
// Every record the ledger writes holds money, so it is written by hand; a currency that
// would need escaping (never one the ledger accepts) goes through encoding/json.
func (m Money) MarshalJSON() ([]byte, error) {
	if !plainCode(m.Currency) {
		return json.Marshal(struct {
			Amount    int64  `json:"amount"`
			Currency  string `json:"currency"`
			Formatted string `json:"formatted"`
		}{m.Amount, m.Currency, m.String()})
	}
	b := make([]byte, 0, 64)
	b = append(b, `{"amount":`...)
	b = strconv.AppendInt(b, m.Amount, 10)
	b = append(b, `,"currency":"`...)
	b = append(b, m.Currency...)
	b = append(b, `","formatted":"`...)
	b = append(b, m.String()...)
	return append(b, `"}`...), nil
}

// plainCode reports whether code is letters and digits only, so that it and the
// formatted amount built from it need no escaping in JSON.
func plainCode(code string) bool {
	if code == "" || len(code) > 8 {
		return false
	}
	for i := 0; i < len(code); i++ {
		if c := code[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// Add sums two amounts of the same currency, refusing overflow.
func (m Money) Add(o Money) (Money, error) {
	if m.Currency != o.Currency {
		return Money{}, Errorf(KindInvalid, "currency_mismatch", "cannot add %s to %s", o.Currency, m.Currency)
	}
	if (o.Amount > 0 && m.Amount > math.MaxInt64-o.Amount) || (o.Amount < 0 && m.Amount < math.MinInt64-o.Amount) {
		return Money{}, Errorf(KindInvalid, "amount_overflow", "amount overflows")
	}
	return Money{Amount: m.Amount + o.Amount, Currency: m.Currency}, nil
}
