package cmd

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/events"
	"github.com/tagpay/tagpay/webhook"
)

// ListenOptions are the flags of `listen`.
type ListenOptions struct {
	Env
	ForwardTo, Events, Secret, Since string
	Poll                             time.Duration
	Client                           *http.Client // nil: webhook's default
}

func newListenCmd(f *Factory) *cobra.Command {
	opts := &ListenOptions{}
	c := &cobra.Command{
		Use:   "listen --forward-to URL [--events T] [--secret S]",
		Short: "Forward events as they happen to a local endpoint, signed like webhook deliveries",
		Long: `Follow the events of the server (or the ledger file) and POST each, signed as a
webhook delivery would be, to --forward-to, printing one line per delivery with the
endpoint's answer. The signing secret is --secret, or a new one printed at the start.
A failed forward is printed and not retried. Runs until interrupted.`,
		Example: "  tagpay listen --forward-to http://127.0.0.1:8080/hook --events order.*",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if err := requireFlags(c, "forward-to"); err != nil {
				return err
			}
			if u, err := url.Parse(opts.ForwardTo); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return Usagef("--forward-to %q is not an http:// or https:// URL", opts.ForwardTo)
			}
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runListen(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.ForwardTo, "forward-to", "", "the local endpoint to POST events to")
	c.Flags().StringVar(&opts.Events, "events", "", "event types, comma-separated (default: all)")
	c.Flags().StringVar(&opts.Secret, "secret", "", "sign with this secret (default: a new one, printed)")
	c.Flags().StringVar(&opts.Since, "since", "", "start after this event id (default: from now)")
	return c
}

func runListen(ctx context.Context, opts *ListenOptions) error {
	secret := opts.Secret
	if secret == "" {
		secret = webhook.NewSecret()
		fmt.Fprintf(opts.IO.ErrOut, "tagpay: forwarding to %s; signing secret %s\n", opts.ForwardTo, secret)
	}
	q := events.Query{Types: opts.Events, Since: opts.Since}
	return followEvents(ctx, opts.Env, q, opts.Poll, func(e events.Event) error {
		// A forward under way when listen is interrupted is finished and printed.
		status, err := webhook.Forward(context.WithoutCancel(ctx), opts.Client, opts.ForwardTo, secret, e)
		answer := fmt.Sprintf("[%d]", status)
		if err != nil {
			answer = "[error] " + err.Error()
		}
		_, werr := fmt.Fprintf(opts.IO.Out, "%s  --> %s %s  %s %s\n", fmtTime(e.At), e.Type, e.ID, answer, opts.ForwardTo)
		return werr
	})
}
