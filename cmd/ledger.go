package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/store"
)

func newLedgerCmd(f *Factory) *cobra.Command {
	c := newGroupCmd("ledger", "Check the ledger's invariants, read its journal, copy it, prune it, move its secrets out")
	c.AddCommand(newLedgerVerifyCmd(f), newLedgerJournalCmd(f), newLedgerCopyCmd(f), newLedgerPruneCmd(f), newLedgerSecretsCmd(f))
	return c
}

// LedgerVerifyOptions are the flags of `ledger verify`.
type LedgerVerifyOptions struct{ Env }

// VerifyResult is `ledger verify -o json`.
type VerifyResult struct {
	OK         bool              `json:"ok"`
	Violations []store.Violation `json:"violations"`
}

func newLedgerVerifyCmd(f *Factory) *cobra.Command {
	opts := &LedgerVerifyOptions{}
	return &cobra.Command{
		Use:   "verify",
		Short: "Check every invariant of the ledger; exit 1 listing the violations if any",
		Long: `Check every invariant of the ledger: postings balance per transfer, each balance
equals the sum of its postings, balances sum to zero per currency, no negative balance
outside the world accounts, orders paid at most once with their transfer, every order
listed under its payer, payee and tag, tokens unique and bound to live cards. Exits 1
and lists the violations when any is found.`,
		Example: `  tagpay ledger verify
  tagpay ledger verify -o json --jq .ok`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runLedgerVerify(c.Context(), opts)
		},
	}
}

func runLedgerVerify(ctx context.Context, opts *LedgerVerifyOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		vs, err := be.Verify(ctx)
		if err != nil {
			return err
		}
		res := VerifyResult{OK: len(vs) == 0, Violations: orEmpty(vs)}
		if opts.Out.JSONOutput() {
			if err := opts.Out.JSON(res); err != nil {
				return err
			}
		} else if res.OK {
			fmt.Fprintln(opts.IO.Out, opts.IO.Colors().Green("ok")+": no violations")
		} else {
			t := Table{Header: []string{"CHECK", "SUBJECT", "MESSAGE"}}
			for _, v := range vs {
				t.Rows = append(t.Rows, []string{v.Check, v.Subject, v.Message})
			}
			if err := opts.Out.Table(t); err != nil {
				return err
			}
		}
		if !res.OK {
			return &ExitFailure{Code: ExitError, Message: fmt.Sprintf("ledger verify found %d violation(s)", len(vs))}
		}
		return nil
	})
}

// LedgerJournalOptions are the flags of `ledger journal`.
type LedgerJournalOptions struct {
	Env
	Page store.Page
}

func newLedgerJournalCmd(f *Factory) *cobra.Command {
	opts := &LedgerJournalOptions{}
	c := &cobra.Command{
		Use:   "journal [--limit N [--after TRANSFER]]",
		Short: "List transfers, newest first",
		Example: `  tagpay ledger journal --limit 10
  tagpay ledger journal --jq '.[] | select(.kind == "topup") | .id'`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runLedgerJournal(c.Context(), opts)
		},
	}
	pageFlags(c, &opts.Page, "transfers", "transfer")
	_ = c.Flags().Set("limit", "50")
	c.Flags().Lookup("limit").DefValue = "50"
	return c
}

func runLedgerJournal(ctx context.Context, opts *LedgerJournalOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		ts, err := be.Journal(ctx, opts.Page)
		if err != nil {
			return err
		}
		t := Table{Header: []string{"ID", "KIND", "FROM", "TO", "AMOUNT", "REF", "CREATED"}}
		for _, tr := range ts {
			t.Rows = append(t.Rows, []string{tr.ID, string(tr.Kind), tr.From, tr.To, tr.Amount.String(), tr.Ref, fmtTime(tr.CreatedAt)})
		}
		return opts.Out.List(orEmpty(ts), t)
	})
}
