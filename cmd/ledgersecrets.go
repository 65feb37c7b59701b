package cmd

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/store"
)

func newLedgerSecretsCmd(f *Factory) *cobra.Command {
	c := newGroupCmd("secrets", "Manage where the ledger's secrets are kept")
	c.AddCommand(newLedgerSecretsMoveCmd(f))
	return c
}

// LedgerSecretsMoveOptions are the flags of `ledger secrets move`.
type LedgerSecretsMoveOptions struct {
	IO   *IOStreams
	Out  *Printer
	DB   string
	Keys string
	// Move is store.MoveSecrets; tests hand in another.
	Move func(ctx context.Context, target string, opts store.Options) (store.MoveReport, error)
}

func newLedgerSecretsMoveCmd(f *Factory) *cobra.Command {
	opts := &LedgerSecretsMoveOptions{Move: store.MoveSecrets}
	return &cobra.Command{
		Use:   "move [--keys FILE]",
		Short: "Move the secrets of a ledger made by an older tagpay out to its key file",
		Long: `Move the secrets an older tagpay kept inside the ledger (the tag MAC key, the card
number hash key) to the key file (--keys, TAGPAY_KEYS or the config key keys; default
$XDG_CONFIG_HOME/tagpay/keys.json), encrypt the SUN keys of its tags under that file,
delete the secrets from the ledger and rewrite it, so that a copy of the ledger alone
reveals none of them. The keys move unchanged: tag contents and card hashes stay valid.

The key file is made (mode 0600) when missing; an existing one must already hold the
same keys. Run it with no server using the ledger. Back up the ledger and its key file
separately: one without the other is useless to a thief, and the ledger without its key
file can no longer verify tags or SUN taps. Backups made before the move still hold
the secrets.`,
		Example: `  tagpay ledger secrets move
  tagpay --db /srv/tagpay/ledger.db --keys /etc/tagpay/keys.json ledger secrets move`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			if cfg.Server != "" {
				return Usagef("ledger secrets move works on a ledger of this machine; run it where the server's ledger is, without --server")
			}
			if opts.Out, err = f.Printer(); err != nil {
				return err
			}
			opts.IO, opts.DB, opts.Keys = f.IO, cfg.DB, cfg.Keys
			return runLedgerSecretsMove(c.Context(), opts)
		},
	}
}

func runLedgerSecretsMove(ctx context.Context, opts *LedgerSecretsMoveOptions) error {
	if strings.TrimSpace(opts.Keys) == "" {
		return Usagef("ledger secrets move needs the key file to move the secrets to (--keys)")
	}
	rep, err := opts.Move(ctx, opts.DB, store.Options{KeysPath: opts.Keys})
	if err != nil {
		return err
	}
	if !opts.Out.JSONOutput() {
		switch {
		case rep.AlreadyDone:
			fmt.Fprintf(opts.IO.ErrOut, "ledger %s keeps no secret inside; its key file is %s\n", rep.Ledger, rep.KeyFile)
		default:
			made := "existing"
			if rep.KeyFileCreated {
				made = "new"
			}
			fmt.Fprintf(opts.IO.ErrOut, "moved %s out of ledger %s into %s key file %s; %d SUN key record(s) encrypted\n",
				orNone(rep.Moved), rep.Ledger, made, rep.KeyFile, rep.SealedSUNKeys)
		}
		if rep.CompactError != "" {
			fmt.Fprintf(opts.IO.ErrOut, "warning: the ledger could not be rewritten, so freed space may still hold the old secrets: %s\n", rep.CompactError)
		}
	}
	return opts.Out.Record(rep, []Field{
		{"ledger", rep.Ledger},
		{"key_file", rep.KeyFile},
		{"key_file_created", strconv.FormatBool(rep.KeyFileCreated)},
		{"moved", orNone(rep.Moved)},
		{"sealed_sun_keys", strconv.Itoa(rep.SealedSUNKeys)},
		{"compacted", strconv.FormatBool(rep.Compacted)},
		{"already_done", strconv.FormatBool(rep.AlreadyDone)},
	})
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "nothing"
	}
	return strings.Join(names, ", ")
}
