package cmd

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/orders"
)

// TagDiagnoseOptions are the flags of `tag diagnose`.
type TagDiagnoseOptions struct {
	IO     *IOStreams
	Out    *Printer
	Access TagAccess
	Watch  bool

	MetaKey, FileKey []byte
	Password         []byte // presented before the checks, when given
	// Backend, unless --offline, is the ledger asked whether the tag is registered.
	Backend BackendFunc
	// FromLedger, when set, fetches the tag's own password.
	FromLedger ledgerPassword
}

// Diagnosis is `tag diagnose -o json`: the reader, the tag's UID (empty when the tag
// could not be identified), and each check in order. With --watch each is one line.
type Diagnosis struct {
	Reader  string      `json:"reader"`
	UID     string      `json:"uid"`
	Checks  []nfc.Check `json:"checks"`
	Failed  int         `json:"failed"`
	Warned  int         `json:"warned"`
	Skipped int         `json:"skipped"`
}

func newTagDiagnoseCmd(f *Factory) *cobra.Command {
	opts := &TagDiagnoseOptions{}
	var wait time.Duration
	var metaKey, fileKey string
	var offline bool
	var fromLedger func() (ledgerPassword, error)
	c := &cobra.Command{
		Use: "diagnose [--watch] [--offline] [--meta-key HEX --file-key HEX]",
		// It asks the ledger, and must not create one where none is.
		Annotations: map[string]string{annotationReadOnly: ""},
		Short:       "Check a tag: readable, genuine, intact, locked? One line per check",
		Long: `Examine the reader and the tag on it, check by check: reader, ATR, IC (GET_VERSION),
UID and its check bytes, capability container against the IC's capacity, NDEF message,
lock state, password protection, NXP originality signature, and the SUN message of an
NTAG 424 DNA when its keys are given. Then the ledger (or --server) is asked: is the
tag registered, to which merchant, is it active, and does its content verify (the MAC, or
the SUN message with a fresh counter, without using the counter up)? --offline skips
those. Each check is PASS, WARN or FAIL with one line of explanation, or SKIP when a
check it builds on gave nothing to build on (the line names that check); every other
check runs whatever an earlier one found.

Exits 0 when no check fails and 5 when one does. --watch diagnoses tag after tag until
interrupted, naming each tag: a header line per tag on a terminal, the UID first on every
tab-separated line, and one JSON object per line, with its uid, under -o json.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if (metaKey == "") != (fileKey == "") {
				return Usagef("--meta-key and --file-key go together")
			}
			if metaKey != "" {
				if opts.MetaKey, err = aesKeyFlag("--meta-key", metaKey); err != nil {
					return err
				}
				if opts.FileKey, err = aesKeyFlag("--file-key", fileKey); err != nil {
					return err
				}
			}
			opts.IO = f.IO
			if opts.Out, err = f.Printer(); err != nil {
				return err
			}
			if opts.Watch {
				wait = 0
			}
			if opts.Access, err = tagAccess(f, wait); err != nil {
				return err
			}
			if !offline {
				opts.Backend = f.Backend
			}
			if opts.FromLedger, err = fromLedger(); err != nil {
				return err
			}
			return runTagDiagnose(c.Context(), opts)
		},
	}
	c.Flags().BoolVar(&offline, "offline", false, "check the tag alone, without asking the ledger")
	c.Flags().BoolVar(&opts.Watch, "watch", false, "diagnose tag after tag until interrupted")
	c.Flags().StringVar(&metaKey, "meta-key", "", "SUN meta read key of an NTAG 424 DNA (AES-128, hex)")
	c.Flags().StringVar(&fileKey, "file-key", "", "SUN file read key of an NTAG 424 DNA (AES-128, hex)")
	passwordFlag(c, &opts.Password, "the tag's password, to examine a read-protected tag whole (4 bytes of hex)")
	fromLedger = ledgerPasswordFlag(c, f)
	waitFlag(c, &wait)
	return c
}

// aesKeyFlag reads a 16-byte AES key given in hex; a bad key is never echoed.
func aesKeyFlag(flag, v string) ([]byte, error) {
	k, err := hex.DecodeString(strings.TrimSpace(v))
	if err != nil || len(k) != 16 {
		return nil, Usagef("%s must be 16 bytes of hex (32 digits)", flag)
	}
	return k, nil
}

func runTagDiagnose(ctx context.Context, opts *TagDiagnoseOptions) error {
	bus, err := opts.Access.OpenBus()
	if err != nil {
		return err
	}
	defer bus.Close()
	if !opts.Watch {
		d, err := diagnoseOnce(ctx, bus, opts)
		if err == nil {
			err = printDiagnosis(opts, d, false)
		}
		if err != nil {
			return err
		}
		return diagnosisVerdict(d)
	}
	failed := 0
	for n := 0; ; n++ {
		d, err := diagnoseOnce(ctx, bus, opts)
		if err == nil {
			if n > 0 && !opts.Out.JSONOutput() && opts.IO.IsStdoutTTY() {
				fmt.Fprintln(opts.IO.Out)
			}
			err = printDiagnosis(opts, d, true)
		}
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			return err
		}
		if d.Failed > 0 {
			failed++
		}
		fmt.Fprintln(opts.IO.ErrOut, "Remove the tag to diagnose the next one.")
		if err := waitGone(ctx, bus, d.Reader); err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
	}
	if failed > 0 {
		return &ExitFailure{Code: ExitDeclined, Message: fmt.Sprintf("%d tag(s) failed a check", failed)}
	}
	return nil
}

// diagnoseOnce waits for a tag and runs every check.
func diagnoseOnce(ctx context.Context, bus nfc.Bus, opts *TagDiagnoseOptions) (*Diagnosis, error) {
	r, err := opts.Access.waitFor(ctx, bus)
	if err != nil {
		return nil, err
	}
	pwd := opts.Password
	if opts.FromLedger != nil {
		tag, _, err := nfc.OpenTag(ctx, bus, r.Name)
		if err != nil {
			if tag != nil {
				tag.Close()
			}
			return nil, err
		}
		uid := strings.ToUpper(hex.EncodeToString(tag.UID))
		tag.Close()
		if pwd, err = opts.FromLedger(ctx, uid); err != nil {
			return nil, err
		}
	}
	rep := nfc.DiagnoseReport(ctx, bus, nfc.DiagnoseOptions{Reader: r.Name, MetaKey: opts.MetaKey, FileKey: opts.FileKey, Password: pwd})
	checks := rep.Checks
	if opts.Backend != nil {
		checks = append(checks, ledgerChecks(ctx, bus, r.Name, opts.Backend)...)
	}
	d := &Diagnosis{Reader: r.Name, UID: strings.ToUpper(hex.EncodeToString(rep.UID)), Checks: checks}
	for _, c := range checks {
		switch c.Status {
		case nfc.StatusFail:
			d.Failed++
		case nfc.StatusWarn:
			d.Warned++
		case nfc.StatusSkip:
			d.Skipped++
		}
	}
	return d, nil
}

// printDiagnosis prints one tag's checks. Under --watch every tag is named: a header
// line on a terminal, the UID as the first field of each tab-separated line, and one
// JSON object per line, so that a stream of tags can be told apart and split.
func printDiagnosis(opts *TagDiagnoseOptions, d *Diagnosis, watch bool) error {
	if opts.Out.JSONOutput() {
		if !watch || opts.Out.JQ != nil {
			return opts.Out.JSON(d)
		}
		b, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("encoding the diagnosis: %w", err)
		}
		_, err = fmt.Fprintf(opts.IO.Out, "%s\n", b)
		return err
	}
	uid := d.UID
	if uid == "" {
		uid = "-" // the tag was not identified; a field is never left empty
	}
	tty := opts.IO.IsStdoutTTY()
	cs := opts.IO.Colors()
	t := Table{Header: []string{"CHECK", "STATUS", "DETAIL"}}
	if watch && !tty {
		t.Header = append([]string{"UID"}, t.Header...)
	}
	for _, c := range d.Checks {
		st := string(c.Status)
		switch c.Status {
		case nfc.StatusFail:
			st = cs.Red(st)
		case nfc.StatusWarn:
			st = cs.Yellow(st)
		case nfc.StatusPass:
			st = cs.Green(st)
		}
		row := []string{c.Name, st, c.Detail}
		if watch && !tty {
			row = append([]string{uid}, row...)
		}
		t.Rows = append(t.Rows, row)
	}
	if watch && tty {
		name := "tag " + uid
		if d.UID == "" {
			name = "an unidentified tag"
		}
		if _, err := fmt.Fprintf(opts.IO.Out, "%s on %q: %d failed, %d warned, %d skipped\n", cs.Bold(name), d.Reader, d.Failed, d.Warned, d.Skipped); err != nil {
			return err
		}
	}
	return opts.Out.Table(t)
}

// diagnosisVerdict turns failed checks into exit 5, naming them.
func diagnosisVerdict(d *Diagnosis) error {
	if d.Failed == 0 {
		return nil
	}
	var names []string
	for _, c := range d.Checks {
		if c.Status == nfc.StatusFail {
			names = append(names, c.Name)
		}
	}
	return &ExitFailure{Code: ExitDeclined, Message: fmt.Sprintf("the tag failed %d check(s): %s", d.Failed, strings.Join(names, ", "))}
}

// Names of the checks that ask the ledger.
const (
	CheckRegistered = "ledger registration"
	CheckStatus     = "ledger status"
	CheckContent    = "ledger content"
)

// ledgerChecks read the tag's UID and URL again and ask the ledger about them.
func ledgerChecks(ctx context.Context, bus nfc.Bus, reader string, open BackendFunc) []nfc.Check {
	check := func(name string, st nfc.Status, format string, args ...any) nfc.Check {
		return nfc.Check{Name: name, Status: st, Detail: fmt.Sprintf(format, args...)}
	}
	tag, _, err := nfc.OpenTag(ctx, bus, reader)
	if err != nil {
		if tag != nil {
			tag.Close()
		}
		return []nfc.Check{check(CheckRegistered, nfc.StatusWarn, "not asked: the tag could not be read again (%v)", err)}
	}
	uid := strings.ToUpper(hex.EncodeToString(tag.UID))
	content := ""
	if msg, err := tag.ReadNDEF(); err == nil {
		content, _ = uriOf(msg)
	}
	tag.Close()
	var in orders.Inspection
	err = withBackend(ctx, open, func(be backend.Backend) (err error) {
		in, err = be.InspectTag(ctx, orders.PaymentRequest{UID: uid, Content: content})
		return err
	})
	if err != nil {
		return []nfc.Check{check(CheckRegistered, nfc.StatusWarn, "not asked: %v (--offline checks the tag alone)", err)}
	}
	switch {
	case in.Clone:
		return []nfc.Check{check(CheckRegistered, nfc.StatusFail, "%s", in.ContentDetail)}
	case !in.Registered:
		return []nfc.Check{check(CheckRegistered, nfc.StatusWarn, "not a registered payment tag (of yours)")}
	}
	out := []nfc.Check{check(CheckRegistered, nfc.StatusPass, "registered as %s (%s tag) to %s %q", in.Ref, in.Kind, in.Merchant, printable(in.MerchantName))}
	switch in.Status {
	case orders.TagActive:
		out = append(out, check(CheckStatus, nfc.StatusPass, "active"))
	case orders.TagPending:
		out = append(out, check(CheckStatus, nfc.StatusWarn, "pending: provisioning has not confirmed it"))
	default:
		out = append(out, check(CheckStatus, nfc.StatusFail, "%s: %s", in.Status, printable(in.Reason)))
	}
	st := nfc.StatusFail
	if in.ContentOK {
		st = nfc.StatusPass
	}
	return append(out, check(CheckContent, st, "%s", in.ContentDetail))
}
