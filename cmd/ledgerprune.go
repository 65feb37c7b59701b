package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/store"
)

// LedgerPruneOptions are the flags of `ledger prune`.
type LedgerPruneOptions struct {
	IO        *IOStreams
	Out       *Printer
	DB        string
	Local     backend.LocalOptions
	OlderThan time.Duration
}

// PruneResult is `ledger prune -o json`.
type PruneResult struct {
	Ledger    string `json:"ledger"`
	Pruned    int    `json:"pruned"`
	OlderThan string `json:"older_than"`
}

func newLedgerPruneCmd(f *Factory) *cobra.Command {
	opts := &LedgerPruneOptions{}
	c := &cobra.Command{
		Use:   "prune [--older-than DURATION]",
		Short: "Delete the idempotency records past their time from a ledger of this machine",
		Long: `Delete the idempotency records older than --older-than from the ledger (--db). By
default that is the config key idempotency_ttl, how long the local ledger holds an
idempotency key: 24h unless set. A key whose record is gone may be used again, for a
new request. A server does this every hour on its own ledger (serve
--idempotency-ttl); this command is for a ledger that no server serves, such as the
local one of scripted test runs. It deletes in small transactions; a ledger file is
held while it runs, as by any command, and on PostgreSQL other commands go on between
its transactions.

If a server with a longer --idempotency-ttl also serves the ledger, give that time: a
record pruned sooner would let a client's retry within that time run again.`,
		Example: `  tagpay ledger prune
  tagpay ledger prune --older-than 72h -o json --jq .pruned`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			if !c.Flags().Changed("older-than") {
				opts.OlderThan = cfg.IdempotencyTTL
				if opts.OlderThan == 0 {
					opts.OlderThan = store.DefaultIdempotencyTTL // as the store reads 0
				}
				if opts.OlderThan < 0 {
					return Usagef("idempotency keys are kept for ever here (idempotency_ttl is negative); give --older-than to prune")
				}
			}
			if opts.OlderThan <= 0 {
				return Usagef("--older-than must be a positive duration, such as 24h")
			}
			if cfg.Server != "" {
				return Usagef("ledger prune works on a ledger of this machine; a server prunes its own ledger every hour (serve --idempotency-ttl)")
			}
			if opts.Out, err = f.Printer(); err != nil {
				return err
			}
			opts.IO, opts.DB, opts.Local = f.IO, cfg.DB, localOptions(cfg)
			return runLedgerPrune(c.Context(), opts)
		},
	}
	c.Flags().DurationVar(&opts.OlderThan, "older-than", store.DefaultIdempotencyTTL, "delete the records older than this (default: the config key idempotency_ttl, else 24h)")
	return c
}

func runLedgerPrune(ctx context.Context, opts *LedgerPruneOptions) error {
	local := opts.Local
	local.Store.MustExist = true // pruning a ledger that is not there must not make one
	local.Store.IdempotencyTTL = opts.OlderThan
	l, err := backend.OpenLocal(opts.DB, local)
	if err != nil {
		return err
	}
	defer l.Close()
	n, err := l.DB.PruneIdempotency(ctx)
	if err != nil {
		return err
	}
	res := PruneResult{Ledger: l.DB.Path(), Pruned: n, OlderThan: opts.OlderThan.String()}
	if opts.Out.JSONOutput() {
		return opts.Out.JSON(res)
	}
	fmt.Fprintf(opts.IO.Out, "pruned %d idempotency record(s) older than %s from %s\n", res.Pruned, res.OlderThan, res.Ledger)
	return nil
}
