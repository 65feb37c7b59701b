package cmd

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/store"
	"github.com/tagpay/tagpay/webhook"
)

func newWebhookCmd(f *Factory) *cobra.Command {
	c := newGroupCmd("webhook", "Register endpoints that the server delivers events to, and check signatures")
	c.Long = `A webhook is an HTTP endpoint that tagpay serve POSTs each matching event to, signed:
the ` + webhook.SignatureHeader + ` header is "t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">"
under the endpoint's secret, which is printed once, when the endpoint is created.
Failed deliveries are retried with growing waits for a day; every attempt is recorded.
Delivery is at least once: receivers deduplicate on the event's id.`
	c.AddCommand(newWebhookCreateCmd(f), newWebhookListCmd(f), newWebhookDeleteCmd(f), newWebhookTestCmd(f),
		newWebhookDeliveriesCmd(f), newWebhookVerifyCmd(f))
	return c
}

func webhookTable(ws []webhook.Webhook) Table {
	t := Table{Header: []string{"ID", "URL", "EVENTS", "ACCOUNT", "CREATED"}}
	for _, w := range ws {
		t.Rows = append(t.Rows, []string{w.ID, w.URL, w.Events, w.Account, fmtTime(w.CreatedAt)})
	}
	return t
}

func webhookFields(w webhook.Webhook) []Field {
	return []Field{{"id", w.ID}, {"url", w.URL}, {"events", w.Events}, {"account", w.Account}, {"created_by", w.CreatedBy}, {"created", fmtTime(w.CreatedAt)}}
}

func attemptTable(as []webhook.Attempt) Table {
	t := Table{Header: []string{"ID", "EVENT", "TYPE", "ATTEMPT", "STATUS", "OUTCOME", "AT", "ERROR"}}
	for _, a := range as {
		t.Rows = append(t.Rows, []string{a.ID, a.Event, a.Type, strconv.Itoa(a.Attempt), statusText(a.Status), a.Outcome, fmtTime(a.At), a.Error})
	}
	return t
}

func statusText(s int) string {
	if s == 0 {
		return "-"
	}
	return strconv.Itoa(s)
}

// withKey carries an idempotency key to backend calls whose request has no field for it.
func withKey(ctx context.Context, key string) context.Context {
	if key == "" {
		return ctx
	}
	return store.WithIdempotencyKey(ctx, key)
}

// WebhookCreateOptions are the flags of `webhook create`.
type WebhookCreateOptions struct {
	Env
	URL, Events, Account, IdempotencyKey string
}

func newWebhookCreateCmd(f *Factory) *cobra.Command {
	opts := &WebhookCreateOptions{}
	c := &cobra.Command{
		Use:     "create --url URL --events T[,T…] [--account ACCOUNT]",
		Short:   "Register an endpoint and print its signing secret, this once",
		Example: "  tagpay webhook create --url https://shop.example/hook --events order.paid,order.refunded --account acct_…",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if err := requireFlags(c, "url", "events"); err != nil {
				return err
			}
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runWebhookCreate(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.URL, "url", "", "where to POST the events")
	c.Flags().StringVar(&opts.Events, "events", "", "event types, comma-separated; TYPE.* or * for more")
	c.Flags().StringVar(&opts.Account, "account", "", "only events of this account (a merchant key must give one of its own)")
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func runWebhookCreate(ctx context.Context, opts *WebhookCreateOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		w, err := be.CreateWebhook(ctx, webhook.CreateRequest{URL: opts.URL, Events: opts.Events, Account: opts.Account, IdempotencyKey: opts.IdempotencyKey})
		if err != nil {
			return err
		}
		if w.Secret == "" {
			fmt.Fprintf(opts.IO.ErrOut, "tagpay: webhook %s was made by an earlier call with this idempotency key; its secret was shown then and cannot be shown again\n", w.ID)
		} else if !opts.Out.JSONOutput() {
			fmt.Fprintln(opts.IO.ErrOut, "tagpay: keep the signing secret now: it is not shown again")
		}
		return opts.Out.Record(w, append(webhookFields(w.Webhook), Field{"secret", w.Secret}))
	})
}

// WebhookListOptions are the flags of `webhook list`.
type WebhookListOptions struct{ Env }

func newWebhookListCmd(f *Factory) *cobra.Command {
	opts := &WebhookListOptions{}
	return &cobra.Command{
		Use:   "list",
		Short: "List endpoints, without secrets",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runWebhookList(c.Context(), opts)
		},
	}
}

func runWebhookList(ctx context.Context, opts *WebhookListOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		ws, err := be.ListWebhooks(ctx)
		if err != nil {
			return err
		}
		return opts.Out.List(ws, webhookTable(ws))
	})
}

// WebhookIDOptions are the arguments of the webhook verbs that name one endpoint.
type WebhookIDOptions struct {
	Env
	ID, IdempotencyKey string
	Limit              int
}

// webhookIDCmd wires c, a verb that names one endpoint, to run.
func webhookIDCmd(f *Factory, c *cobra.Command, run func(context.Context, *WebhookIDOptions) error) (*cobra.Command, *WebhookIDOptions) {
	opts := &WebhookIDOptions{}
	c.Args = exactArgs(1, "a webhook id")
	c.RunE = func(c *cobra.Command, args []string) (err error) {
		if opts.Env, err = f.Env(); err != nil {
			return err
		}
		opts.ID = args[0]
		return run(c.Context(), opts)
	}
	return c, opts
}

func newWebhookDeleteCmd(f *Factory) *cobra.Command {
	c, opts := webhookIDCmd(f, &cobra.Command{
		Use:   "delete ID",
		Short: "Remove an endpoint; its recorded attempts stay",
	}, runWebhookDelete)
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func runWebhookDelete(ctx context.Context, opts *WebhookIDOptions) error {
	ctx = withKey(ctx, opts.IdempotencyKey)
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		w, err := be.DeleteWebhook(ctx, opts.ID)
		if err != nil {
			return err
		}
		return opts.Out.Record(w, webhookFields(w))
	})
}

func newWebhookTestCmd(f *Factory) *cobra.Command {
	c, opts := webhookIDCmd(f, &cobra.Command{
		Use:   "test ID",
		Short: "Send the endpoint a signed webhook.test event now and print the attempt",
		Long: `Send the endpoint a signed webhook.test event now, once, record the attempt and print it.
Exits 1 when the endpoint did not answer 2xx.`,
	}, runWebhookTest)
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func runWebhookTest(ctx context.Context, opts *WebhookIDOptions) error {
	ctx = withKey(ctx, opts.IdempotencyKey)
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		a, err := be.TestWebhook(ctx, opts.ID)
		if err != nil {
			return err
		}
		if err := opts.Out.List(a, attemptTable([]webhook.Attempt{a})); err != nil {
			return err
		}
		if a.Status < 200 || a.Status > 299 {
			return &ExitFailure{Code: ExitError, Message: "the test delivery failed: " + a.Error}
		}
		return nil
	})
}

func newWebhookDeliveriesCmd(f *Factory) *cobra.Command {
	c, opts := webhookIDCmd(f, &cobra.Command{
		Use:   "deliveries ID [--limit N]",
		Short: "List the attempts to deliver to an endpoint, newest first",
	}, runWebhookDeliveries)
	c.Flags().IntVar(&opts.Limit, "limit", 0, "at most this many (default 50)")
	return c
}

func runWebhookDeliveries(ctx context.Context, opts *WebhookIDOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		as, err := be.ListDeliveries(ctx, opts.ID, opts.Limit)
		if err != nil {
			return err
		}
		return opts.Out.List(as, attemptTable(as))
	})
}

// WebhookVerifyOptions are the flags of `webhook verify`.
type WebhookVerifyOptions struct {
	Env
	Secret, Header string
	Tolerance      time.Duration
}

func newWebhookVerifyCmd(f *Factory) *cobra.Command {
	opts := &WebhookVerifyOptions{}
	c := &cobra.Command{
		Use:   "verify --secret S --header H < body",
		Short: "Check a received delivery's signature (exit 0 good, 7 bad)",
		Long: `Check the ` + webhook.SignatureHeader + ` header of a received delivery against its body,
read from stdin exactly as received: the signature must be the endpoint secret's and
its time within --tolerance of now. Exits 0 when it is good, 7 when it is not.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if err := requireFlags(c, "secret", "header"); err != nil {
				return err
			}
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			body, err := io.ReadAll(io.LimitReader(opts.IO.In, 64<<20))
			if err != nil {
				return fmt.Errorf("reading the body from stdin: %w", err)
			}
			h := strings.TrimSpace(strings.TrimPrefix(opts.Header, webhook.SignatureHeader+":"))
			if err := webhook.Verify(opts.Secret, h, body, opts.Tolerance, time.Now()); err != nil {
				return err
			}
			fmt.Fprintln(opts.IO.Out, "signature ok")
			return nil
		},
	}
	c.Flags().StringVar(&opts.Secret, "secret", "", "the endpoint's signing secret (whsec_…)")
	c.Flags().StringVar(&opts.Header, "header", "", "the "+webhook.SignatureHeader+" header's value")
	c.Flags().DurationVar(&opts.Tolerance, "tolerance", webhook.DefaultTolerance, "how old (or early) the signature's time may be")
	return c
}
