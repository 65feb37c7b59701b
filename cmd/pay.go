package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/orders"
)

// PayOptions are the flags of `pay`.
type PayOptions struct {
	Env
	Payer, Amount, Memo string
	Yes                 bool
	UID, Content        string
	Image               string
	Card, Token         string
	Wait                time.Duration
	IdempotencyKey      string

	// ReadTap reads the tag when neither --uid nor --image is given.
	ReadTap func(ctx context.Context) (Tap, error)
	// Device is the paying device, needed with Card.
	Device func() (string, error)
}

// Receipt is `pay -o json`: the steps of the flow, as the ledger answered them.
type Receipt struct {
	Tap   Tap                 `json:"tap"`
	Reply orders.ParsingReply `json:"reply"`
	Order orders.Order        `json:"order"`
}

func newPayCmd(f *Factory) *cobra.Command {
	opts := &PayOptions{}
	c := &cobra.Command{
		Use:   "pay --payer ACCOUNT [--amount AMOUNT] [--memo TEXT] [--yes] [--uid HEX --content URL | --image FILE]",
		Short: "Pay by tapping a tag: read it, parse it, create the order and pay it",
		Long: `Pay by tapping a merchant's tag, as a payer's phone would: read the tag on the reader
(or --image FILE, or --uid and --content of a tag read elsewhere), send the payment
request, show the payee and amount and ask for confirmation on a terminal (--yes answers
it), create the order and pay it from the payer's balance, or with a card's token
(--card, --token). Prints the receipt.

With --idempotency-key KEY, each step uses KEY with a suffix, so a retry of the same
command never pays twice.`,
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
			if opts.Card != "" && opts.Token != "" {
				return Usagef("pay with --card or --token, not both")
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
	fl.StringVar(&opts.Token, "token", "", "pay with this token (id or number)")
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
	var device string
	if opts.Card != "" {
		if device, err = opts.Device(); err != nil {
			return err
		}
	}
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		payment := tapPayment{Payer: opts.Payer, Memo: opts.Memo, Card: opts.Card, Token: opts.Token, Device: device, IdempotencyKey: opts.IdempotencyKey}
		r, err := payTap(ctx, be, tap, payment, func(reply orders.ParsingReply) (string, error) {
			return confirmPayment(opts, reply)
		})
		if err != nil {
			return err
		}
		return opts.Out.Record(r, orderFields(r.Order))
	})
}

// confirmPayment asks for the amount when neither --amount nor the tag gives one, and
// for confirmation unless --yes, then returns the amount to request.
func confirmPayment(opts *PayOptions, reply orders.ParsingReply) (string, error) {
	amount := opts.Amount
	if amount == "" && reply.Amount == nil {
		var err error
		if amount, err = ask(opts.IO, fmt.Sprintf("Amount to pay %s (%s)", reply.PayeeName, reply.Currency), "--amount"); err != nil {
			return "", err
		}
	}
	if !opts.Yes {
		shown := amount
		if shown == "" {
			shown = reply.Amount.String()
		} else if reply.Amount == nil {
			shown += " " + reply.Currency
		}
		ok, err := confirm(opts.IO, fmt.Sprintf("Pay %s to %s (%s)?", shown, reply.PayeeName, reply.Payee), "--yes")
		if err != nil {
			return "", err
		}
		if !ok {
			return "", fmt.Errorf("payment not confirmed; nothing was paid")
		}
	}
	return amount, nil
}

// tapPayment is who pays for a tap and with what: the payer's balance, or a card's
// token (Card with the paying Device, or Token).
type tapPayment struct {
	Payer, Memo, Card, Token, Device string
	// IdempotencyKey, when set, keys each step with a suffix, so that a retry never
	// pays twice.
	IdempotencyKey string
}

// payTap runs flow 1 from a tap: the NFC tag payment request (parse), the order
// generation request built from the parsing reply (first account, transaction
// information, second account), and the payment step. decide sees the parsing reply and
// returns the amount to request ("" takes the tag's fixed amount); its error stops the
// flow before any order exists. On error the receipt holds the steps that completed.
func payTap(ctx context.Context, be backend.Backend, tap Tap, p tapPayment, decide func(orders.ParsingReply) (string, error)) (Receipt, error) {
	key := func(step string) string {
		if p.IdempotencyKey == "" {
			return ""
		}
		return p.IdempotencyKey + ":" + step
	}
	r := Receipt{Tap: tap}
	var err error
	if r.Reply, err = be.ParseTag(ctx, orders.ParseRequest{UID: tap.UID, Content: tap.Content, IdempotencyKey: key("parse")}); err != nil {
		return r, err
	}
	amount, err := decide(r.Reply)
	if err != nil {
		return r, err
	}
	if r.Order, err = be.CreateOrder(ctx, orders.CreateRequest{Reply: r.Reply.ID, Payer: p.Payer, Amount: amount, Memo: p.Memo, IdempotencyKey: key("create")}); err != nil {
		return r, err
	}
	paid, err := be.PayOrder(ctx, orders.PayRequest{Order: r.Order.ID, Card: p.Card, Token: p.Token, Device: p.Device, IdempotencyKey: key("pay")})
	if err != nil {
		return r, fmt.Errorf("order %s: %w", r.Order.ID, err)
	}
	r.Order = paid
	return r, nil
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
