package store

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseAmountAccepts(t *testing.T) {
	tests := []struct {
		text, def string
		want      Money
	}{
		{"12.50", "EUR", Money{1250, "EUR"}},
		{"12.5", "EUR", Money{1250, "EUR"}},
		{"12", "EUR", Money{1200, "EUR"}},
		{"0.01", "EUR", Money{1, "EUR"}},
		{".5", "EUR", Money{50, "EUR"}},
		{"+3", "EUR", Money{300, "EUR"}},
		{"0012.50", "EUR", Money{1250, "EUR"}},
		{"12.50 EUR", "", Money{1250, "EUR"}},
		{"EUR 12.50", "", Money{1250, "EUR"}},
		{"  12.50   EUR  ", "", Money{1250, "EUR"}},
		{"12.50 eur", "EUR", Money{1250, "EUR"}},
		{"12.50 EUR", "eur", Money{1250, "EUR"}},
		{"1000 JPY", "", Money{1000, "JPY"}},
		{"1000", "JPY", Money{1000, "JPY"}},
		{"1.234 KWD", "", Money{1234, "KWD"}},
		{"1.2 KWD", "", Money{1200, "KWD"}},
		{"92233720368547758.07 EUR", "", Money{math.MaxInt64, "EUR"}},
		{"9223372036854775807 JPY", "", Money{math.MaxInt64, "JPY"}},
	}
	for _, tt := range tests {
		got, err := ParseAmount(tt.text, tt.def)
		if err != nil {
			t.Errorf("ParseAmount(%q, %q): %v", tt.text, tt.def, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseAmount(%q, %q) = %+v, want %+v", tt.text, tt.def, got, tt.want)
		}
	}
}

func TestParseAmountRefuses(t *testing.T) {
	tests := []struct {
		text, def string
		code      string
		mention   string // a part of the message that names the problem
	}{
		{"12.505", "EUR", "invalid_amount", "too many decimals (at most 2)"},
		{"1.2345 KWD", "", "invalid_amount", "too many decimals (at most 3)"},
		{"1000.5 JPY", "", "invalid_amount", "no minor unit"},
		{"-1", "EUR", "invalid_amount", "must be positive"},
		{"-12.50 EUR", "", "invalid_amount", "must be positive"},
		{"0", "EUR", "invalid_amount", "greater than zero"},
		{"0.00 EUR", "", "invalid_amount", "greater than zero"},
		{"92233720368547758.08 EUR", "", "invalid_amount", "too large"},
		{"9223372036854775808 JPY", "", "invalid_amount", "too large"},
		{"99999999999999999999999 EUR", "", "invalid_amount", "too large"},
		{"12.50 XYZ", "", "unknown_currency", `"XYZ"`},
		{"12.50 EURO", "", "unknown_currency", `"EURO"`},
		{"12.50", "ABC", "unknown_currency", `"ABC"`},
		{"12.50 USD", "EUR", "currency_mismatch", "in USD, expected EUR"},
		{"EUR 12.50", "JPY", "currency_mismatch", "in EUR, expected JPY"},
		{"12.50", "", "invalid_amount", "no currency given"},
		{"", "EUR", "invalid_amount", "want a number"},
		{"1 2 3", "EUR", "invalid_amount", "want a number"},
		{"abc", "EUR", "invalid_amount", "not a number"},
		{"12,50", "EUR", "invalid_amount", "not a number"},
		{"1e3", "EUR", "invalid_amount", "not a number"},
		{"5.", "EUR", "invalid_amount", "nothing after the decimal point"},
		{".", "EUR", "invalid_amount", "not a number"},
		{"1.2.3", "EUR", "invalid_amount", "not a number"},
		{"１２", "EUR", "invalid_amount", "not a number"},
		{"EUR", "EUR", "invalid_amount", "not a number"},
		{"NaN EUR", "", "invalid_amount", "not a number"},
	}
	for _, tt := range tests {
		got, err := ParseAmount(tt.text, tt.def)
		if err == nil {
			t.Errorf("ParseAmount(%q, %q) = %+v, want error %s", tt.text, tt.def, got, tt.code)
			continue
		}
		if KindOf(err) != KindInvalid || CodeOf(err) != tt.code {
			t.Errorf("ParseAmount(%q, %q): got %s/%s (%v), want invalid/%s", tt.text, tt.def, KindOf(err), CodeOf(err), err, tt.code)
		}
		if !strings.Contains(err.Error(), tt.mention) {
			t.Errorf("ParseAmount(%q, %q): message %q does not say %q", tt.text, tt.def, err, tt.mention)
		}
	}
}

func TestParseAmountNamesItsParameter(t *testing.T) {
	_, err := ParseAmount("-1 EUR", "")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want a *store.Error", err)
	}
	if e.Param != "amount" {
		t.Errorf("error %v names parameter %q, want amount", err, e.Param)
	}
}

func TestExponent(t *testing.T) {
	tests := []struct {
		code string
		want int
	}{{"EUR", 2}, {"usd", 2}, {" JPY ", 0}, {"KWD", 3}, {"BHD", 3}, {"CLP", 0}}
	for _, tt := range tests {
		got, err := Exponent(tt.code)
		if err != nil || got != tt.want {
			t.Errorf("Exponent(%q) = %d, %v; want %d", tt.code, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "EU", "EURO", "XYZ", "€"} {
		if _, err := Exponent(bad); CodeOf(err) != "unknown_currency" {
			t.Errorf("Exponent(%q): got %v, want unknown_currency", bad, err)
		}
	}
}

func TestFormatMinor(t *testing.T) {
	tests := []struct {
		v    int64
		exp  int
		want string
	}{
		{0, 2, "0.00"},
		{5, 2, "0.05"},
		{50, 2, "0.50"},
		{1250, 2, "12.50"},
		{-5, 2, "-0.05"},
		{-1250, 2, "-12.50"},
		{1000, 0, "1000"},
		{-1000, 0, "-1000"},
		{1234, 3, "1.234"},
		{1, 3, "0.001"},
		{math.MaxInt64, 2, "92233720368547758.07"},
		{math.MinInt64, 2, "-92233720368547758.08"},
		{math.MinInt64, 0, "-9223372036854775808"},
	}
	for _, tt := range tests {
		if got := FormatMinor(tt.v, tt.exp); got != tt.want {
			t.Errorf("FormatMinor(%d, %d) = %q, want %q", tt.v, tt.exp, got, tt.want)
		}
	}
}

func TestFormatThenParseRoundTrips(t *testing.T) {
	for _, m := range []Money{{1, "EUR"}, {1250, "EUR"}, {7, "JPY"}, {1234, "KWD"}, {math.MaxInt64, "EUR"}} {
		got, err := ParseAmount(m.String(), "")
		if err != nil || got != m {
			t.Errorf("ParseAmount(%q) = %+v, %v; want %+v", m.String(), got, err, m)
		}
	}
}

func TestMoneyJSON(t *testing.T) {
	raw, err := json.Marshal(Money{Amount: -1250, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"amount":-1250,"currency":"EUR","formatted":"-12.50 EUR"}`; string(raw) != want {
		t.Errorf("JSON %s, want %s", raw, want)
	}
	var back Money
	if err := json.Unmarshal(raw, &back); err != nil || back != (Money{-1250, "EUR"}) {
		t.Errorf("decoding %s = %+v, %v", raw, back, err)
	}
}

func TestMoneyAdd(t *testing.T) {
	sum, err := Money{150, "EUR"}.Add(Money{250, "EUR"})
	if err != nil || sum != (Money{400, "EUR"}) {
		t.Errorf("150+250 = %+v, %v", sum, err)
	}
	_, err = Money{1, "EUR"}.Add(Money{1, "USD"})
	wantError(t, err, KindInvalid, "currency_mismatch")
	_, err = Money{math.MaxInt64, "EUR"}.Add(Money{1, "EUR"})
	wantError(t, err, KindInvalid, "amount_overflow")
	_, err = Money{math.MinInt64, "EUR"}.Add(Money{-1, "EUR"})
	wantError(t, err, KindInvalid, "amount_overflow")
}
