package cmd

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/store"
)

func newAccountCmd(f *Factory) *cobra.Command {
	c := newGroupCmd("account", "Create, list, show and fund accounts")
	c.AddCommand(newAccountCreateCmd(f), newAccountListCmd(f), newAccountShowCmd(f), newAccountFundCmd(f))
	return c
}

func accountTable(accounts []store.Account) Table {
	t := Table{Header: []string{"ID", "NAME", "KIND", "CURRENCY", "BALANCE"}}
	for _, a := range accounts {
		t.Rows = append(t.Rows, []string{a.ID, a.Name, string(a.Kind), a.Currency, a.BalanceMoney().String()})
	}
	return t
}

func accountFields(a store.Account) []Field {
	return []Field{
		{"id", a.ID}, {"name", a.Name}, {"kind", string(a.Kind)}, {"currency", a.Currency},
		{"balance", a.BalanceMoney().String()}, {"created", fmtTime(a.CreatedAt)},
	}
}

// AccountCreateOptions are the flags of `account create`.
type AccountCreateOptions struct {
	Env
	Name, Kind, Currency, IdempotencyKey string
}

func newAccountCreateCmd(f *Factory) *cobra.Command {
	opts := &AccountCreateOptions{}
	c := &cobra.Command{
		Use:   "create --name NAME --kind person|merchant --currency CODE",
		Short: "Create a person or merchant account",
		Example: `  tagpay account create --name 'Corner Café' --kind merchant --currency EUR
  tagpay account create --name Alice --kind person --currency EUR --jq .id`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if err := requireFlags(c, "name", "kind", "currency"); err != nil {
				return err
			}
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runAccountCreate(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Name, "name", "", "name of the holder")
	c.Flags().StringVar(&opts.Kind, "kind", "", "person or merchant")
	c.Flags().StringVar(&opts.Currency, "currency", "", "ISO 4217 currency code, e.g. EUR")
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func runAccountCreate(ctx context.Context, opts *AccountCreateOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		a, err := be.CreateAccount(ctx, store.CreateAccountRequest{
			Name: opts.Name, Kind: store.AccountKind(opts.Kind), Currency: opts.Currency,
			IdempotencyKey: opts.IdempotencyKey,
		})
		if err != nil {
			return err
		}
		return opts.Out.Record(a, accountFields(a))
	})
}

// AccountListOptions are the flags of `account list`.
type AccountListOptions struct {
	Env
	Page store.Page
}

func newAccountListCmd(f *Factory) *cobra.Command {
	opts := &AccountListOptions{}
	c := &cobra.Command{
		Use:   "list [--limit N [--after ACCOUNT]]",
		Short: "List accounts with their balances",
		Example: `  tagpay account list
  tagpay account list --jq '.[] | select(.kind == "person") | .id'`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runAccountList(c.Context(), opts)
		},
	}
	pageFlags(c, &opts.Page, "accounts", "account")
	return c
}

func runAccountList(ctx context.Context, opts *AccountListOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		accounts, err := be.ListAccounts(ctx, opts.Page)
		if err != nil {
			return err
		}
		return opts.Out.List(orEmpty(accounts), accountTable(accounts))
	})
}

// AccountShowOptions are the arguments of `account show`.
type AccountShowOptions struct {
	Env
	ID string
}

func newAccountShowCmd(f *Factory) *cobra.Command {
	opts := &AccountShowOptions{}
	return &cobra.Command{
		Use:   "show ACCOUNT",
		Short: "Show one account",
		Example: `  tagpay account show $PAYER
  tagpay account show $PAYER --jq .balance.formatted`,
		Args: exactArgs(1, "one account id"),
		RunE: func(c *cobra.Command, args []string) (err error) {
			opts.ID = args[0]
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runAccountShow(c.Context(), opts)
		},
	}
}

func runAccountShow(ctx context.Context, opts *AccountShowOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		a, err := be.GetAccount(ctx, opts.ID)
		if err != nil {
			return err
		}
		return opts.Out.Record(a, accountFields(a))
	})
}

// AccountFundOptions are the arguments of `account fund`.
type AccountFundOptions struct {
	Env
	ID, Amount, IdempotencyKey string
}

func newAccountFundCmd(f *Factory) *cobra.Command {
	opts := &AccountFundOptions{}
	c := &cobra.Command{
		Use:   "fund ACCOUNT AMOUNT",
		Short: "Top an account up from the outside world",
		Example: `  tagpay account fund $PAYER 20.00
  tagpay account fund $PAYER '20.00 EUR' --idempotency-key top-up-2026-03-01`,
		Args: exactArgs(2, "an account id and an amount"),
		RunE: func(c *cobra.Command, args []string) (err error) {
			opts.ID, opts.Amount = args[0], args[1]
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runAccountFund(c.Context(), opts)
		},
	}
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func runAccountFund(ctx context.Context, opts *AccountFundOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		t, err := be.FundAccount(ctx, store.FundRequest{Account: opts.ID, Amount: opts.Amount, IdempotencyKey: opts.IdempotencyKey})
		if err != nil {
			return err
		}
		return opts.Out.Record(t, transferFields(t))
	})
}

func transferFields(t store.Transfer) []Field {
	fs := []Field{
		{"id", t.ID}, {"kind", string(t.Kind)}, {"from", t.From}, {"to", t.To},
		{"amount", t.Amount.String()},
	}
	if t.Ref != "" {
		fs = append(fs, Field{"ref", t.Ref})
	}
	if t.Memo != "" {
		fs = append(fs, Field{"memo", t.Memo})
	}
	return append(fs, Field{"created", fmtTime(t.CreatedAt)})
}
