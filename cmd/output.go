package cmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/itchyny/gojq"
	"github.com/mattn/go-runewidth"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/tagpay/tagpay/store"
)

// Printer writes command results to stdout: JSON with -o json (a stable contract for
// scripts), a table on a terminal, tab-separated lines otherwise.
type Printer struct {
	IO     *IOStreams
	Format string
	// JQ, when set, filters every JSON document before it is printed (--jq).
	JQ *gojq.Code
}

// NewPrinter returns a Printer of the given format (table or json).
func NewPrinter(streams *IOStreams, format string) *Printer {
	return &Printer{IO: streams, Format: format}
}

// JSONOutput reports whether -o json was asked for.
func (p *Printer) JSONOutput() bool { return p.Format == FormatJSON }

// Table is rows of text under a header.
type Table struct {
	Header []string
	Rows   [][]string
}

// Field is one line of a single record: a name and its value.
type Field struct {
	Name  string
	Value string
}

// List prints v as JSON, or t as a table. A nil slice prints as [] in JSON, never null.
func (p *Printer) List(v any, t Table) error {
	if p.JSONOutput() {
		return p.JSON(v)
	}
	return p.Table(t)
}

// Record prints v as JSON, or its fields one per line.
func (p *Printer) Record(v any, fields []Field) error {
	if p.JSONOutput() {
		return p.JSON(v)
	}
	return p.Fields(fields)
}

// JSON writes v indented, with a final newline; HTML characters stay as they are, since
// URLs with & are common here.
func (p *Printer) JSON(v any) error {
	if p.JQ != nil {
		return p.jq(v)
	}
	enc := json.NewEncoder(p.IO.Out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// jq runs the --jq filter over v as its JSON reads, and prints each result: a string as
// its plain text, anything else as one line of JSON.
func (p *Printer) jq(v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding the output for --jq: %w", err)
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("encoding the output for --jq: %w", err)
	}
	iter := p.JQ.Run(normalizeNumbers(doc))
	for {
		r, ok := iter.Next()
		if !ok {
			return nil
		}
		if err, isErr := r.(error); isErr {
			var halt *gojq.HaltError
			if errors.As(err, &halt) && halt.Value() == nil {
				return nil
			}
			return fmt.Errorf("--jq: %w", err)
		}
		if s, isStr := r.(string); isStr {
			if _, err := fmt.Fprintln(p.IO.Out, s); err != nil {
				return err
			}
			continue
		}
		b, err := gojq.Marshal(r)
		if err != nil {
			return fmt.Errorf("--jq: %w", err)
		}
		if _, err := p.IO.Out.Write(append(b, '\n')); err != nil {
			return err
		}
	}
}

// normalizeNumbers turns json.Number into the int or float64 gojq works on; minor units
// stay exact integers.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

// compileJQ parses a --jq expression; a mistake in it is a usage error, found before
// the command does anything.
func compileJQ(expr string) (*gojq.Code, error) {
	q, err := gojq.Parse(expr)
	if err != nil {
		return nil, Usagef("--jq %q: %v", expr, err)
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return nil, Usagef("--jq %q: %v", expr, err)
	}
	return code, nil
}

// Table writes a table with borders on a terminal, and tab-separated lines without a
// header elsewhere, so that `cut -f` and `while read` work in scripts.
func (p *Printer) Table(t Table) error {
	if !p.IO.IsStdoutTTY() {
		return writeTSV(p.IO.Out, t.Rows)
	}
	header, rows := fitTable(t.Header, t.Rows, p.IO.TerminalWidth())
	tbl := tablewriter.NewTable(p.IO.Out,
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoFormat(tw.Off),
	)
	tbl.Header(anySlice(header)...)
	for _, r := range rows {
		if err := tbl.Append(anySlice(r)...); err != nil {
			return fmt.Errorf("rendering table: %w", err)
		}
	}
	if err := tbl.Render(); err != nil {
		return fmt.Errorf("rendering table: %w", err)
	}
	return nil
}

// Fields writes name/value lines: aligned on a terminal, "name<TAB>value" elsewhere.
func (p *Printer) Fields(fields []Field) error {
	if !p.IO.IsStdoutTTY() {
		rows := make([][]string, len(fields))
		for i, f := range fields {
			rows[i] = []string{f.Name, f.Value}
		}
		return writeTSV(p.IO.Out, rows)
	}
	width := 0
	for _, f := range fields {
		width = max(width, len(f.Name))
	}
	cs := p.IO.Colors()
	for _, f := range fields {
		pad := strings.Repeat(" ", width-len(f.Name))
		if _, err := fmt.Fprintf(p.IO.Out, "%s:%s %s\n", cs.Bold(printable(f.Name)), pad, printable(f.Value)); err != nil {
			return err
		}
	}
	return nil
}

func writeTSV(w io.Writer, rows [][]string) error {
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			// A tab or newline inside a cell would break the line format; anything else
			// unprintable is escaped, as on a terminal.
			cells[i] = printable(strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(c))
		}
		if _, err := io.WriteString(w, strings.Join(cells, "\t")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// Cell formatting shared by the commands, so a time or an amount reads the same in
// every table.

// fmtTime is a time for people: local time to the second, with its offset, so that it
// reads as a clock on the wall and still names one instant. JSON keeps RFC 3339 in UTC.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format(time.RFC3339)
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return fmtTime(*t)
}

func fmtMoneyPtr(m *store.Money) string {
	if m == nil {
		return ""
	}
	return m.String()
}

func fmtBool(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// orEmpty makes a nil slice print as [] in JSON.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// printable escapes what a terminal would act on instead of showing: control characters
// (an escape sequence could rewrite the screen), Unicode format characters such as
// U+202E RIGHT-TO-LEFT OVERRIDE (which reorders what follows), line and paragraph
// separators, and bytes that are not UTF-8. Old records may hold any of them, and a
// payee name must never be able to disguise a confirmation. Everything else passes
// unchanged.
func printable(s string) string {
	clean := true
	for i := 0; i < len(s) && clean; {
		r, size := utf8.DecodeRuneInString(s[i:])
		clean = !(r == utf8.RuneError && size == 1) && !needsEscape(r)
		i += size
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case needsEscape(r) && r < 0x80:
			switch r {
			case '\t':
				b.WriteString(`\t`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			default:
				fmt.Fprintf(&b, `\x%02x`, r)
			}
		case needsEscape(r) && r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		case needsEscape(r):
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// printableLines is printable keeping line breaks and tabs, for messages of several
// lines (usage hints indent with tabs).
func printableLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		cells := strings.Split(l, "\t")
		for j, c := range cells {
			cells[j] = printable(c)
		}
		lines[i] = strings.Join(cells, "\t")
	}
	return strings.Join(lines, "\n")
}

// minColumn is the narrowest a column is squeezed to when a table is wider than the
// terminal; ids and amounts are rarely the widest, so names and notes give way first.
const minColumn = 8

// fitTable makes every cell printable and, when the table would be wider than width
// (0: unknown), truncates the widest columns with "…" until it fits or every column is
// down to minColumn.
func fitTable(header []string, rows [][]string, width int) ([]string, [][]string) {
	n := len(header)
	for _, r := range rows {
		n = max(n, len(r))
	}
	clean := func(r []string) []string {
		out := make([]string, n)
		for i := range out {
			if i < len(r) {
				out[i] = printable(r[i])
			}
		}
		return out
	}
	h := clean(header)
	rs := make([][]string, len(rows))
	for i, r := range rows {
		rs[i] = clean(r)
	}
	if width <= 0 || n == 0 {
		return h, rs
	}
	widths := make([]int, n)
	for _, r := range append([][]string{h}, rs...) {
		for i, c := range r {
			widths[i] = max(widths[i], runewidth.StringWidth(c))
		}
	}
	// A bordered row costs "│ " before each cell, " " after it, and a final "│".
	total := func() int {
		t := 1
		for _, w := range widths {
			t += w + 3
		}
		return t
	}
	for total() > width {
		widest := 0
		for i, w := range widths {
			if w > widths[widest] {
				widest = i
			}
		}
		if widths[widest] <= minColumn {
			break
		}
		widths[widest]--
	}
	cut := func(r []string) {
		for i, c := range r {
			if runewidth.StringWidth(c) > widths[i] {
				r[i] = runewidth.Truncate(c, widths[i], "…")
			}
		}
	}
	cut(h)
	for _, r := range rs {
		cut(r)
	}
	return h, rs
}
