package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/store"
)

// newTokenCmd is the `token` noun: the lifecycle of payment tokens.
func newTokenCmd(f *Factory) *cobra.Command {
	c := newGroupCmd("token", "List payment tokens, and suspend, resume or delete them")
	c.AddCommand(
		newTokenListCmd(f),
		newTokenShowCmd(f),
		newTokenChangeCmd(f, cards.ActionSuspend, "Suspend an active token; it pays again once resumed"),
		newTokenChangeCmd(f, cards.ActionResume, "Resume a suspended token"),
		newTokenChangeCmd(f, cards.ActionDelete, "Delete a token for good"),
	)
	return c
}

func tokenFields(t cards.Token) []Field {
	fs := []Field{
		{"id", t.ID}, {"number", t.Number}, {"function", string(t.Function)}, {"card", t.Card},
		{"account", t.Account}, {"device", t.Device}, {"status", string(t.Status)},
	}
	if t.Reason != "" {
		fs = append(fs, Field{"reason", string(t.Reason)})
	}
	return append(fs, Field{"expires", fmtTime(t.ExpiresAt)}, Field{"created", fmtTime(t.CreatedAt)}, Field{"updated", fmtTime(t.UpdatedAt)})
}

// TokenListOptions are the flags of `token list`.
type TokenListOptions struct {
	Env
	Card string
	Page store.Page
}

func newTokenListCmd(f *Factory) *cobra.Command {
	opts := &TokenListOptions{}
	c := &cobra.Command{
		Use:   "list [--card CARD] [--limit N [--after TOKEN]]",
		Short: "List payment tokens",
		Example: `  tagpay token list --card $CARD
  tagpay token list --jq '.[] | select(.status == "active") | .number'`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runTokenList(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Card, "card", "", "only the tokens of this card")
	pageFlags(c, &opts.Page, "tokens", "token")
	return c
}

func runTokenList(ctx context.Context, opts *TokenListOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		ts, err := be.ListTokens(ctx, opts.Card, opts.Page)
		if err != nil {
			return err
		}
		return opts.Out.List(orEmpty(ts), tokenTable(ts))
	})
}

// TokenShowOptions are the arguments of `token show`.
type TokenShowOptions struct {
	Env
	Token string
}

func newTokenShowCmd(f *Factory) *cobra.Command {
	opts := &TokenShowOptions{}
	return &cobra.Command{
		Use:     "show TOKEN",
		Short:   "Show a token by its id or number",
		Example: `  tagpay token show $TOKEN`,
		Args:    exactArgs(1, "one token id or number"),
		RunE: func(c *cobra.Command, args []string) (err error) {
			opts.Token = args[0]
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runTokenShow(c.Context(), opts)
		},
	}
}

func runTokenShow(ctx context.Context, opts *TokenShowOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		t, err := be.GetToken(ctx, opts.Token)
		if err != nil {
			return err
		}
		return opts.Out.Record(t, tokenFields(t))
	})
}

// TokenChangeOptions are the flags of `token suspend|resume|delete`.
type TokenChangeOptions struct {
	Env
	Action                        cards.TokenAction
	Token, Reason, IdempotencyKey string
	// Yes answers the confirmation of delete, which cannot be undone.
	Yes bool
}

var tokenChangeExamples = map[cards.TokenAction]string{
	cards.ActionSuspend: "  tagpay token suspend $TOKEN --reason lost",
	cards.ActionResume:  "  tagpay token suspend $TOKEN --reason lost\n  tagpay token resume $TOKEN",
	cards.ActionDelete:  "  tagpay token delete $TOKEN --reason stolen --yes",
}

func newTokenChangeCmd(f *Factory, action cards.TokenAction, short string) *cobra.Command {
	opts := &TokenChangeOptions{Action: action}
	c := &cobra.Command{
		Use:     string(action) + " TOKEN [--reason lost|stolen|fraud|user|device_migrated]",
		Short:   short,
		Example: tokenChangeExamples[action],
		Args:    exactArgs(1, "one token id or number"),
		RunE: func(c *cobra.Command, args []string) (err error) {
			opts.Token = args[0]
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runTokenChange(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Reason, "reason", string(cards.ReasonUser), "lost, stolen, fraud, user or device_migrated")
	idempotencyFlag(c, &opts.IdempotencyKey)
	if action == cards.ActionDelete {
		c.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "delete without asking (for scripts): a deleted token never pays again")
	}
	return c
}

func runTokenChange(ctx context.Context, opts *TokenChangeOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		if opts.Action == cards.ActionDelete && !opts.Yes {
			if !opts.IO.CanPrompt() {
				return Usagef("token delete cannot be undone; pass --yes to delete without a terminal to confirm on")
			}
			// Show what would go, so the answer is about this token and not a typo's.
			t, err := be.GetToken(ctx, opts.Token)
			if err != nil {
				return err
			}
			ok, err := confirm(opts.IO, fmt.Sprintf("Delete %s token %s (%s) of card %s for good? It never pays again", t.Function, t.Number, t.ID, t.Card), "--yes")
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("not confirmed; token %s was not deleted", t.ID)
			}
		}
		t, err := be.ChangeToken(ctx, cards.TokenStatusRequest{Token: opts.Token, Action: opts.Action, Reason: cards.Reason(opts.Reason), IdempotencyKey: opts.IdempotencyKey})
		if err != nil {
			return err
		}
		return opts.Out.Record(t, tokenFields(t))
	})
}
