package cmd

import (
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/ndef"
	"github.com/tagpay/tagpay/orders"
)

// TagProvisionOptions are the flags of `tag provision`.
type TagProvisionOptions struct {
	Env
	Access TagAccess

	Merchant, Amount, Label, BaseURL string
	Count                            int
	Lock                             bool
	Report                           string
	IdempotencyKey                   string
}

// Outcomes of one tag in a provisioning batch.
const (
	provisionActive  = "active"  // registered, written, read back, confirmed
	provisionFailed  = "failed"  // registered, then marked failed in the ledger
	provisionRefused = "refused" // never registered: the ledger or the tag said no first
	provisionStuck   = "error"   // failed, and marking it failed failed too: act on it
)

// ProvisionResult is one tag of `tag provision`: a line of the summary and the report.
type ProvisionResult struct {
	Index   int    `json:"index"`
	UID     string `json:"uid"`
	IC      string `json:"ic,omitempty"`
	Tag     string `json:"tag,omitempty"` // registration id
	Ref     string `json:"ref,omitempty"`
	Content string `json:"content,omitempty"`
	Status  string `json:"status"`
	Locked  bool   `json:"locked"`
	Reason  string `json:"reason,omitempty"`
	APDUs   int    `json:"apdus"`
	err     error  // what went wrong, for the exit code
}

func newTagProvisionCmd(f *Factory) *cobra.Command {
	opts := &TagProvisionOptions{}
	var wait time.Duration
	c := &cobra.Command{
		Use:   "provision --merchant ACCOUNT [--count N] [--lock] [--amount AMOUNT] [--label TEXT] [--report FILE]",
		Short: "Register, write, check and optionally lock merchant tags, tag after tag",
		Long: `Provision merchant tags one after another: for each tag presented on the reader,
register it to the merchant as pending, write the content the ledger gives it, lock it
with --lock, read it back on a fresh connection and confirm what was read, which makes it
active. A tag whose write, lock or read-back fails is marked failed in the ledger, never
left registered as good, and the summary says why.

Progress shows on a terminal; a summary table follows, and --report FILE writes a CSV or
JSON report (by FILE's extension). Exits 6 when a tag failed because of the reader or
the tag.`,
		Example: `  tagpay tag provision --merchant acct_… --count 20 --lock --yes --report batch.csv
  tagpay tag provision --merchant acct_… --amount 2.00 --label "Parking" -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if err := requireFlags(c, "merchant"); err != nil {
				return err
			}
			if opts.Count < 1 {
				return Usagef("--count must be at least 1")
			}
			if opts.Report != "" {
				if _, err := reportFormat(opts.Report); err != nil {
					return err
				}
			}
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			if opts.Access, err = tagAccess(f, wait); err != nil {
				return err
			}
			return runTagProvision(c.Context(), opts)
		},
	}
	fl := c.Flags()
	fl.StringVar(&opts.Merchant, "merchant", "", "merchant account the tags pay")
	fl.IntVar(&opts.Count, "count", 1, "how many tags to provision")
	fl.BoolVar(&opts.Lock, "lock", false, "make each tag permanently read-only")
	fl.StringVar(&opts.Amount, "amount", "", "fixed amount of every payment (default: the payer chooses)")
	fl.StringVar(&opts.Label, "label", "", "label shown to the payer")
	fl.StringVar(&opts.BaseURL, "base-url", "", "base URL of the content (default: the ledger's)")
	fl.StringVar(&opts.Report, "report", "", "write a report to FILE (.csv or .json)")
	fl.DurationVar(&wait, "wait", time.Minute, "how long to wait for each tag (0: until interrupted)")
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func reportFormat(path string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".csv", ".json":
		return ext[1:], nil
	}
	return "", Usagef("--report %s: name a .csv or .json file", path)
}

func runTagProvision(ctx context.Context, opts *TagProvisionOptions) error {
	bus, err := opts.Access.OpenBus()
	if err != nil {
		return err
	}
	defer bus.Close()
	var results []*ProvisionResult
	var stopped error
	err = withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		p := newProvisionProgress(opts.IO, opts.Count)
		defer p.finish()
		for i := 1; i <= opts.Count; i++ {
			t, err := opts.Access.openOn(ctx, bus)
			if err != nil {
				// No tag came, or it could not be identified before anything was
				// registered: the batch stops here.
				stopped = fmt.Errorf("stopped after %d of %d tag(s): %w", i-1, opts.Count, err)
				return nil
			}
			r := provisionOne(ctx, be, t, i, opts)
			t.Close()
			results = append(results, r)
			p.done(r)
			if ctx.Err() != nil {
				stopped = fmt.Errorf("stopped after %d of %d tag(s): %w", i, opts.Count, ctx.Err())
				return nil
			}
			if i < opts.Count {
				p.note(fmt.Sprintf("Tag %d of %d done (%s); take it away and present the next one.", i, opts.Count, r.Status))
				if err := waitGone(ctx, bus, t.Reader); err != nil {
					stopped = fmt.Errorf("stopped after %d of %d tag(s): %w", i, opts.Count, err)
					return nil
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if opts.Report != "" {
		if err := writeProvisionReport(opts.Report, results); err != nil {
			return err
		}
	}
	if err := printProvisionSummary(opts.Out, results); err != nil {
		return err
	}
	return provisionVerdict(results, stopped)
}

// provisionOne takes one tag through register, write, lock, read-back and confirm. From
// the moment it is registered, any failure marks it failed in the ledger.
func provisionOne(ctx context.Context, be backend.Backend, t *openedTag, index int, opts *TagProvisionOptions) *ProvisionResult {
	uid := strings.ToUpper(hex.EncodeToString(t.UID))
	r := &ProvisionResult{Index: index, UID: uid, IC: t.Name}
	key := func(step string) string {
		if opts.IdempotencyKey == "" {
			return ""
		}
		return opts.IdempotencyKey + ":" + uid + ":" + step
	}
	reg, err := be.RegisterTag(ctx, orders.RegisterRequest{
		UID: uid, Merchant: opts.Merchant, Amount: opts.Amount, Label: opts.Label, BaseURL: opts.BaseURL,
		Pending: true, IdempotencyKey: key("register"),
	})
	if err != nil {
		r.Status, r.Reason, r.err = provisionRefused, err.Error(), err
		return r
	}
	r.Tag, r.Ref, r.Content = reg.ID, reg.Ref, reg.Content
	fail := func(err error) *ProvisionResult {
		r.APDUs = t.apdus()
		r.err = err
		r.Status, r.Reason = provisionFailed, err.Error()
		// Mark it failed even when interrupted: a registration must never stay pending
		// or look good for a tag that does not hold its content.
		_, ferr := be.FailTag(context.WithoutCancel(ctx), orders.TagStateRequest{Tag: reg.ID, Reason: truncateReason(err.Error()), IdempotencyKey: key("fail")})
		// ConfirmTag marks the tag failed itself when it declines the read-back.
		if ferr != nil && statusOf(ctx, be, reg.ID) != orders.TagFailed {
			r.Status = provisionStuck
			r.Reason += fmt.Sprintf("; marking it failed in the ledger failed too (%v): run tagpay tag revoke %s", ferr, reg.Ref)
		}
		return r
	}
	msg, err := ndef.Encode(ndef.Message{ndef.NewURI(reg.Content)})
	if err != nil {
		return fail(fmt.Errorf("encoding the content: %w", err))
	}
	if err := t.WriteNDEF(msg, nfc.WriteOptions{}); err != nil {
		return fail(writeError(err))
	}
	if opts.Lock {
		if err := t.Lock(); err != nil {
			return fail(fmt.Errorf("locking: %w", err))
		}
		r.Locked = true
	}
	// Read back on a fresh connection, so nothing cached from the write can answer.
	uidRead, content, err := t.readBack(ctx)
	if err != nil {
		return fail(fmt.Errorf("reading back: %w", err))
	}
	confirmed, err := be.ConfirmTag(ctx, orders.ConfirmRequest{Tag: reg.ID, UID: uidRead, Content: content, IdempotencyKey: key("confirm")})
	if err != nil {
		return fail(err)
	}
	r.Status, r.APDUs = string(confirmed.Status), t.apdus()
	return r
}

// statusOf is the ledger's status of a tag, or "" when it cannot be asked.
func statusOf(ctx context.Context, be backend.Backend, id string) orders.TagStatus {
	t, err := be.GetTag(context.WithoutCancel(ctx), id)
	if err != nil {
		return ""
	}
	return t.Status
}

// truncateReason keeps a failure reason within what the ledger stores.
func truncateReason(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return s[:max-1] + "…"
}

// readBack opens the tag again and reads its UID and URL, as a payer's phone would.
func (o *openedTag) readBack(ctx context.Context) (uid, content string, err error) {
	o.closed = true
	err = o.Tag.Close()
	o.prior += o.APDUs.APDUs() // after Close: ending a Part 3 session is an APDU too
	if err != nil {
		return "", "", err
	}
	tag, cc, err := nfc.OpenTag(ctx, o.bus, o.Reader)
	if err != nil {
		if tag != nil {
			tag.Close()
		}
		return "", "", err
	}
	o.Tag, o.APDUs, o.closed = tag, cc, false
	msg, err := tag.ReadNDEF()
	if err != nil {
		return "", "", err
	}
	content, err = uriOf(msg)
	if err != nil {
		return "", "", err
	}
	return strings.ToUpper(hex.EncodeToString(tag.UID)), content, nil
}

// provisionVerdict is the exit status of a batch: 6 when a tag failed because of the
// reader or the tag, else the first failure's own code.
func provisionVerdict(results []*ProvisionResult, stopped error) error {
	var failed []*ProvisionResult
	code := ExitOK
	for _, r := range results {
		if r.err == nil {
			continue
		}
		failed = append(failed, r)
		c := ExitCode(r.err)
		if r.Status == provisionStuck {
			c = ExitError
		}
		// A reader or tag failure decides the code; else the first failure does.
		if code == ExitOK || c == ExitDevice {
			code = c
		}
	}
	if stopped != nil {
		if len(failed) == 0 {
			return stopped
		}
		if errors.Is(stopped, nfc.ErrDevice) {
			code = ExitDevice
		}
	}
	if len(failed) == 0 {
		return nil
	}
	msg := fmt.Sprintf("%d of %d tag(s) failed: ", len(failed), len(results))
	var parts []string
	for _, r := range failed {
		parts = append(parts, fmt.Sprintf("%s %s (%s)", r.UID, r.Status, r.Reason))
	}
	msg += strings.Join(parts, "; ")
	if stopped != nil {
		msg += "; " + stopped.Error()
	}
	return &ExitFailure{Code: code, Message: msg}
}

func printProvisionSummary(p *Printer, results []*ProvisionResult) error {
	t := Table{Header: []string{"#", "UID", "IC", "REF", "STATUS", "LOCKED", "REASON"}}
	for _, r := range results {
		t.Rows = append(t.Rows, []string{strconv.Itoa(r.Index), r.UID, r.IC, r.Ref, r.Status, fmtBool(r.Locked), r.Reason})
	}
	return p.List(orEmpty(results), t)
}

func writeProvisionReport(path string, results []*ProvisionResult) error {
	format, err := reportFormat(path)
	if err != nil {
		return err
	}
	var b strings.Builder
	if format == "json" {
		enc := json.NewEncoder(&b)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(orEmpty(results)); err != nil {
			return err
		}
	} else {
		w := csv.NewWriter(&b)
		w.Write([]string{"index", "uid", "ic", "tag", "ref", "content", "status", "locked", "reason", "apdus"})
		for _, r := range results {
			w.Write([]string{strconv.Itoa(r.Index), r.UID, r.IC, r.Tag, r.Ref, r.Content, r.Status, strconv.FormatBool(r.Locked), r.Reason, strconv.Itoa(r.APDUs)})
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return err
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}

// provisionProgress shows a bar on a terminal, and one line per tag elsewhere.
type provisionProgress struct {
	out io.Writer
	bar *progressbar.ProgressBar
}

func newProvisionProgress(s *IOStreams, count int) *provisionProgress {
	p := &provisionProgress{out: s.ErrOut}
	if s.IsStdoutTTY() && count > 1 {
		p.bar = progressbar.NewOptions(count,
			progressbar.OptionSetWriter(s.ErrOut),
			progressbar.OptionSetDescription("provisioning"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionEnableColorCodes(s.ColorEnabled()),
		)
	}
	return p
}

func (p *provisionProgress) done(r *ProvisionResult) {
	line := fmt.Sprintf("tag %d %s: %s", r.Index, r.UID, r.Status)
	if r.Reason != "" {
		line += " (" + r.Reason + ")"
	}
	if p.bar != nil {
		p.bar.Clear()
		fmt.Fprintln(p.out, line)
		p.bar.Add(1)
		return
	}
	fmt.Fprintln(p.out, line)
}

func (p *provisionProgress) note(s string) {
	if p.bar != nil {
		p.bar.Clear()
		fmt.Fprintln(p.out, s)
		p.bar.RenderBlank()
		return
	}
	fmt.Fprintln(p.out, s)
}

func (p *provisionProgress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		fmt.Fprintln(p.out)
	}
}
