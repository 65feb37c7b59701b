package cmd

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/mdp/qrterminal/v3"
	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/store"
)

// newCardCmd is the `card` noun: resource cards, their payment functions, migration.
func newCardCmd(f *Factory) *cobra.Command {
	c := newGroupCmd("card", "Add cards, activate payment functions, migrate cards between devices")
	c.AddCommand(
		newCardAddCmd(f),
		newCardListCmd(f),
		newCardShowCmd(f),
		newCardActivateCmd(f),
		newCardDeactivateCmd(f),
		newCardMigrateCmd(f),
	)
	return c
}

func cardFields(c cards.Card) []Field {
	fs := []Field{{"id", c.ID}, {"account", c.Account}, {"label", c.Label}}
	if c.PANLast4 != "" {
		fs = append(fs, Field{"pan", "…" + c.PANLast4})
	}
	return append(fs, Field{"device", c.Device}, Field{"status", string(c.Status)},
		Field{"created", fmtTime(c.CreatedAt)}, Field{"updated", fmtTime(c.UpdatedAt)})
}

// parseFunctions reads --functions nfc,qr,...; the ledger refuses unknown ones by name.
func parseFunctions(s string) ([]cards.Function, error) {
	var out []cards.Function
	for _, p := range strings.Split(s, ",") {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		if !slices.Contains(out, cards.Function(p)) {
			out = append(out, cards.Function(p))
		}
	}
	if len(out) == 0 {
		return nil, Usagef("--functions names none; use some of %s", functionNames())
	}
	return out, nil
}

func functionNames() string {
	names := make([]string, len(cards.Functions))
	for i, fn := range cards.Functions {
		names[i] = string(fn)
	}
	return strings.Join(names, ",")
}

// CardAddOptions are the flags of `card add`.
type CardAddOptions struct {
	Env
	Account, Label, PAN, Device, IdempotencyKey string
}

func newCardAddCmd(f *Factory) *cobra.Command {
	opts := &CardAddOptions{}
	c := &cobra.Command{
		Use:   "add --account ACCOUNT --label TEXT [--pan PAN]",
		Short: "Bind a card to this device (or --device ID), where the account is logged in",
		Long: `Bind a resource card of an account to this device (or --device ID), where the account
must be logged in. A PAN is checked (Luhn) and kept only as its last four digits and a
keyed hash; it is never shown in full again. Spaces between its groups are allowed.

--pan - reads the PAN instead of taking it from the command line, so that it never sits
in the shell history: typed at a prompt that does not echo it on a terminal, or one line
of standard input otherwise.`,
		Example: `  tagpay card add --account $PAYER --label Visa
  tagpay card add --account $PAYER --label Visa --pan -`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if err := requireFlags(c, "account", "label"); err != nil {
				return err
			}
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			if opts.Device, err = f.DeviceID(); err != nil {
				return err
			}
			if opts.PAN == "-" {
				if opts.PAN, err = opts.IO.readSecret("Card number (not shown)"); err != nil {
					return err
				}
				if opts.PAN == "" {
					return Usagef("--pan -: no card number given")
				}
			}
			return runCardAdd(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Account, "account", "", "person account of the card")
	c.Flags().StringVar(&opts.Label, "label", "", "name of the card")
	c.Flags().StringVar(&opts.PAN, "pan", "", "card number (Luhn-checked, kept as last four digits); - reads it from a hidden prompt or stdin")
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func runCardAdd(ctx context.Context, opts *CardAddOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		card, err := be.AddCard(ctx, cards.AddCardRequest{Account: opts.Account, Label: opts.Label, PAN: opts.PAN, Device: opts.Device, IdempotencyKey: opts.IdempotencyKey})
		if err != nil {
			return err
		}
		return opts.Out.Record(card, cardFields(card))
	})
}

// CardListOptions are the flags of `card list`.
type CardListOptions struct {
	Env
	Account string
	Page    store.Page
}

func newCardListCmd(f *Factory) *cobra.Command {
	opts := &CardListOptions{}
	c := &cobra.Command{
		Use:   "list [--account ACCOUNT] [--limit N [--after CARD]]",
		Short: "List cards",
		Example: `  tagpay card list --account $PAYER
  tagpay card list --jq '.[].id'`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runCardList(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Account, "account", "", "only the cards of this account")
	pageFlags(c, &opts.Page, "cards", "card")
	return c
}

func runCardList(ctx context.Context, opts *CardListOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		cs, err := be.ListCards(ctx, opts.Account, opts.Page)
		if err != nil {
			return err
		}
		t := Table{Header: []string{"ID", "ACCOUNT", "LABEL", "PAN", "DEVICE", "STATUS"}}
		for _, c := range cs {
			pan := ""
			if c.PANLast4 != "" {
				pan = "…" + c.PANLast4
			}
			t.Rows = append(t.Rows, []string{c.ID, c.Account, c.Label, pan, c.Device, string(c.Status)})
		}
		return opts.Out.List(orEmpty(cs), t)
	})
}

// CardShowOptions are the arguments of `card show`.
type CardShowOptions struct {
	Env
	Card string
}

func newCardShowCmd(f *Factory) *cobra.Command {
	opts := &CardShowOptions{}
	return &cobra.Command{
		Use:     "show CARD",
		Short:   "Show one card",
		Example: `  tagpay card show $CARD`,
		Args:    exactArgs(1, "one card id"),
		RunE: func(c *cobra.Command, args []string) (err error) {
			opts.Card = args[0]
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runCardShow(c.Context(), opts)
		},
	}
}

func runCardShow(ctx context.Context, opts *CardShowOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		card, err := be.GetCard(ctx, opts.Card)
		if err != nil {
			return err
		}
		return opts.Out.Record(card, cardFields(card))
	})
}

// CardActivateOptions are the flags of `card activate`.
type CardActivateOptions struct {
	Env
	Card, Functions, IdempotencyKey string
}

func newCardActivateCmd(f *Factory) *cobra.Command {
	opts := &CardActivateOptions{}
	c := &cobra.Command{
		Use:   "activate CARD --functions nfc,qr,online,inapp",
		Short: "Activate payment functions on a card: one identifier per function, in one request",
		Long: `Activate several payment functions on a card in one request. The reply lists one target
payment identifier per function: a 16-digit token for nfc, online and inapp, a numeric
payment code for qr (drawn as a QR code on a terminal). A function already active keeps
its identifier; an unknown function fails the whole request.`,
		Example: `  tagpay card activate $CARD --functions nfc,qr,online,inapp
  tagpay card activate $CARD --functions nfc -o json --jq '.identifiers[0].number'`,
		Args: exactArgs(1, "one card id"),
		RunE: func(c *cobra.Command, args []string) (err error) {
			opts.Card = args[0]
			if err := requireFlags(c, "functions"); err != nil {
				return err
			}
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runCardActivate(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Functions, "functions", "", "comma-separated: "+functionNames())
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func tokenTable(ts []cards.Token) Table {
	t := Table{Header: []string{"ID", "FUNCTION", "NUMBER", "CARD", "DEVICE", "STATUS", "REASON", "EXPIRES"}}
	for _, tk := range ts {
		t.Rows = append(t.Rows, []string{tk.ID, string(tk.Function), tk.Number, tk.Card, tk.Device, string(tk.Status), string(tk.Reason), fmtTime(tk.ExpiresAt)})
	}
	return t
}

func runCardActivate(ctx context.Context, opts *CardActivateOptions) error {
	fns, err := parseFunctions(opts.Functions)
	if err != nil {
		return err
	}
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		act, err := be.ActivateCard(ctx, cards.ActivateRequest{Card: opts.Card, Functions: fns, IdempotencyKey: opts.IdempotencyKey})
		if err != nil {
			return err
		}
		act.Identifiers = orEmpty(act.Identifiers)
		if err := opts.Out.List(act, tokenTable(act.Identifiers)); err != nil {
			return err
		}
		if opts.Out.JSONOutput() || !opts.IO.IsStdoutTTY() {
			return nil
		}
		for _, tk := range act.Identifiers {
			if tk.Function == cards.FunctionQR {
				fmt.Fprintln(opts.IO.Out)
				drawQR(opts.IO.Out, tk.Number)
			}
		}
		return nil
	})
}

// drawQR draws a QR payment code as text, in half blocks that a terminal shows square.
func drawQR(w io.Writer, code string) {
	fmt.Fprintf(w, "QR payment code %s:\n", code)
	qrterminal.GenerateHalfBlock(code, qrterminal.M, w)
}

// CardDeactivateOptions are the flags of `card deactivate`.
type CardDeactivateOptions struct {
	Env
	Card, Functions, IdempotencyKey string
}

func newCardDeactivateCmd(f *Factory) *cobra.Command {
	opts := &CardDeactivateOptions{}
	c := &cobra.Command{
		Use:     "deactivate CARD --functions nfc,qr,online,inapp",
		Short:   "Deactivate payment functions: their tokens are deleted",
		Example: `  tagpay card deactivate $CARD --functions online`,
		Args:    exactArgs(1, "one card id"),
		RunE: func(c *cobra.Command, args []string) (err error) {
			opts.Card = args[0]
			if err := requireFlags(c, "functions"); err != nil {
				return err
			}
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runCardDeactivate(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Functions, "functions", "", "comma-separated: "+functionNames())
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func runCardDeactivate(ctx context.Context, opts *CardDeactivateOptions) error {
	fns, err := parseFunctions(opts.Functions)
	if err != nil {
		return err
	}
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		ts, err := be.DeactivateCard(ctx, cards.DeactivateRequest{Card: opts.Card, Functions: fns, IdempotencyKey: opts.IdempotencyKey})
		if err != nil {
			return err
		}
		return opts.Out.List(orEmpty(ts), tokenTable(ts))
	})
}

// CardMigrateOptions are the flags of `card migrate`.
type CardMigrateOptions struct {
	Env
	Account, From, To, Card, IdempotencyKey string
}

func newCardMigrateCmd(f *Factory) *cobra.Command {
	opts := &CardMigrateOptions{}
	c := &cobra.Command{
		Use:   "migrate [--account ACCOUNT] [--from DEVICE] [--to DEVICE] [--card CARD]",
		Short: "Move a card from a device the account was logged in on to this one",
		Long: `Move the card bound to an old device of the account onto this device (or --to): the old
device's tokens are deleted, fresh ones are issued here for the same functions, and the
card is bound here, in one transaction. Without --from, a terminal shows the devices the
account has been logged in on to pick from, and then, when that device holds several
cards, the cards; a script must pass --from (and --card when there are several). This
device must be logged in first: that is checked before anything is asked.`,
		Example: `  tagpay card migrate --account $PAYER --from old-phone`,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			if opts.To == "" {
				if opts.To, err = f.DeviceID(); err != nil {
					return err
				}
			}
			return runCardMigrate(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Account, "account", "", "account of the card (default: the account of --card)")
	c.Flags().StringVar(&opts.From, "from", "", "old device holding the card")
	c.Flags().StringVar(&opts.To, "to", "", "new device (default: this device)")
	c.Flags().StringVar(&opts.Card, "card", "", "the card, when the old device holds several")
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func runCardMigrate(ctx context.Context, opts *CardMigrateOptions) error {
	if opts.Account == "" && opts.Card == "" {
		return Usagef("card migrate needs --account or --card")
	}
	if opts.From == "" && !opts.IO.CanPrompt() {
		return Usagef("card migrate needs --from: there is no terminal to pick the old device on")
	}
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		account := opts.Account
		if account == "" {
			card, err := be.GetCard(ctx, opts.Card)
			if err != nil {
				return err
			}
			account = card.Account
		}
		from, card := opts.From, opts.Card
		if from == "" {
			// Refuse before asking anything: a pick that can only fail wastes the user's time.
			logins, err := be.ListLogins(ctx, account)
			if err != nil {
				return err
			}
			if !loggedIn(logins, opts.To) {
				return store.Errorf(store.KindConflict, "target_not_logged_in", "account %s is not logged in on device %s; log in there first (tagpay device login --account %s)", account, opts.To, account).WithParam("to")
			}
			if from, err = pickOldDevice(opts.IO, logins, account, opts.To); err != nil {
				return err
			}
			if card == "" {
				if card, err = pickCard(ctx, be, opts.IO, account, from); err != nil {
					return err
				}
			}
		}
		m, err := be.MigrateCard(ctx, cards.MigrateRequest{Account: account, From: from, To: opts.To, Card: card, IdempotencyKey: opts.IdempotencyKey})
		if err != nil {
			return err
		}
		m.Deleted, m.Issued = orEmpty(m.Deleted), orEmpty(m.Issued)
		if opts.Out.JSONOutput() {
			return opts.Out.JSON(m)
		}
		if err := opts.Out.Fields([]Field{{"card", m.Card}, {"from", m.From}, {"to", m.To}, {"event", m.Event}}); err != nil {
			return err
		}
		fmt.Fprintln(opts.IO.ErrOut, "Tokens deleted on the old device, and issued on the new one:")
		return opts.Out.Table(tokenTable(append(append([]cards.Token{}, m.Deleted...), m.Issued...)))
	})
}

// pickOldDevice shows the devices the account has been logged in on, other than the
// new one, and lets the user pick one.
func pickOldDevice(io *IOStreams, logins []cards.Login, account, to string) (string, error) {
	var devices, options []string
	for _, l := range logins {
		if l.Device == to {
			continue
		}
		name := l.DeviceName
		if name == "" {
			name = "(unnamed)"
		}
		state := "logged out"
		if l.LoggedIn {
			state = "logged in"
		}
		devices = append(devices, l.Device)
		options = append(options, fmt.Sprintf("%s  %s  last login %s, %s", l.Device, name, fmtTime(l.LastLogin), state))
	}
	if len(devices) == 0 {
		return "", Usagef("account %s has been logged in on no other device; there is nothing to migrate from", account)
	}
	i, err := choose(io, "Migrate the card from which device?", "--from", options)
	if err != nil {
		return "", err
	}
	return devices[i], nil
}

func loggedIn(logins []cards.Login, device string) bool {
	for _, l := range logins {
		if l.Device == device && l.LoggedIn {
			return true
		}
	}
	return false
}

// pickCard lets the user pick among the account's cards on the old device when it holds
// several; with one or none it picks nothing and the ledger decides.
func pickCard(ctx context.Context, be backend.Backend, io *IOStreams, account, from string) (string, error) {
	cs, err := be.ListCards(ctx, account, store.Page{})
	if err != nil {
		return "", err
	}
	var ids, options []string
	for _, c := range cs {
		if c.Device != from || c.Status != cards.CardActive {
			continue
		}
		pan := ""
		if c.PANLast4 != "" {
			pan = "  …" + c.PANLast4
		}
		ids = append(ids, c.ID)
		options = append(options, fmt.Sprintf("%s  %s%s", c.ID, c.Label, pan))
	}
	if len(ids) < 2 {
		return "", nil
	}
	i, err := choose(io, fmt.Sprintf("Device %s holds %d cards; migrate which?", from, len(ids)), "--card", options)
	if err != nil {
		return "", err
	}
	return ids[i], nil
}
