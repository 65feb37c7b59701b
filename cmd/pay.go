package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

// PayOptions are the flags of `pay`.
type PayOptions struct {
	Env
	Payer, Amount, Memo string
	Yes                 bool
	UID, Content        string
	Image               string
	Card, PaymentToken  string
	Wait                time.Duration
	IdempotencyKey      string

	// ReadTap reads the tag when neither --uid nor --image is given.
	ReadTap func(ctx context.Context) (Tap, error)
	// Device is the paying device, needed with a card or a payment token.
	Device func() (string, error)
}

// Receipt is `pay -o json`: the tag as it was read, then each step of the flow as the
// ledger recorded it.
type Receipt struct {
	Tap Tap `json:"tap"`
	orders.Receipt
}

func newPayCmd(f *Factory) *cobra.Command {
	opts := &PayOptions{}
	c := &cobra.Command{
		Use:   "pay --payer ACCOUNT [--amount AMOUNT] [--memo TEXT] [--yes] [--uid HEX --content URL | --image FILE]",
		Short: "Pay by tapping a tag: read it, parse it, create the order and pay it",
		Long: `Pay by tapping a merchant's tag, as a payer's phone would: read the tag on the reader
(or --image FILE, or --uid and --content of a tag read elsewhere) and send the tap: the
payment request is parsed, the order generated and paid in one ledger transaction, from
the payer's balance or with a card's nfc token on this device (--card, --payment-token).
Prints the receipt.

On a terminal, pay first shows the payee and amount and asks for confirmation (--yes
answers it); that preview writes nothing. A declined tap leaves the ledger as it was.
With --idempotency-key KEY, a retry of the same command never pays twice.`,
		Example: `  tagpay pay --payer acct_… --amount 3.50
  tagpay pay --payer acct_… --image parking.json --yes
  tagpay pay --payer acct_… --uid 04A1B2C3D4E5F6 --content https://… --yes -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if err := requireFlags(c, "payer"); err != nil {
				return err
			}
			if (opts.UID == "") != (opts.Content == "") {
				return Usagef("--uid and --content go together")
			}
			if opts.UID != "" && opts.Image != "" {
				return Usagef("read the tag from --uid and --content or from --image, not both")
			}
			if opts.Card != "" && opts.PaymentToken != "" {
				return Usagef("pay with --card or --payment-token, not both")
			}
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			opts.ReadTap = func(ctx context.Context) (Tap, error) {
				fmt.Fprintln(f.IO.ErrOut, "Waiting for a tag…")
				return readTapFromReader(ctx, cfg.Reader, opts.Wait, true)
			}
			opts.Device = f.DeviceID
			return runPay(c.Context(), opts)
		},
	}
	fl := c.Flags()
	fl.StringVar(&opts.Payer, "payer", "", "account that pays")
	fl.StringVar(&opts.Amount, "amount", "", "amount (needed unless the tag has a fixed amount)")
	fl.StringVar(&opts.Memo, "memo", "", "note kept with the order")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "pay without asking for confirmation")
	fl.StringVar(&opts.UID, "uid", "", "UID of a tag read elsewhere, in hex")
	fl.StringVar(&opts.Content, "content", "", "the URL that tag carries")
	fl.StringVar(&opts.Image, "image", "", "read the tag from an image file (tagpay JSON or Flipper .nfc)")
	fl.StringVar(&opts.Card, "card", "", "pay with this card's active nfc token on this device")
	fl.StringVar(&opts.PaymentToken, "payment-token", "", "pay with this payment token (id or number), bound to this device")
	fl.DurationVar(&opts.Wait, "wait", defaultTagWait, "how long to wait for a tag on the reader")
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func runPay(ctx context.Context, opts *PayOptions) error {
	// A script must answer the confirmation before anything is asked of the ledger.
	if !opts.Yes && !opts.IO.CanPrompt() {
		return Usagef("pay needs a confirmation and there is no terminal to ask on; pass --yes")
	}
	tap, err := readTap(ctx, opts)
	if err != nil {
		return err
	}
	req := orders.TapRequest{
		UID: tap.UID, Content: tap.Content, Payer: opts.Payer, Amount: opts.Amount, Memo: opts.Memo,
		Card: opts.Card, PaymentToken: opts.PaymentToken, IdempotencyKey: opts.IdempotencyKey,
	}
	if opts.Card != "" || opts.PaymentToken != "" {
		if req.Device, err = opts.Device(); err != nil {
			return err
		}
	}
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		if !opts.Yes {
			reply, err := be.PreviewTap(ctx, orders.PaymentRequest{UID: tap.UID, Content: tap.Content})
			if err != nil {
				return err
			}
			if req.Amount, err = confirmPayment(opts, reply); err != nil {
				return err
			}
		}
		r, err := be.Tap(ctx, req)
		if err != nil {
			return err
		}
		return opts.Out.Record(Receipt{Tap: tap, Receipt: r}, orderFields(r.Order))
	})
}

// confirmPayment asks for the amount when neither --amount nor the tag gives one, and
// for confirmation, then returns the amount to request.
func confirmPayment(opts *PayOptions, reply orders.ParsingReply) (string, error) {
	amount := opts.Amount
	if amount == "" && reply.Amount == nil {
		// Asked again until it parses in the payee's currency, so that "1,50" is a
		// question, not a failed payment.
		for tries := 0; ; tries++ {
			text, err := ask(opts.IO, fmt.Sprintf("Amount to pay %s (%s)", printable(reply.PayeeName), reply.Currency), "--amount")
			if err != nil {
				return "", err
			}
			m, perr := store.ParseAmount(text, reply.Currency)
			if perr == nil && m.Amount > 0 {
				amount = m.String()
				break
			}
			if perr == nil {
				perr = fmt.Errorf("the amount must be positive")
			}
			if tries == 2 {
				return "", Usagef("no amount to pay: %v", perr)
			}
			fmt.Fprintf(opts.IO.ErrOut, "%v; type it like 1.50\n", perr)
		}
	}
	shown := amount
	if shown == "" {
		shown = reply.Amount.String()
	} else if m, err := store.ParseAmount(amount, reply.Currency); err == nil {
		shown = m.String()
	}
	// A payee name from the ledger is shown with anything unprintable escaped, so that it
	// cannot reverse or rewrite the question.
	ok, err := confirm(opts.IO, fmt.Sprintf("Pay %s to %s (%s)?", shown, printable(reply.PayeeName), reply.Payee), "--yes")
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("payment not confirmed; nothing was paid")
	}
	return amount, nil
}

func readTap(ctx context.Context, opts *PayOptions) (Tap, error) {
	switch {
	case opts.UID != "":
		return Tap{UID: opts.UID, Content: opts.Content, Source: "flags"}, nil
	case opts.Image != "":
		return readTapFromImage(opts.Image)
	}
	return opts.ReadTap(ctx)
}
