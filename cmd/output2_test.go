package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mattn/go-runewidth"

	"github.com/tagpay/tagpay/store"
)

func TestPrintableEscapesWhatATerminalWouldObey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Corner Café", "Corner Café"},
		{"日本の店", "日本の店"},
		{"evil\x1b[2J", `evil\x1b[2J`},
		{"Shop\u202eEUR 1", `Shop\u202eEUR 1`},
		{"zero\u200bwidth", `zero\u200bwidth`},
		{"bell\a and del\x7f", `bell\x07 and del\x7f`},
		{"c1 \u009b", `c1 \u009b`},
		{"line\u2028sep", `line\u2028sep`},
		{"tab\tnl\ncr\r", `tab\tnl\ncr\r`},
		{"bad \xff byte", `bad \xff byte`},
		{"tag \U000E0041", `tag \U000e0041`},
	}
	for _, tt := range tests {
		if got := printable(tt.in); got != tt.want {
			t.Errorf("printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzPrintable(f *testing.F) {
	f.Add("Shop\u202e\x1b[0m\xff")
	f.Fuzz(func(t *testing.T, s string) {
		got := printable(s)
		if !utf8.ValidString(got) {
			t.Fatalf("printable(%q) = %q is not UTF-8", s, got)
		}
		for _, r := range got {
			if needsEscape(r) {
				t.Fatalf("printable(%q) = %q keeps %U", s, got, r)
			}
		}
	})
}

func TestTablesEscapeAndFitTheTerminal(t *testing.T) {
	long := strings.Repeat("very long merchant name ", 6)
	tbl := Table{Header: []string{"ID", "NAME", "BALANCE"}, Rows: [][]string{
		{"acct_01m8accygb000c3xja3ccty1q1", long, "3.50 EUR"},
		{"acct_01m8accygb000c3xja3ccty1q2", "Evil\x1b[31m\u202e", "0.00 EUR"},
	}}
	ios, _, out, _ := Test()
	ios.SetTTY(false, true)
	ios.SetWidth(80)
	if err := NewPrinter(ios, FormatTable).Table(tbl); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, line := range strings.Split(strings.TrimRight(got, "\n"), "\n") {
		if w := runewidth.StringWidth(line); w > 80 {
			t.Errorf("line of width %d > 80: %q", w, line)
		}
	}
	for _, want := range []string{"acct_01m8accygb000c3xja3ccty1q1", "…", `Evil\x1b[31m\u202e`, "3.50 EUR"} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if strings.ContainsAny(got, "\x1b\u202e") {
		t.Errorf("table has raw control characters:\n%q", got)
	}

	// A wide terminal leaves everything whole.
	ios, _, out, _ = Test()
	ios.SetTTY(false, true)
	ios.SetWidth(400)
	if err := NewPrinter(ios, FormatTable).Table(tbl); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), strings.TrimSpace(long)) {
		t.Errorf("a wide terminal truncated:\n%s", out)
	}

	// Lines for scripts are never truncated, but escaped.
	ios, _, out, _ = Test()
	ios.SetWidth(20)
	if err := NewPrinter(ios, FormatTable).Table(tbl); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), long) || !strings.Contains(out.String(), `Evil\x1b[31m\u202e`) {
		t.Errorf("TSV:\n%q", out)
	}
}

func TestJQFiltersJSON(t *testing.T) {
	code, err := compileJQ(`.[] | select(.balance.amount > 100) | .name`)
	if err != nil {
		t.Fatal(err)
	}
	ios, _, out, _ := Test()
	p := NewPrinter(ios, FormatJSON)
	p.JQ = code
	as := []store.Account{{ID: "acct_1", Name: "Rich", Balance: 2250, Currency: "EUR"}, {ID: "acct_2", Name: "Poor", Balance: 5, Currency: "EUR"}}
	if err := p.JSON(as); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "Rich\n" {
		t.Errorf("jq output %q, want %q", got, "Rich\n")
	}
	code, _ = compileJQ(`.[0].balance`)
	ios, _, out, _ = Test()
	p = NewPrinter(ios, FormatJSON)
	p.JQ = code
	if err := p.JSON(as); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != `{"amount":2250,"currency":"EUR","formatted":"22.50 EUR"}`+"\n" {
		t.Errorf("jq object output %q", got)
	}
	if _, err := compileJQ(`.[`); ExitCode(err) != ExitUsage {
		t.Errorf("a broken expression: %v, want a usage error", err)
	}
}

func TestErrorJSON(t *testing.T) {
	tests := []struct {
		err        error
		typ, code  string
		param      string
		exit       int
		messageHas string
	}{
		{store.Errorf(store.KindDeclined, "insufficient_funds", "insufficient funds").WithParam("amount"), "declined", "insufficient_funds", "amount", ExitDeclined, "insufficient funds"},
		{fmt.Errorf("paying: %w", store.Errorf(store.KindNotFound, "order_not_found", "order x not found")), "not_found", "order_not_found", "", ExitNotFound, "order x not found"},
		{Usagef("needs --from"), "invalid", "usage", "", ExitUsage, "needs --from"},
		{fmt.Errorf("%w: reading", context.Canceled), "interrupted", "interrupted", "", ExitInterrupted, "interrupted"},
		{errors.New("boom"), "internal", "error", "", ExitError, "boom"},
		{&ExitFailure{Code: ExitError, Message: "2 violations"}, "internal", "failed", "", ExitError, "2 violations"},
	}
	for _, tt := range tests {
		e := errorJSON(tt.err)
		if e.Error.Type != tt.typ || e.Error.Code != tt.code || e.Error.Param != tt.param || e.ExitCode != tt.exit || !strings.Contains(e.Error.Message, tt.messageHas) {
			t.Errorf("errorJSON(%v) = %+v", tt.err, e)
		}
	}
}

func TestUnknownConfigKeys(t *testing.T) {
	tree := map[string]any{"output": "json", "ouput": "x", "device": map[string]any{"id": "a", "name": "b"}, "extra": map[string]any{"x": 1}}
	got := strings.Join(unknownKeys(tree, ""), ",")
	if got != "device.name,extra,ouput" {
		t.Errorf("unknown keys = %s", got)
	}
}

func TestInterruptedCommandExits130(t *testing.T) {
	dir := t.TempDir()
	db := dir + "/ledger.db"
	ios, _, _, _ := Test()
	if code := Main(context.Background(), []string{"--db", db, "account", "create", "--name", "A", "--kind", "person", "--currency", "EUR"}, ios, BuildInfo{}); code != 0 {
		t.Fatalf("create exited %d", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Ctrl-C while a prompt waits for the card number.
	ios, _, _, errOut := Test()
	ios.SetTTY(true, true)
	ios.In = blockingReader{}
	if code := Main(ctx, []string{"--db", db, "--device", "d1", "card", "add", "--account", "acct_x", "--label", "L", "--pan", "-"}, ios, BuildInfo{}); code != ExitInterrupted {
		t.Errorf("exit %d, want 130; stderr %q", code, errOut)
	}
	if !strings.Contains(errOut.String(), "interrupted") {
		t.Errorf("stderr %q does not say interrupted", errOut)
	}
}
