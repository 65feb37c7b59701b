package cmd

import (
	"strings"
	"testing"

	"github.com/tagpay/tagpay/store"
)

func TestPrinterFormats(t *testing.T) {
	table := Table{Header: []string{"ID", "NOTE"}, Rows: [][]string{{"a1", "tab\there"}, {"b2", "two\nlines"}}}
	tests := []struct {
		name   string
		format string
		tty    bool
		want   []string // substrings of the output, in order
		absent []string
	}{
		{"json", FormatJSON, false, []string{`"amount": 350`, `"formatted": "3.50 EUR"`, `"url": "https://x/t?a=1&b=2"`}, []string{`\u0026`}},
		{"json on a terminal too", FormatJSON, true, []string{`"amount": 350`}, []string{"│", "┌"}},
		{"lines without a terminal", FormatTable, false, []string{"a1\ttab here\n", "b2\ttwo lines\n"}, []string{"ID", "NOTE"}},
		{"table on a terminal", FormatTable, true, []string{"ID", "NOTE", "a1", "b2", "│"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, out, _ := Test()
			ios.SetTTY(false, tt.tty)
			v := map[string]any{"amount": store.Money{Amount: 350, Currency: "EUR"}, "url": "https://x/t?a=1&b=2"}
			if err := NewPrinter(ios, tt.format).List(v, table); err != nil {
				t.Fatal(err)
			}
			got, rest := out.String(), out.String()
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (in order):\n%s", w, got)
				}
				rest = rest[i+len(w):]
			}
			for _, a := range tt.absent {
				if strings.Contains(got, a) {
					t.Errorf("output has %q:\n%s", a, got)
				}
			}
		})
	}
}

func TestPrinterFields(t *testing.T) {
	fields := []Field{{"id", "acct_1"}, {"balance", "3.50 EUR"}}
	ios, _, out, _ := Test()
	if err := NewPrinter(ios, FormatTable).Fields(fields); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "id\tacct_1\nbalance\t3.50 EUR\n"; got != want {
		t.Errorf("fields without a terminal = %q, want %q", got, want)
	}
	ios, _, out, _ = Test()
	ios.SetTTY(false, true)
	if err := NewPrinter(ios, FormatTable).Fields(fields); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "id:      acct_1\nbalance: 3.50 EUR\n"; got != want {
		t.Errorf("fields on a terminal = %q, want %q", got, want)
	}
}

func TestListOfNothingIsAnEmptyJSONArray(t *testing.T) {
	ios, _, out, _ := Test()
	var none []store.Account
	if err := NewPrinter(ios, FormatJSON).List(orEmpty(none), Table{}); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != "[]" {
		t.Errorf("empty list printed as %q, want []", got)
	}
}

func TestColorsFollowTerminalAndNoColor(t *testing.T) {
	ios, _, _, _ := Test()
	ios.SetTTY(false, true)
	ios.noColor = false
	if got := ios.Colors().Green("ok"); got == "ok" {
		t.Error("no colour on a terminal without NO_COLOR")
	}
	ios.noColor = true
	if got := ios.Colors().Green("ok"); got != "ok" {
		t.Errorf("NO_COLOR set, got %q", got)
	}
	ios.noColor = false
	ios.SetTTY(false, false)
	if got := ios.Colors().Red("x"); got != "x" {
		t.Errorf("colour without a terminal: %q", got)
	}
}
