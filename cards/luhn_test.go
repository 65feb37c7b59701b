package cards

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestLuhnValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		number string
		valid  bool
	}{
		{"4111111111111111", true},
		{"4111111111111112", false},
		{"79927398713", true},
		{"79927398710", false},
		{"0000000000000000", true},
		{"4111 1111 1111 1111", false}, // separators are not digits
		{"411111111111111a", false},
		{"", false},
		{"0", false},
		{"-4111111111111111", false},
	}
	for _, tc := range tests {
		if got := LuhnValid(tc.number); got != tc.valid {
			t.Errorf("LuhnValid(%q) = %v, want %v", tc.number, got, tc.valid)
		}
	}
}

func TestLuhnCheckDigitMakesTheOnlyValidNumber(t *testing.T) {
	t.Parallel()
	if got := luhnCheckDigit("411111111111111"); got != '1' {
		t.Fatalf("check digit of 411111111111111 = %c, want 1", got)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		payload := strconv.FormatUint(r.Uint64N(1e17), 10)
		check := luhnCheckDigit(payload)
		for d := byte('0'); d <= '9'; d++ {
			if got := LuhnValid(payload + string(d)); got != (d == check) {
				t.Fatalf("payload %s: LuhnValid with check digit %c = %v, computed check digit %c", payload, d, got, check)
			}
		}
	}
}
