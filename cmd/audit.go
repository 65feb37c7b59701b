package cmd

import (
	"context"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/store"
)

// newAuditCmd is the `audit` noun: the ledger's record of who did what (admins only).
func newAuditCmd(f *Factory) *cobra.Command {
	c := newGroupCmd("audit", "Read the audit trail: who did what to which thing")
	c.AddCommand(newAuditListCmd(f))
	return c
}

// AuditListOptions are the flags of `audit list`.
type AuditListOptions struct {
	Env
	Limit int
	After string
}

func newAuditListCmd(f *Factory) *cobra.Command {
	opts := &AuditListOptions{}
	c := &cobra.Command{
		Use:   "list [--limit N [--after EVENT]]",
		Short: "List audit events, newest first (admin keys only on a server)",
		Long: `List audit events, newest first: each names the actor (an API key, or local for this
machine), the action, and the thing it touched. Page through a long trail with --limit
and --after, passing the last id of the previous page.`,
		Example: `  tagpay audit list --limit 20
  tagpay audit list --jq '.[] | select(.action == "card.migrate") | .subject'`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runAuditList(c.Context(), opts)
		},
	}
	c.Flags().IntVar(&opts.Limit, "limit", 50, "at most N events (0: all)")
	c.Flags().StringVar(&opts.After, "after", "", "only events older than this event id (the last id of the previous page)")
	return c
}

func runAuditList(ctx context.Context, opts *AuditListOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		es, err := be.AuditEvents(ctx, store.AuditFilter{Limit: opts.Limit, After: opts.After})
		if err != nil {
			return err
		}
		t := Table{Header: []string{"ID", "AT", "ACTOR", "ACTION", "SUBJECT", "DETAIL"}}
		for _, e := range es {
			t.Rows = append(t.Rows, []string{e.ID, fmtTime(e.At), e.Actor, e.Action, e.Subject, fmtDetail(e.Detail)})
		}
		return opts.Out.List(orEmpty(es), t)
	})
}

// fmtDetail prints an event's detail as key=value pairs in key order.
func fmtDetail(d map[string]string) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + d[k]
	}
	return strings.Join(parts, " ")
}
