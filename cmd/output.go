package cmd

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/tagpay/tagpay/store"
)

// Printer writes command results to stdout: JSON with -o json (a stable contract for
// scripts), a table on a terminal, tab-separated lines otherwise.
type Printer struct {
	IO     *IOStreams
	Format string
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
	enc := json.NewEncoder(p.IO.Out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Table writes a table with borders on a terminal, and tab-separated lines without a
// header elsewhere, so that `cut -f` and `while read` work in scripts.
func (p *Printer) Table(t Table) error {
	if !p.IO.IsStdoutTTY() {
		return writeTSV(p.IO.Out, t.Rows)
	}
	tbl := tablewriter.NewTable(p.IO.Out,
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
	)
	tbl.Header(anySlice(t.Header)...)
	for _, r := range t.Rows {
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
		if _, err := fmt.Fprintf(p.IO.Out, "%s:%s %s\n", cs.Bold(f.Name), pad, f.Value); err != nil {
			return err
		}
	}
	return nil
}

func writeTSV(w io.Writer, rows [][]string) error {
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			// A tab or newline inside a cell would break the line format.
			cells[i] = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(c)
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

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
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
