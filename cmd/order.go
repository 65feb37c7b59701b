package cmd

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/orders"
)

// newOrderCmd is the `order` noun: the payment flow of a tag tap as its distinct steps.
func newOrderCmd(f *Factory) *cobra.Command {
	c := newGroupCmd("order", "Run the steps of a tag payment one by one, and manage orders")
	c.AddCommand(
		newOrderParseCmd(f),
		newOrderCreateCmd(f),
		newOrderPayCmd(f),
		newOrderListCmd(f),
		newOrderShowCmd(f),
		newOrderRefundCmd(f),
		newOrderCancelCmd(f),
	)
	return c
}

func replyFields(r orders.ParsingReply) []Field {
	fs := []Field{{"reply", r.ID}, {"tag", r.TagRef}, {"payee", r.Payee}, {"payee_name", r.PayeeName}}
	if r.Amount != nil {
		fs = append(fs, Field{"amount", r.Amount.String()})
	}
	return append(fs, Field{"currency", r.Currency}, Field{"expires", fmtTime(r.ExpiresAt)})
}

func orderFields(o orders.Order) []Field {
	fs := []Field{
		{"id", o.ID}, {"status", string(o.Status)}, {"payer", o.Payer}, {"payee", o.Payee},
		{"payee_name", o.PayeeName}, {"amount", o.Amount.String()},
	}
	if o.Refunded.Amount != 0 {
		fs = append(fs, Field{"refunded", o.Refunded.String()})
	}
	if o.Memo != "" {
		fs = append(fs, Field{"memo", o.Memo})
	}
	if in := o.Instrument; in != nil {
		paidWith := in.Kind
		if in.Token != "" {
			paidWith += " " + in.Token
		}
		fs = append(fs, Field{"paid_with", paidWith})
	}
	if o.Transfer != "" {
		fs = append(fs, Field{"transfer", o.Transfer})
	}
	return append(fs, Field{"created", fmtTime(o.CreatedAt)}, Field{"paid", fmtTimePtr(o.PaidAt)})
}

// OrderParseOptions are the flags of `order parse`.
type OrderParseOptions struct {
	Env
	UID, Content, IdempotencyKey string
}

func newOrderParseCmd(f *Factory) *cobra.Command {
	opts := &OrderParseOptions{}
	c := &cobra.Command{
		Use:   "parse --uid HEX --content URL",
		Short: "Send the NFC tag payment request (UID and content) and print the parsing reply",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if err := requireFlags(c, "uid", "content"); err != nil {
				return err
			}
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runOrderParse(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.UID, "uid", "", "UID of the tag, in hex")
	c.Flags().StringVar(&opts.Content, "content", "", "the URL the tag carries")
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func runOrderParse(ctx context.Context, opts *OrderParseOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		r, err := be.ParsePaymentRequest(ctx, orders.PaymentRequest{UID: opts.UID, Content: opts.Content, IdempotencyKey: opts.IdempotencyKey})
		if err != nil {
			return err
		}
		return opts.Out.Record(r, replyFields(r))
	})
}

// OrderCreateOptions are the flags of `order create`.
type OrderCreateOptions struct {
	Env
	Reply, Payer, Amount, Memo, IdempotencyKey string
}

func newOrderCreateCmd(f *Factory) *cobra.Command {
	opts := &OrderCreateOptions{}
	c := &cobra.Command{
		Use:   "create --reply REPLY --payer ACCOUNT [--amount AMOUNT] [--memo TEXT]",
		Short: "Send the order generation request built from a parsing reply",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if err := requireFlags(c, "reply", "payer"); err != nil {
				return err
			}
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runOrderCreate(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Reply, "reply", "", "id of the parsing reply")
	c.Flags().StringVar(&opts.Payer, "payer", "", "account that pays")
	c.Flags().StringVar(&opts.Amount, "amount", "", "amount (needed unless the tag has a fixed amount)")
	c.Flags().StringVar(&opts.Memo, "memo", "", "note kept with the order")
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func runOrderCreate(ctx context.Context, opts *OrderCreateOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		o, err := be.CreateOrder(ctx, orders.OrderRequest{Reply: opts.Reply, Payer: opts.Payer, Amount: opts.Amount, Memo: opts.Memo, IdempotencyKey: opts.IdempotencyKey})
		if err != nil {
			return err
		}
		return opts.Out.Record(o, orderFields(o))
	})
}

// OrderPayOptions are the flags of `order pay`.
type OrderPayOptions struct {
	Env
	Order, Card, PaymentToken, IdempotencyKey string
	// Device is the paying device, needed with Card.
	Device func() (string, error)
}

func newOrderPayCmd(f *Factory) *cobra.Command {
	opts := &OrderPayOptions{}
	c := &cobra.Command{
		Use:   "pay ORDER [--card CARD | --payment-token TOKEN]",
		Short: "Pay an order: from the payer's balance, or with a card's token",
		Args:  exactArgs(1, "one order id"),
		RunE: func(c *cobra.Command, args []string) (err error) {
			opts.Order = args[0]
			if opts.Card != "" && opts.PaymentToken != "" {
				return Usagef("pay with --card or --payment-token, not both")
			}
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			opts.Device = f.DeviceID
			return runOrderPay(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Card, "card", "", "pay with this card's active nfc token on this device")
	c.Flags().StringVar(&opts.PaymentToken, "payment-token", "", "pay with this payment token (id or number), bound to this device")
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func runOrderPay(ctx context.Context, opts *OrderPayOptions) error {
	req := orders.PayRequest{Order: opts.Order, Card: opts.Card, PaymentToken: opts.PaymentToken, IdempotencyKey: opts.IdempotencyKey}
	if opts.Card != "" || opts.PaymentToken != "" {
		dev, err := opts.Device()
		if err != nil {
			return err
		}
		req.Device = dev
	}
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		o, err := be.PayOrder(ctx, req)
		if err != nil {
			return err
		}
		return opts.Out.Record(o, orderFields(o))
	})
}

// OrderListOptions are the flags of `order list`.
type OrderListOptions struct {
	Env
	Payer, Payee, Tag, Status, After string
	Limit                            int
}

func newOrderListCmd(f *Factory) *cobra.Command {
	opts := &OrderListOptions{}
	c := &cobra.Command{
		Use:   "list [--payer ACCOUNT | --payee ACCOUNT | --tag TAG] [--status STATUS] [--limit N [--after ORDER]]",
		Short: "List orders, newest first",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runOrderList(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Payer, "payer", "", "only orders paid by this account")
	c.Flags().StringVar(&opts.Payee, "payee", "", "only orders paid to this account")
	c.Flags().StringVar(&opts.Tag, "tag", "", "only orders of this tag (id, reference or UID)")
	c.Flags().StringVar(&opts.Status, "status", "", "only orders in this state: created, paid, refunded, cancelled")
	c.Flags().IntVar(&opts.Limit, "limit", 0, "at most N orders (0: all)")
	c.Flags().StringVar(&opts.After, "after", "", "only orders older than this order id (the last id of the previous page)")
	return c
}

func runOrderList(ctx context.Context, opts *OrderListOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		list, err := be.ListOrders(ctx, orders.OrderFilter{
			Payer: opts.Payer, Payee: opts.Payee, Tag: opts.Tag, Status: orders.OrderStatus(opts.Status),
			Limit: opts.Limit, After: opts.After,
		})
		if err != nil {
			return err
		}
		t := Table{Header: []string{"ID", "STATUS", "PAYER", "PAYEE", "AMOUNT", "REFUNDED", "CREATED"}}
		for _, o := range list {
			t.Rows = append(t.Rows, []string{o.ID, string(o.Status), o.Payer, o.Payee, o.Amount.String(), o.Refunded.String(), fmtTime(o.CreatedAt)})
		}
		return opts.Out.List(orEmpty(list), t)
	})
}

// OrderShowOptions are the arguments of `order show`.
type OrderShowOptions struct {
	Env
	Order string
}

func newOrderShowCmd(f *Factory) *cobra.Command {
	opts := &OrderShowOptions{}
	return &cobra.Command{
		Use:   "show ORDER",
		Short: "Show one order",
		Args:  exactArgs(1, "one order id"),
		RunE: func(c *cobra.Command, args []string) (err error) {
			opts.Order = args[0]
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runOrderShow(c.Context(), opts)
		},
	}
}

func runOrderShow(ctx context.Context, opts *OrderShowOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		o, err := be.GetOrder(ctx, opts.Order)
		if err != nil {
			return err
		}
		return opts.Out.Record(o, orderFields(o))
	})
}

// OrderRefundOptions are the flags of `order refund`.
type OrderRefundOptions struct {
	Env
	Order, Amount, IdempotencyKey string
}

func newOrderRefundCmd(f *Factory) *cobra.Command {
	opts := &OrderRefundOptions{}
	c := &cobra.Command{
		Use:   "refund ORDER [--amount AMOUNT]",
		Short: "Return money of a paid order to the payer (all that is left by default)",
		Args:  exactArgs(1, "one order id"),
		RunE: func(c *cobra.Command, args []string) (err error) {
			opts.Order = args[0]
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runOrderRefund(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Amount, "amount", "", "partial refund amount")
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func runOrderRefund(ctx context.Context, opts *OrderRefundOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		o, err := be.RefundOrder(ctx, orders.RefundRequest{Order: opts.Order, Amount: opts.Amount, IdempotencyKey: opts.IdempotencyKey})
		if err != nil {
			return err
		}
		return opts.Out.Record(o, orderFields(o))
	})
}

// OrderCancelOptions are the flags of `order cancel`.
type OrderCancelOptions struct {
	Env
	Order, IdempotencyKey string
}

func newOrderCancelCmd(f *Factory) *cobra.Command {
	opts := &OrderCancelOptions{}
	c := &cobra.Command{
		Use:   "cancel ORDER",
		Short: "Cancel an order that is not paid",
		Args:  exactArgs(1, "one order id"),
		RunE: func(c *cobra.Command, args []string) (err error) {
			opts.Order = args[0]
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runOrderCancel(c.Context(), opts)
		},
	}
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func runOrderCancel(ctx context.Context, opts *OrderCancelOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		o, err := be.CancelOrder(ctx, orders.CancelRequest{Order: opts.Order, IdempotencyKey: opts.IdempotencyKey})
		if err != nil {
			return err
		}
		return opts.Out.Record(o, orderFields(o))
	})
}
