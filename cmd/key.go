package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/store"
)

// newKeyCmd is the `key` noun: the API keys of a server (admins only).
func newKeyCmd(f *Factory) *cobra.Command {
	c := newGroupCmd("key", "Create, list, rotate and revoke the API keys of a tagpay server")
	c.AddCommand(newKeyCreateCmd(f), newKeyListCmd(f), newKeyRotateCmd(f), newKeyRevokeCmd(f))
	return c
}

func keyFields(k store.APIKey) []Field {
	fs := []Field{{"id", k.ID}, {"role", string(k.Role)}}
	if k.Account != "" {
		fs = append(fs, Field{"account", k.Account})
	}
	fs = append(fs, Field{"prefix", k.Prefix}, Field{"created", fmtTime(k.CreatedAt)})
	switch {
	case k.RevokedAt == nil:
	case k.Live(time.Now()):
		fs = append(fs, Field{"stops", fmtTimePtr(k.RevokedAt)}) // rotated, in its grace
	default:
		fs = append(fs, Field{"revoked", fmtTimePtr(k.RevokedAt)})
	}
	return fs
}

// createdKeyFields are the fields of a key just made (by key create or key rotate), with
// its secret unless this is a replay; it tells the user whether the secret is shown, and
// to keep it.
func createdKeyFields(env Env, k store.CreatedKey) []Field {
	if k.Secret == "" {
		fmt.Fprintf(env.IO.ErrOut, "tagpay: key %s was made by an earlier call with this idempotency key; its secret was shown then and cannot be shown again\n", k.ID)
	} else if !env.Out.JSONOutput() {
		fmt.Fprintln(env.IO.ErrOut, "tagpay: store the secret now; it is not shown again")
	}
	fields := keyFields(k.APIKey)
	if k.Secret != "" {
		fields = append(fields, Field{"secret", k.Secret})
	}
	return fields
}

// KeyCreateOptions are the flags of `key create`.
type KeyCreateOptions struct {
	Env
	Role, Account, IdempotencyKey string
}

func newKeyCreateCmd(f *Factory) *cobra.Command {
	opts := &KeyCreateOptions{}
	c := &cobra.Command{
		Use:   "create --role admin|merchant|payer [--account ACCOUNT]",
		Short: "Create an API key and print its secret, the only time it is shown",
		Long: `Create an API key. An admin key reaches everything; a merchant key its merchant
account, that account's tags and the orders paid to it; a payer key its person account
and that account's devices, cards, tokens and payments. The secret is printed once:
only its hash is kept.`,
		Example: `  tagpay key create --role merchant --account $MERCHANT
  tagpay key create --role admin -o json --jq .secret`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if err := requireFlags(c, "role"); err != nil {
				return err
			}
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runKeyCreate(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Role, "role", "", "admin, merchant or payer")
	c.Flags().StringVar(&opts.Account, "account", "", "the account a merchant or payer key acts for")
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func runKeyCreate(ctx context.Context, opts *KeyCreateOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		k, err := be.CreateKey(ctx, store.CreateKeyRequest{Role: store.Role(opts.Role), Account: opts.Account, IdempotencyKey: opts.IdempotencyKey})
		if err != nil {
			return err
		}
		return opts.Out.Record(k, createdKeyFields(opts.Env, k))
	})
}

// KeyListOptions are the flags of `key list`.
type KeyListOptions struct {
	Env
	Page store.Page
}

func newKeyListCmd(f *Factory) *cobra.Command {
	opts := &KeyListOptions{}
	c := &cobra.Command{
		Use:   "list [--limit N [--after KEY]]",
		Short: "List API keys (never their secrets)",
		Example: `  tagpay key list
  tagpay key list --limit 10`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runKeyList(c.Context(), opts)
		},
	}
	pageFlags(c, &opts.Page, "keys", "key")
	return c
}

func runKeyList(ctx context.Context, opts *KeyListOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		keys, err := be.ListKeys(ctx, opts.Page)
		if err != nil {
			return err
		}
		t := Table{Header: []string{"ID", "ROLE", "ACCOUNT", "PREFIX", "CREATED", "REVOKED"}}
		for _, k := range keys {
			t.Rows = append(t.Rows, []string{k.ID, string(k.Role), k.Account, k.Prefix, fmtTime(k.CreatedAt), fmtTimePtr(k.RevokedAt)})
		}
		return opts.Out.List(orEmpty(keys), t)
	})
}

// KeyRotateOptions are the flags of `key rotate`.
type KeyRotateOptions struct {
	Env
	ID             string
	Grace          time.Duration
	IdempotencyKey string
}

func newKeyRotateCmd(f *Factory) *cobra.Command {
	opts := &KeyRotateOptions{}
	c := &cobra.Command{
		Use:   "rotate KEY [--grace DURATION]",
		Short: "Replace an API key by a new one of the same role; print the new secret, this once",
		Long: `Replace a live API key by a new key of the same role and account, and print the new
key's secret, the only time it is shown. The old key keeps working for --grace (none by
default: it stops at once; at most 168h), so that the programs using it can move to the
new key; then it fails as a revoked key does. key revoke ends a grace early.`,
		Example: `  tagpay key rotate $KEY --grace 24h -o json --jq .secret`,
		Args:    exactArgs(1, "one key id"),
		RunE: func(c *cobra.Command, args []string) (err error) {
			if opts.Grace < 0 || opts.Grace%time.Second != 0 {
				return Usagef("--grace must be whole seconds, 0 to %s", store.MaxKeyGrace)
			}
			opts.ID = args[0]
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runKeyRotate(c.Context(), opts)
		},
	}
	c.Flags().DurationVar(&opts.Grace, "grace", 0, "how long the old key keeps working (at most 168h)")
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func runKeyRotate(ctx context.Context, opts *KeyRotateOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		k, err := be.RotateKey(ctx, store.RotateKeyRequest{ID: opts.ID, GraceSeconds: int64(opts.Grace / time.Second), IdempotencyKey: opts.IdempotencyKey})
		if err != nil {
			return err
		}
		fields := append(createdKeyFields(opts.Env, k.CreatedKey), Field{"replaces", k.Replaces.ID}, Field{"old key stops", fmtTimePtr(k.Replaces.RevokedAt)})
		return opts.Out.Record(k, fields)
	})
}

// KeyRevokeOptions are the arguments of `key revoke`.
type KeyRevokeOptions struct {
	Env
	ID string
}

func newKeyRevokeCmd(f *Factory) *cobra.Command {
	opts := &KeyRevokeOptions{}
	return &cobra.Command{
		Use:     "revoke KEY",
		Short:   "Revoke an API key; it fails from the next request on",
		Example: `  tagpay key revoke $KEY`,
		Args:    exactArgs(1, "one key id"),
		RunE: func(c *cobra.Command, args []string) (err error) {
			opts.ID = args[0]
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runKeyRevoke(c.Context(), opts)
		},
	}
}

func runKeyRevoke(ctx context.Context, opts *KeyRevokeOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		k, err := be.RevokeKey(ctx, opts.ID)
		if err != nil {
			return err
		}
		return opts.Out.Record(k, keyFields(k))
	})
}
