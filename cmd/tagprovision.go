package cmd

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/orders"
)

// TagProvisionOptions are the flags of `tag provision`.
type TagProvisionOptions struct {
	Env
	Access TagAccess

	Merchant, Amount, Label, BaseURL string
	Count                            int
	Lock, Yes                        bool
	SUN, Protect                     bool
	MetaKey, FileKey                 string
	Plan                             string
	Report                           string
	IdempotencyKey                   string
}

// ProvisionResult is one tag of `tag provision`: a line of the summary and the report.
type ProvisionResult struct {
	Index   int `json:"index"`
	PlanRow int `json:"plan_row,omitempty"` // 1-based row of --plan this tag made
	// Provisioned is the domain's outcome of the last attempt at the tag.
	orders.Provisioned
	IC       string `json:"ic,omitempty"`
	APDUs    int    `json:"apdus"`
	Attempts int    `json:"attempts"`
}

func newTagProvisionCmd(f *Factory) *cobra.Command {
	opts := &TagProvisionOptions{}
	var wait time.Duration
	c := &cobra.Command{
		Use:   "provision --merchant ACCOUNT [--count N] [--lock [--yes]] [--amount AMOUNT] [--label TEXT] [--report FILE] | --plan FILE --report FILE",
		Short: "Register, write, check and optionally lock merchant tags, tag after tag",
		Long: `Provision merchant tags one after another: for each tag presented on the reader,
register it to the merchant as pending, write the content the ledger gives it, lock it
with --lock, read it back on a fresh connection and confirm what was read, which makes it
active. A tag whose write, lock or read-back fails is marked failed in the ledger, never
left registered as good, and the summary says why. A locked or read-only tag is refused
before anything is registered.

A tag presented again after it was provisioned uses no slot; one that failed is tried
again, and its new outcome replaces the old one in the summary and the report.

--sun sets NTAG 424 DNA tags up for SUN: the URL template, SDM, and keys of their own
derived in the ledger (key 0 too, so no one else can reconfigure the tag), then reads one
SUN URL back and verifies it before the tag becomes active. A set-up interrupted part way
names the keys already changed; provisioning the same tag again finishes it.
--protect guards each NTAG21x sticker's writes with its own password, derived in the
ledger and never shown; tag write --ledger-password fetches it for its merchant.

--plan FILE (CSV or JSON) lists the tags to make, one per row: merchant, label, amount,
lock, protect. With --plan, --report is the state of the run: started again with the same plan
and report, provisioning continues where it stopped, and nothing is provisioned twice.

Progress shows on a terminal; a summary table follows, and --report FILE writes a CSV or
JSON report (by FILE's extension) after every tag. Exits 6 when a tag failed because of
the reader or the tag.`,
		Example: `  tagpay tag provision --merchant acct_… --count 20 --lock --yes --report batch.csv
  tagpay tag provision --merchant acct_… --amount 2.00 --label "Parking" -o json
  tagpay tag provision --merchant acct_… --protect --count 50 --report batch.json
  tagpay tag provision --merchant acct_… --sun
  tagpay tag provision --plan stickers.csv --report stickers-done.csv`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if opts.Plan == "" {
				if err := requireFlags(c, "merchant"); err != nil {
					return err
				}
			} else {
				for _, name := range []string{"merchant", "count", "amount", "label", "lock", "protect"} {
					if c.Flags().Changed(name) {
						return Usagef("--%s comes from the plan's rows; do not give it with --plan", name)
					}
				}
				if opts.Report == "" {
					return Usagef("--plan needs --report FILE: the report is the state of the run")
				}
			}
			if opts.Count < 1 {
				return Usagef("--count must be at least 1")
			}
			if (opts.MetaKey != "" || opts.FileKey != "") && !opts.SUN {
				return Usagef("--meta-key and --file-key go with --sun")
			}
			if opts.SUN && (opts.Lock || opts.Protect) {
				return Usagef("--sun tags are guarded by their keys; --lock and --protect are for NTAG21x stickers")
			}
			if opts.Report != "" {
				if _, err := fileFormat(opts.Report, "--report"); err != nil {
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
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "lock without asking for confirmation")
	fl.StringVar(&opts.Amount, "amount", "", "fixed amount of every payment (default: the payer chooses)")
	fl.StringVar(&opts.Label, "label", "", "label shown to the payer")
	fl.StringVar(&opts.BaseURL, "base-url", "", "base URL of the content (default: the ledger's)")
	fl.BoolVar(&opts.SUN, "sun", false, "set NTAG 424 DNA tags up for SUN, with keys of their own")
	fl.StringVar(&opts.MetaKey, "meta-key", "", "with --sun: this SUN meta key (hex) instead of the derived one, for tests")
	fl.StringVar(&opts.FileKey, "file-key", "", "with --sun: this SUN file key (hex) instead of the derived one, for tests")
	fl.BoolVar(&opts.Protect, "protect", false, "guard each sticker's writes with its own password, kept by the ledger")
	fl.StringVar(&opts.Plan, "plan", "", "provision the tags this CSV or JSON file lists")
	fl.StringVar(&opts.Report, "report", "", "write a report to FILE (.csv or .json) after every tag")
	fl.DurationVar(&wait, "wait", time.Minute, "how long to wait for each tag (0: until interrupted)")
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func fileFormat(path, flag string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".csv", ".json":
		return ext[1:], nil
	}
	return "", Usagef("%s %s: name a .csv or .json file", flag, path)
}

// planRow is one tag a plan asks for.
type planRow struct {
	Merchant string `json:"merchant"`
	Label    string `json:"label,omitempty"`
	Amount   string `json:"amount,omitempty"`
	Lock     bool   `json:"lock,omitempty"`
	Protect  bool   `json:"protect,omitempty"`
}

// provisionRun is what the run is to make: the plan's rows, or --count slots of one
// request; and the key its ledger steps are held to.
type provisionRun struct {
	rows []planRow
	key  string
}

func (opts *TagProvisionOptions) run() (provisionRun, error) {
	if opts.Plan == "" {
		row := planRow{Merchant: opts.Merchant, Label: opts.Label, Amount: opts.Amount, Lock: opts.Lock, Protect: opts.Protect}
		rows := make([]planRow, opts.Count)
		for i := range rows {
			rows[i] = row
		}
		return provisionRun{rows: rows, key: opts.IdempotencyKey}, nil
	}
	raw, err := os.ReadFile(opts.Plan)
	if err != nil {
		return provisionRun{}, Usagef("--plan: %v", err)
	}
	rows, err := parsePlan(opts.Plan, raw)
	if err != nil {
		return provisionRun{}, err
	}
	// The same plan gives the same keys, so that a run started again never registers a
	// tag twice, even one whose outcome the report missed.
	key := opts.IdempotencyKey
	if key == "" {
		sum := sha256.Sum256(raw)
		key = "plan-" + hex.EncodeToString(sum[:8])
	}
	return provisionRun{rows: rows, key: key}, nil
}

// parsePlan reads the rows of a plan file, refusing what it cannot use and naming the
// row.
func parsePlan(path string, raw []byte) ([]planRow, error) {
	format, err := fileFormat(path, "--plan")
	if err != nil {
		return nil, err
	}
	var rows []planRow
	if format == "json" {
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rows); err != nil {
			return nil, Usagef("--plan %s: not a JSON list of {merchant, label, amount, lock, protect}: %v", path, err)
		}
	} else {
		r := csv.NewReader(strings.NewReader(string(raw)))
		recs, err := r.ReadAll()
		if err != nil {
			return nil, Usagef("--plan %s: %v", path, err)
		}
		if len(recs) == 0 {
			return nil, Usagef("--plan %s is empty", path)
		}
		col := map[string]int{}
		for i, h := range recs[0] {
			col[strings.ToLower(strings.TrimSpace(h))] = i
		}
		for _, h := range recs[0] {
			switch strings.ToLower(strings.TrimSpace(h)) {
			case "merchant", "label", "amount", "lock", "protect":
			default:
				return nil, Usagef("--plan %s: unknown column %q (merchant, label, amount, lock, protect)", path, h)
			}
		}
		if _, ok := col["merchant"]; !ok {
			return nil, Usagef("--plan %s: the header names no merchant column", path)
		}
		get := func(rec []string, name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		for n, rec := range recs[1:] {
			row := planRow{Merchant: get(rec, "merchant"), Label: get(rec, "label"), Amount: get(rec, "amount")}
			for _, f := range []struct {
				name string
				dst  *bool
			}{{"lock", &row.Lock}, {"protect", &row.Protect}} {
				if v := get(rec, f.name); v != "" {
					b, err := strconv.ParseBool(v)
					if err != nil {
						return nil, Usagef("--plan %s row %d: %s %q is not true or false", path, n+1, f.name, v)
					}
					*f.dst = b
				}
			}
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return nil, Usagef("--plan %s lists no tags", path)
	}
	for i, r := range rows {
		if r.Merchant == "" {
			return nil, Usagef("--plan %s row %d names no merchant", path, i+1)
		}
	}
	return rows, nil
}

func runTagProvision(ctx context.Context, opts *TagProvisionOptions) error {
	run, err := opts.run()
	if err != nil {
		return err
	}
	results, err := readProvisionReport(opts)
	if err != nil {
		return err
	}
	// Ask before touching any tag: a script must have answered with --yes.
	for _, r := range run.rows {
		if r.Lock && !opts.Yes {
			ok, err := confirm(opts.IO, "Lock every tag of this run? They become read-only for ever", "--yes")
			if err != nil {
				return err
			}
			if !ok {
				return errors.New("not confirmed; nothing was provisioned")
			}
			break
		}
	}
	bus, err := opts.Access.OpenBus()
	if err != nil {
		return err
	}
	defer bus.Close()
	b := &provisionBatch{run: run, results: results, assigned: map[int]bool{}}
	p := newProvisionProgress(opts.IO, len(run.rows), b.done())
	opts.Access.Waiting = p
	var stopped error
	err = withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		stopped = b.provision(ctx, be, bus, opts, p)
		return nil
	})
	p.finish(b.done() == len(run.rows))
	if err != nil {
		return err
	}
	if err := printProvisionSummary(opts.Out, b.results); err != nil {
		return err
	}
	return provisionVerdict(b.results, stopped)
}

// provisionBatch is the state of a run: the outcome of each tag, by UID, in the order
// the tags came (the report's rows). Each row of the run takes one tag: a tag that
// failed keeps its row, and the same tag presented again is tried again in that row.
// A row whose tag failed is taken up again by the next run of the same plan.
type provisionBatch struct {
	run      provisionRun
	results  []*ProvisionResult
	assigned map[int]bool // rows (1-based) given a tag by this run
}

// done counts the plan rows that have an active tag.
func (b *provisionBatch) done() int {
	n := 0
	for _, r := range b.results {
		if r.Status == orders.ProvisionActive {
			n++
		}
	}
	return n
}

// nextRow is the first row (0-based) with no active tag that this run has not given a
// tag yet, or -1 when the run is over.
func (b *provisionBatch) nextRow() int {
	made := map[int]bool{}
	for _, r := range b.results {
		if r.Status == orders.ProvisionActive {
			made[r.PlanRow] = true
		}
	}
	for i := range b.run.rows {
		if !made[i+1] && !b.assigned[i+1] {
			return i
		}
	}
	return -1
}

func (b *provisionBatch) byUID(uid string) *ProvisionResult {
	for _, r := range b.results {
		if strings.EqualFold(r.UID, uid) {
			return r
		}
	}
	return nil
}

// provision takes tags from the reader until every row has its tag, or it must stop;
// it returns why it stopped early.
func (b *provisionBatch) provision(ctx context.Context, be backend.Backend, bus nfc.Bus, opts *TagProvisionOptions, p *provisionProgress) error {
	for {
		row := b.nextRow()
		if row < 0 {
			return nil
		}
		t, err := opts.Access.openOn(ctx, bus)
		if err != nil {
			return fmt.Errorf("stopped with %d of %d tag(s) provisioned: %w", b.done(), len(b.run.rows), err)
		}
		uid := strings.ToUpper(hex.EncodeToString(t.UID))
		prev := b.byUID(uid)
		switch {
		case prev != nil && prev.Status == orders.ProvisionActive:
			t.Close()
			p.note(fmt.Sprintf("Tag %s was provisioned already (ref %s); take it away and present the next one.", uid, prev.Ref))
		default:
			if prev != nil && prev.PlanRow > 0 && b.assigned[prev.PlanRow] {
				row = prev.PlanRow - 1 // tried again in its own row
			}
			b.assigned[row+1] = true
			b.provisionOne(ctx, be, t, row, prev, opts, p)
			t.Close()
			if opts.Report != "" {
				if err := writeProvisionReport(opts.Report, b.results); err != nil {
					return err
				}
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("stopped with %d of %d tag(s) provisioned: %w", b.done(), len(b.run.rows), ctx.Err())
		}
		if b.nextRow() < 0 {
			return nil
		}
		p.note(fmt.Sprintf("%d of %d done; take the tag away and present the next one.", b.done(), len(b.run.rows)))
		if err := waitGone(ctx, bus, t.Reader); err != nil {
			return fmt.Errorf("stopped with %d of %d tag(s) provisioned: %w", b.done(), len(b.run.rows), err)
		}
	}
}

// provisionOne runs the domain's provisioning flow on one tag for plan row row, and
// records its outcome in place of any earlier one of the same tag.
func (b *provisionBatch) provisionOne(ctx context.Context, be backend.Backend, t *openedTag, row int, prev *ProvisionResult, opts *TagProvisionOptions, p *provisionProgress) {
	r := prev
	if r == nil {
		r = &ProvisionResult{Index: len(b.results) + 1, Provisioned: orders.Provisioned{UID: strings.ToUpper(hex.EncodeToString(t.UID))}}
		b.results = append(b.results, r)
	}
	r.Attempts++
	spec := b.run.rows[row]
	key := ""
	if b.run.key != "" {
		// Each attempt at a tag is its own registration: a retry after a failure must
		// not replay the failed one.
		key = fmt.Sprintf("%s.%d", b.run.key, r.Attempts)
	}
	out := orders.Provision(ctx, be, &provisionTarget{t: t, ctx: ctx}, orders.ProvisionRequest{
		Merchant: spec.Merchant, Amount: spec.Amount, Label: spec.Label, BaseURL: opts.BaseURL,
		Lock: spec.Lock, Protect: spec.Protect, SUN: opts.SUN, MetaKey: opts.MetaKey, FileKey: opts.FileKey,
		IdempotencyKey: key,
	})
	r.Provisioned, r.PlanRow, r.IC, r.APDUs = out, row+1, t.Name, t.apdus()
	p.done(r, b.done())
}

// provisionTarget is a tag on the reader as the domain's provisioning flow needs it.
type provisionTarget struct {
	t   *openedTag
	ctx context.Context
}

func (p *provisionTarget) UID() string { return strings.ToUpper(hex.EncodeToString(p.t.UID)) }

// Writable refuses a tag whose content cannot be replaced, before it is registered.
func (p *provisionTarget) Writable() error {
	in, err := p.t.Info()
	if err != nil {
		return err
	}
	switch in.Lock {
	case nfc.LockReadOnly, nfc.LockPartial:
		return fmt.Errorf("%w: the tag is %s; it cannot take a payment URL", nfc.ErrUnsupported, in.Lock)
	}
	if pw := in.Password; pw != nil && pw.Enabled && pw.FromPage <= 4 {
		return fmt.Errorf("%w: the tag is password-protected from page %d", nfc.ErrUnsupported, pw.FromPage)
	}
	return nil
}

func (p *provisionTarget) WriteNDEF(msg []byte) error {
	return writeError(p.t.Tag.WriteNDEF(msg, nfc.WriteOptions{}))
}

func (p *provisionTarget) Lock() error { return p.t.Tag.Lock() }

// SetUpSUN sets an NTAG 424 DNA up for SUN while holding the reader, so that no other
// program can interleave with its key changes.
func (p *provisionTarget) SetUpSUN(s orders.SUNSetup) (string, error) {
	var url string
	err := p.t.Tag.Exclusive(func() error {
		res, err := nfc.ProvisionSUN(p.t.Tag, nfc.SUNPlan{URL: s.URL, MetaKey: s.MetaKey, FileKey: s.FileKey, AppMasterKey: s.AppKey})
		if err != nil {
			return err
		}
		url = res.URL
		return nil
	})
	return url, err
}

// Protect guards the sticker's user memory (from page 4) with its password.
func (p *provisionTarget) Protect(pwd, pack []byte) error {
	return p.t.Tag.SetPassword(nfc.PasswordConfig{Password: pwd, PACK: pack, FromPage: 4})
}

func (p *provisionTarget) ReadBack(ctx context.Context) (string, string, error) {
	return p.t.readBack(ctx)
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

// provisionVerdict is the exit status of a batch from the final outcome of every tag:
// 6 when a tag failed because of the reader or the tag, else the first failure's own
// code; a run stopped early says so.
func provisionVerdict(results []*ProvisionResult, stopped error) error {
	var failed []*ProvisionResult
	code := ExitOK
	for _, r := range results {
		if r.Status == orders.ProvisionActive {
			continue
		}
		failed = append(failed, r)
		c := ExitCode(r.Err)
		if r.Status == orders.ProvisionStuck || r.Err == nil {
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
		switch {
		case errors.Is(stopped, context.Canceled):
			code = ExitInterrupted // Ctrl-C is 130 whatever went wrong before it
		case errors.Is(stopped, nfc.ErrDevice):
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

var reportHeader = []string{"index", "uid", "ic", "tag", "ref", "content", "status", "locked", "reason", "apdus", "plan_row", "attempts"}

func writeProvisionReport(path string, results []*ProvisionResult) error {
	format, err := fileFormat(path, "--report")
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
		w.Write(reportHeader)
		for _, r := range results {
			w.Write([]string{strconv.Itoa(r.Index), r.UID, r.IC, r.Tag, r.Ref, r.Content, r.Status, strconv.FormatBool(r.Locked),
				r.Reason, strconv.Itoa(r.APDUs), strconv.Itoa(r.PlanRow), strconv.Itoa(r.Attempts)})
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return err
		}
	}
	// Write beside and rename, so that a crash mid-write never leaves half a report: the
	// report is the state a plan run continues from.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}

// readProvisionReport loads the report of an earlier run of the same plan; without
// --plan, or when the file does not exist yet, the run starts afresh.
func readProvisionReport(opts *TagProvisionOptions) ([]*ProvisionResult, error) {
	if opts.Plan == "" || opts.Report == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(opts.Report)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the report: %w", err)
	}
	var out []*ProvisionResult
	if format, _ := fileFormat(opts.Report, "--report"); format == "json" {
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, Usagef("--report %s is not a report of tag provision: %v", opts.Report, err)
		}
		return out, nil
	}
	recs, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil || len(recs) == 0 || strings.Join(recs[0], ",") != strings.Join(reportHeader, ",") {
		return nil, Usagef("--report %s is not a report of tag provision", opts.Report)
	}
	for _, rec := range recs[1:] {
		if len(rec) != len(reportHeader) {
			return nil, Usagef("--report %s: a row has %d fields, not %d", opts.Report, len(rec), len(reportHeader))
		}
		var r ProvisionResult
		var perr error
		num := func(s string) int {
			n, err := strconv.Atoi(s)
			if err != nil {
				perr = err
			}
			return n
		}
		r.Index, r.UID, r.IC, r.Tag, r.Ref, r.Content, r.Status = num(rec[0]), rec[1], rec[2], rec[3], rec[4], rec[5], rec[6]
		r.Locked = rec[7] == "true"
		r.Reason, r.APDUs, r.PlanRow, r.Attempts = rec[8], num(rec[9]), num(rec[10]), num(rec[11])
		if perr != nil {
			return nil, Usagef("--report %s: %v", opts.Report, perr)
		}
		out = append(out, &r)
	}
	return out, nil
}

// provisionProgress shows a bar on a terminal, and one line per tag elsewhere. Every
// other line (waiting for a tag, take it away) goes through it, so that none is drawn
// across the bar.
type provisionProgress struct {
	out io.Writer
	bar *progressbar.ProgressBar
}

func newProvisionProgress(s *IOStreams, count, done int) *provisionProgress {
	p := &provisionProgress{out: s.ErrOut}
	if s.IsStdoutTTY() && count > 1 {
		p.bar = progressbar.NewOptions(count,
			progressbar.OptionSetWriter(s.ErrOut),
			progressbar.OptionSetDescription("provisioning"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionEnableColorCodes(s.ColorEnabled()),
		)
		p.bar.Set(done)
	}
	return p
}

// Write prints a line above the bar.
func (p *provisionProgress) Write(b []byte) (int, error) {
	p.note(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func (p *provisionProgress) done(r *ProvisionResult, done int) {
	line := fmt.Sprintf("tag %d %s: %s", r.Index, r.UID, r.Status)
	if r.Reason != "" {
		line += " (" + r.Reason + ")"
	}
	p.note(line)
	if p.bar != nil {
		p.bar.Set(done)
	}
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

// finish leaves the bar as far as the run really got: full only when every tag is made.
func (p *provisionProgress) finish(complete bool) {
	if p.bar == nil {
		return
	}
	if complete {
		p.bar.Finish()
	} else {
		p.bar.Exit()
	}
	fmt.Fprintln(p.out)
}
