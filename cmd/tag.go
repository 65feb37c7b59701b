package cmd

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/orders"
)

// newTagCmd is the `tag` noun. Its ledger verbs (register, list, show, revoke) live in
// this file; the reader verbs (read, dump, write, diagnose, emulate, provision, ...) are
// added to the same list from their own files.
func newTagCmd(f *Factory) *cobra.Command {
	c := newGroupCmd("tag", "Register merchant tags in the ledger, and read, write and diagnose tags")
	c.AddCommand(
		newTagRegisterCmd(f),
		newTagListCmd(f),
		newTagShowCmd(f),
		newTagRevokeCmd(f),
		newTagReadCmd(f), newTagDumpCmd(f), newTagWriteCmd(f), newTagDiagnoseCmd(f), newTagEmulateCmd(f), newTagVerifySUNCmd(f), newTagImageCmd(f), newTagProvisionCmd(f),
		newTagProtectCmd(f), newTagUnprotectCmd(f),
	)
	return c
}

func tagFields(t orders.Tag) []Field {
	fs := []Field{
		{"id", t.ID}, {"ref", t.Ref}, {"uid", t.UID}, {"kind", string(t.Kind)},
		{"merchant", t.Merchant}, {"status", string(t.Status)},
	}
	if t.Label != "" {
		fs = append(fs, Field{"label", t.Label})
	}
	if t.Amount != nil {
		fs = append(fs, Field{"amount", t.Amount.String()})
	}
	fs = append(fs, Field{"currency", t.Currency}, Field{"base_url", t.BaseURL})
	if t.Content != "" {
		fs = append(fs, Field{"content", t.Content})
	}
	if t.Reason != "" {
		fs = append(fs, Field{"reason", t.Reason})
	}
	return append(fs, Field{"created", fmtTime(t.CreatedAt)}, Field{"updated", fmtTime(t.UpdatedAt)})
}

// TagRegisterOptions are the flags of `tag register`.
type TagRegisterOptions struct {
	Env
	Merchant, Amount, Label, BaseURL string
	UID                              string
	SUN                              bool
	MetaKey, FileKey                 string
	IdempotencyKey                   string
	Wait                             time.Duration
	// ReadUID reads the UID of the tag on the reader when --uid is not given.
	ReadUID func(ctx context.Context) (string, error)
}

func newTagRegisterCmd(f *Factory) *cobra.Command {
	opts := &TagRegisterOptions{}
	c := &cobra.Command{
		Use:   "register --merchant ACCOUNT [--uid HEX] [--amount AMOUNT] [--label TEXT] [--base-url URL]",
		Short: "Register a tag to a merchant and print the content it must carry",
		Long: `Register a tag to a merchant account and print the content (an NDEF URI) it must
carry. The tag is the one on the reader, or --uid for a tag read elsewhere. An NTAG 424
DNA is registered with --sun and its two AES keys, which are stored and never shown again.`,
		Example: `  tagpay tag register --merchant acct_… --uid 04A1B2C3D4E5F6 --amount 2.00 --label "Parking 3"
  tagpay tag register --merchant acct_… --sun --meta-key 00…00 --file-key 00…00`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if err := requireFlags(c, "merchant"); err != nil {
				return err
			}
			if opts.SUN != (opts.MetaKey != "" && opts.FileKey != "") {
				return Usagef("--sun goes with both --meta-key and --file-key")
			}
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			opts.ReadUID = func(ctx context.Context) (string, error) {
				cfg, err := f.Config()
				if err != nil {
					return "", err
				}
				tap, err := readTapFromReader(ctx, cfg.Reader, opts.Wait, false)
				return tap.UID, err
			}
			return runTagRegister(c.Context(), opts)
		},
	}
	fl := c.Flags()
	fl.StringVar(&opts.Merchant, "merchant", "", "merchant account the tag pays")
	fl.StringVar(&opts.Amount, "amount", "", "fixed amount of every payment (default: the payer chooses)")
	fl.StringVar(&opts.Label, "label", "", "label shown to the payer")
	fl.StringVar(&opts.BaseURL, "base-url", "", "base URL of the content (default: the ledger's)")
	fl.StringVar(&opts.UID, "uid", "", "UID of a tag read elsewhere, in hex (default: the tag on the reader)")
	fl.DurationVar(&opts.Wait, "wait", defaultTagWait, "how long to wait for a tag on the reader")
	fl.BoolVar(&opts.SUN, "sun", false, "an NTAG 424 DNA producing SUN URLs")
	fl.StringVar(&opts.MetaKey, "meta-key", "", "SUN meta read key (AES-128, hex)")
	fl.StringVar(&opts.FileKey, "file-key", "", "SUN file read key (AES-128, hex)")
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func runTagRegister(ctx context.Context, opts *TagRegisterOptions) error {
	uid := strings.TrimSpace(opts.UID)
	if uid == "" {
		var err error
		if uid, err = opts.ReadUID(ctx); err != nil {
			return err
		}
	}
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		t, err := be.RegisterTag(ctx, orders.RegisterRequest{
			UID: uid, Merchant: opts.Merchant, Amount: opts.Amount, Label: opts.Label,
			BaseURL: opts.BaseURL, SUN: opts.SUN, MetaKey: opts.MetaKey, FileKey: opts.FileKey,
			IdempotencyKey: opts.IdempotencyKey,
		})
		if err != nil {
			return err
		}
		return opts.Out.Record(t, tagFields(t))
	})
}

// TagListOptions are the flags of `tag list`.
type TagListOptions struct {
	Env
	Merchant string
}

func newTagListCmd(f *Factory) *cobra.Command {
	opts := &TagListOptions{}
	c := &cobra.Command{
		Use:   "list [--merchant ACCOUNT]",
		Short: "List registered tags",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runTagList(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Merchant, "merchant", "", "only the tags of this merchant account")
	return c
}

func runTagList(ctx context.Context, opts *TagListOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		tags, err := be.ListTags(ctx, orders.TagFilter{Merchant: opts.Merchant})
		if err != nil {
			return err
		}
		t := Table{Header: []string{"REF", "UID", "KIND", "MERCHANT", "AMOUNT", "STATUS", "LABEL"}}
		for _, tg := range tags {
			t.Rows = append(t.Rows, []string{tg.Ref, tg.UID, string(tg.Kind), tg.Merchant, fmtMoneyPtr(tg.Amount), string(tg.Status), tg.Label})
		}
		return opts.Out.List(orEmpty(tags), t)
	})
}

// TagShowOptions are the arguments of `tag show`.
type TagShowOptions struct {
	Env
	Tag string
}

func newTagShowCmd(f *Factory) *cobra.Command {
	opts := &TagShowOptions{}
	return &cobra.Command{
		Use:   "show REF|UID",
		Short: "Show a registered tag by its reference or UID",
		Args:  exactArgs(1, "one tag reference or UID"),
		RunE: func(c *cobra.Command, args []string) (err error) {
			opts.Tag = args[0]
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runTagShow(c.Context(), opts)
		},
	}
}

func runTagShow(ctx context.Context, opts *TagShowOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		t, err := be.GetTag(ctx, opts.Tag)
		if err != nil {
			return err
		}
		return opts.Out.Record(t, tagFields(t))
	})
}

// TagRevokeOptions are the flags of `tag revoke`.
type TagRevokeOptions struct {
	Env
	Tag, Reason, IdempotencyKey string
}

func newTagRevokeCmd(f *Factory) *cobra.Command {
	opts := &TagRevokeOptions{}
	c := &cobra.Command{
		Use:   "revoke REF|UID --reason TEXT",
		Short: "Take a tag out of service; payments from it are declined",
		Args:  exactArgs(1, "one tag reference or UID"),
		RunE: func(c *cobra.Command, args []string) (err error) {
			opts.Tag = args[0]
			if err := requireFlags(c, "reason"); err != nil {
				return err
			}
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runTagRevoke(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Reason, "reason", "", "why the tag is revoked")
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func runTagRevoke(ctx context.Context, opts *TagRevokeOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		t, err := be.RevokeTag(ctx, orders.TagStateRequest{Tag: opts.Tag, Reason: opts.Reason, IdempotencyKey: opts.IdempotencyKey})
		if err != nil {
			return err
		}
		return opts.Out.Record(t, tagFields(t))
	})
}
