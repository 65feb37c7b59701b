package cmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/store"
)

// LedgerCopyOptions are the flags of `ledger copy`.
type LedgerCopyOptions struct {
	IO       *IOStreams
	Out      *Printer
	From, To string
	Local    backend.LocalOptions
}

// CopyResult is `ledger copy -o json`: what was copied, and the checks that passed
// afterwards.
type CopyResult struct {
	From     string         `json:"from"`
	To       string         `json:"to"`
	Records  int            `json:"records"`
	Buckets  map[string]int `json:"buckets"`
	Accounts int            `json:"accounts"`
	// Transfers is the length of the journal, the same on both sides.
	Transfers int  `json:"transfers"`
	Verified  bool `json:"verified"`
}

func newLedgerCopyCmd(f *Factory) *cobra.Command {
	opts := &LedgerCopyOptions{}
	c := &cobra.Command{
		Use:   "copy --from FILE --to postgres://…",
		Short: "Copy a ledger file into an empty PostgreSQL database, then check both",
		Long: `Copy every record of the ledger --from (a ledger file) into the ledger --to (a
postgres:// URL of a database without tagpay records yet; a ledger file works too), in
one transaction on each side, so --to gets all of --from as it was at one instant, or
nothing. A --to that already holds records is refused (exit 4) and left alone.

After the copy both ledgers are verified (as ledger verify does) and compared: the
records of every bucket, the journal, and every account's balance must match. Any
difference exits 1 naming it. Stop writers to --from first: what they write after the
copy's instant is not copied. --server does not apply; the ledgers are opened directly.`,
		Example: `  tagpay ledger copy --from ~/.local/share/tagpay/ledger.db --to 'postgres://tagpay@db.example/tagpay'`,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			if opts.From == "" || opts.To == "" {
				return Usagef("ledger copy needs both --from and --to")
			}
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			if opts.Out, err = f.Printer(); err != nil {
				return err
			}
			opts.IO, opts.Local = f.IO, localOptions(cfg)
			return runLedgerCopy(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.From, "from", "", "the ledger to copy: a ledger file (or a postgres:// URL)")
	c.Flags().StringVar(&opts.To, "to", "", "the empty ledger to copy into: a postgres:// URL (or a new ledger file)")
	return c
}

func runLedgerCopy(ctx context.Context, opts *LedgerCopyOptions) error {
	// Opening a path creates a ledger there: a mistyped --from must not become an empty
	// ledger that copies "successfully".
	if !store.IsDatabaseURL(opts.From) {
		if _, err := os.Stat(opts.From); errors.Is(err, fs.ErrNotExist) {
			return store.Errorf(store.KindNotFound, "ledger_not_found", "there is no ledger file %s to copy", opts.From)
		} else if err != nil {
			return store.Wrap(store.KindUnavailable, "ledger_unavailable", err, "cannot read ledger file %s", opts.From)
		}
	}
	from, err := backend.OpenLocal(opts.From, opts.Local)
	if err != nil {
		return err
	}
	defer from.Close()
	to, err := backend.OpenLocal(opts.To, opts.Local)
	if err != nil {
		return err
	}
	defer to.Close()

	stats, err := store.Copy(ctx, from.DB, to.DB)
	if err != nil {
		return err
	}
	res := CopyResult{From: from.Path(), To: to.Path(), Records: stats.Total(), Buckets: map[string]int{}}
	for b, n := range stats.Buckets {
		res.Buckets[string(b)] = n
	}
	if !opts.Out.JSONOutput() {
		fmt.Fprintf(opts.IO.Out, "copied %d records from %s to %s: %s\n", res.Records, res.From, res.To, stats)
	}

	problems, err := compareLedgers(ctx, from, to, stats, &res)
	if err != nil {
		return err
	}
	res.Verified = len(problems) == 0
	if opts.Out.JSONOutput() {
		if err := opts.Out.JSON(res); err != nil {
			return err
		}
	} else if res.Verified {
		fmt.Fprintf(opts.IO.Out, "%s: both ledgers verify clean; every bucket holds the same records, %d transfers in each journal, %d accounts with the same balances\n",
			opts.IO.Colors().Green("ok"), res.Transfers, res.Accounts)
	} else {
		for _, p := range problems {
			fmt.Fprintln(opts.IO.Out, "mismatch: "+p)
		}
	}
	if !res.Verified {
		return &ExitFailure{Code: ExitError, Message: fmt.Sprintf("the copy does not match its source (%d problem(s)); %s", len(problems), strings.Join(problems[:min(len(problems), 3)], "; "))}
	}
	return nil
}

// compareLedgers verifies both ledgers and holds the copy to its source: the records of
// each bucket, the journal and every balance. It fills in res and returns what differs.
func compareLedgers(ctx context.Context, from, to *backend.Local, stats store.CopyStats, res *CopyResult) ([]string, error) {
	var problems []string
	for _, side := range []struct {
		name string
		l    *backend.Local
	}{{"source", from}, {"copy", to}} {
		vs, err := side.l.Verify(ctx)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			problems = append(problems, fmt.Sprintf("%s %s: %s: %s", side.name, v.Check, v.Subject, v.Message))
		}
	}

	buckets := make([]store.Bucket, 0, len(stats.Buckets))
	for b := range stats.Buckets {
		buckets = append(buckets, b)
	}
	slices.Sort(buckets)
	a, err := countRecords(ctx, from.DB, buckets)
	if err != nil {
		return nil, err
	}
	b, err := countRecords(ctx, to.DB, buckets)
	if err != nil {
		return nil, err
	}
	for _, bk := range buckets {
		if a[bk] != b[bk] {
			problems = append(problems, fmt.Sprintf("bucket %s holds %d records in the source, %d in the copy", bk, a[bk], b[bk]))
		}
	}

	ja, err := from.Journal(ctx, store.Page{})
	if err != nil {
		return nil, err
	}
	jb, err := to.Journal(ctx, store.Page{})
	if err != nil {
		return nil, err
	}
	res.Transfers = len(ja)
	if len(ja) != len(jb) {
		problems = append(problems, fmt.Sprintf("the journal holds %d transfers in the source, %d in the copy", len(ja), len(jb)))
	}

	aa, err := from.ListAccounts(ctx, store.Page{})
	if err != nil {
		return nil, err
	}
	ab, err := to.ListAccounts(ctx, store.Page{})
	if err != nil {
		return nil, err
	}
	res.Accounts = len(aa)
	copied := map[string]store.Account{}
	for _, acct := range ab {
		copied[acct.ID] = acct
	}
	for _, acct := range aa {
		c, ok := copied[acct.ID]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("account %s is missing from the copy", acct.ID))
		case c.Balance != acct.Balance || c.Currency != acct.Currency:
			problems = append(problems, fmt.Sprintf("account %s holds %s in the source, %s in the copy", acct.ID, acct.BalanceMoney(), c.BalanceMoney()))
		}
		delete(copied, acct.ID)
	}
	for id := range copied {
		problems = append(problems, fmt.Sprintf("account %s is in the copy only", id))
	}
	return problems, nil
}

// countRecords counts the records of each bucket in one read transaction.
func countRecords(ctx context.Context, db *store.DB, buckets []store.Bucket) (map[store.Bucket]int, error) {
	out := map[store.Bucket]int{}
	err := db.View(ctx, func(tx *store.Tx) error {
		for _, b := range buckets {
			err := tx.ForEach(b, "", false, func(k string, _ []byte) error {
				if !store.Bookkeeping(b, k) {
					out[b]++
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}
