package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/events"
	"github.com/tagpay/tagpay/store"
)

// ExitTimedOut is the exit code of `events wait` when no matching event came in time.
const ExitTimedOut = 9

func newEventsCmd(f *Factory) *cobra.Command {
	c := newGroupCmd("events", "List, show, follow and wait for the ledger's events")
	c.Long = `Every state change that matters outside the ledger writes an event in the same
transaction: ` + strings.Join(events.Types, ", ") + `.
A tap that pays writes one order.paid carrying the order. Each key sees the events of
the accounts it owns; admins see all. --type takes types and patterns separated by
commas, e.g. order.*,tag.revoked.`
	c.AddCommand(newEventsListCmd(f), newEventsShowCmd(f), newEventsFollowCmd(f), newEventsWaitCmd(f))
	return c
}

func eventTable(evs []events.Event) Table {
	t := Table{Header: []string{"ID", "TYPE", "SUBJECT", "ACCOUNTS", "CREATED"}}
	for _, e := range evs {
		t.Rows = append(t.Rows, eventRow(e))
	}
	return t
}

func eventRow(e events.Event) []string {
	return []string{e.ID, e.Type, e.Subject, strings.Join(e.Accounts, ","), fmtTime(e.At)}
}

func eventFields(e events.Event) []Field {
	return []Field{
		{"id", e.ID}, {"type", e.Type}, {"subject", e.Subject}, {"accounts", strings.Join(e.Accounts, ",")},
		{"created", fmtTime(e.At)}, {"data", string(e.Data)},
	}
}

// EventsListOptions are the flags of `events list`.
type EventsListOptions struct {
	Env
	Type, Since, Subject string
	Limit                int
}

func newEventsListCmd(f *Factory) *cobra.Command {
	opts := &EventsListOptions{}
	c := &cobra.Command{
		Use:   "list [--type T] [--since ID] [--limit N]",
		Short: "List events, newest first (with --since: those after it, oldest first)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runEventsList(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Type, "type", "", "event types, comma-separated; TYPE.* for all of one object")
	c.Flags().StringVar(&opts.Since, "since", "", "only events after this event id")
	c.Flags().StringVar(&opts.Subject, "subject", "", "only events about this object (order, tag, card, token or account id)")
	c.Flags().IntVar(&opts.Limit, "limit", 0, fmt.Sprintf("at most this many (default %d, at most %d)", events.DefaultLimit, events.MaxLimit))
	return c
}

func runEventsList(ctx context.Context, opts *EventsListOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		evs, err := be.ListEvents(ctx, events.Query{Types: opts.Type, Since: opts.Since, Subject: opts.Subject, Limit: opts.Limit})
		if err != nil {
			return err
		}
		return opts.Out.List(evs, eventTable(evs))
	})
}

// EventsShowOptions are the arguments of `events show`.
type EventsShowOptions struct {
	Env
	ID string
}

func newEventsShowCmd(f *Factory) *cobra.Command {
	opts := &EventsShowOptions{}
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show one event with its object",
		Args:  exactArgs(1, "an event id"),
		RunE: func(c *cobra.Command, args []string) (err error) {
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			opts.ID = args[0]
			return withBackend(c.Context(), opts.Backend, func(be backend.Backend) error {
				e, err := be.GetEvent(c.Context(), opts.ID)
				if err != nil {
					return err
				}
				return opts.Out.Record(e, eventFields(e))
			})
		},
	}
}

// EventsFollowOptions are the flags of `events follow`.
type EventsFollowOptions struct {
	Env
	Type, Since, Subject string
	Count                int // stop after this many; 0: until interrupted
	// Poll is how often a local ledger is looked at; 0 means events.DefaultPoll.
	Poll time.Duration
}

func newEventsFollowCmd(f *Factory) *cobra.Command {
	opts := &EventsFollowOptions{}
	c := &cobra.Command{
		Use:   "follow [--type T] [--since ID] [--count N]",
		Short: "Print events as they happen until interrupted (JSON lines with -o json)",
		Long: `Print events as they are written, one line each, until interrupted. Against a server
it reads the event stream and, when the server restarts, connects again and resumes after
the last event it printed; on a local ledger it looks for new events a few times a
second, opening the file only for each look so that other commands can use it.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runEventsFollow(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Type, "type", "", "event types, comma-separated; TYPE.* for all of one object")
	c.Flags().StringVar(&opts.Since, "since", "", "start after this event id (default: from now)")
	c.Flags().StringVar(&opts.Subject, "subject", "", "only events about this object")
	c.Flags().IntVar(&opts.Count, "count", 0, "stop after this many events (default: until interrupted)")
	return c
}

var errEnough = errors.New("enough events")

func runEventsFollow(ctx context.Context, opts *EventsFollowOptions) error {
	if opts.Count < 0 {
		return Usagef("--count must not be negative")
	}
	q := events.Query{Types: opts.Type, Since: opts.Since, Subject: opts.Subject}
	n := 0
	err := followEvents(ctx, opts.Env, q, opts.Poll, func(e events.Event) error {
		if err := printEventLine(opts.Env, e); err != nil {
			return err
		}
		if n++; n == opts.Count {
			return errEnough
		}
		return nil
	})
	if errors.Is(err, errEnough) {
		return nil
	}
	return err
}

// printEventLine prints one followed event: compact JSON with -o json, else a row.
func printEventLine(env Env, e events.Event) error {
	if env.Out.JSONOutput() {
		raw, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(env.IO.Out, "%s\n", raw)
		return err
	}
	return writeTSV(env.IO.Out, [][]string{eventRow(e)})
}

// followEvents calls each for every event of q as it is written, until ctx ends (nil)
// or each fails. A server streams them; a local ledger file is opened for each look
// only, since bbolt lets one process at a time hold it.
func followEvents(ctx context.Context, env Env, q events.Query, poll time.Duration, each func(events.Event) error) error {
	be, release, err := env.Backend(ctx)
	if err != nil {
		return err
	}
	if _, local := be.(*backend.Local); !local {
		defer release()
		return be.FollowEvents(ctx, q, each)
	}
	// Check the query once, so that a bad filter fails at once rather than every poll.
	probe := q
	probe.Limit = 1
	_, err = be.ListEvents(ctx, probe)
	release()
	if err != nil {
		return err
	}
	if poll <= 0 {
		poll = events.DefaultPoll
	}
	f := events.NewFollower(q.Since)
	for {
		page, err := localPage(ctx, env, q, f.From())
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if store.KindOf(err) != store.KindUnavailable { // in use: look again later
				return err
			}
		}
		for _, e := range page {
			if f.Fresh(e) {
				if err := each(e); err != nil {
					return err
				}
			}
		}
		if len(page) == events.MaxLimit {
			continue
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// localPage opens the ledger, reads the events after `after` and closes it again.
func localPage(ctx context.Context, env Env, q events.Query, after string) ([]events.Event, error) {
	var page []events.Event
	err := withBackend(ctx, env.Backend, func(be backend.Backend) (err error) {
		q.Since, q.Limit = after, events.MaxLimit
		page, err = be.ListEvents(ctx, q)
		return err
	})
	return page, err
}

// EventsWaitOptions are the flags of `events wait`.
type EventsWaitOptions struct {
	Env
	Type, Since, Subject string
	Timeout              time.Duration
	Poll                 time.Duration
}

func newEventsWaitCmd(f *Factory) *cobra.Command {
	opts := &EventsWaitOptions{}
	c := &cobra.Command{
		Use:   "wait --type T [--order ORD | --subject ID] [--since ID] [--timeout 10s]",
		Short: "Wait for one event and print it; exit 9 if none came in time",
		Long: fmt.Sprintf(`Wait for the first event of the type (and about the object, if given) written after
--since, or from now on, print it and exit 0. If none came within --timeout, exit %d.
Against a server that cannot be reached the wait goes on until the timeout.`, ExitTimedOut),
		Example: "  tagpay events wait --type order.paid --order ord_… --timeout 10s",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if err := requireFlags(c, "type"); err != nil {
				return err
			}
			order, _ := c.Flags().GetString("order")
			if order != "" {
				if opts.Subject != "" && opts.Subject != order {
					return Usagef("give --order or --subject, not both")
				}
				opts.Subject = order
			}
			if opts.Timeout <= 0 {
				return Usagef("--timeout must be positive")
			}
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runEventsWait(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Type, "type", "", "event types, comma-separated; TYPE.* for all of one object")
	c.Flags().String("order", "", "only events about this order")
	c.Flags().StringVar(&opts.Subject, "subject", "", "only events about this object")
	c.Flags().StringVar(&opts.Since, "since", "", "count events after this event id (default: from now)")
	c.Flags().DurationVar(&opts.Timeout, "timeout", 30*time.Second, "how long to wait")
	return c
}

var errGotEvent = errors.New("got the event")

func runEventsWait(ctx context.Context, opts *EventsWaitOptions) error {
	wctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	var got events.Event
	q := events.Query{Types: opts.Type, Since: opts.Since, Subject: opts.Subject}
	err := followEvents(wctx, opts.Env, q, opts.Poll, func(e events.Event) error {
		got = e
		return errGotEvent
	})
	switch {
	case errors.Is(err, errGotEvent):
		return opts.Out.Record(got, eventFields(got))
	case err != nil:
		return err
	case ctx.Err() != nil:
		return ctx.Err()
	}
	what := opts.Type + " event"
	if opts.Subject != "" {
		what += " about " + opts.Subject
	}
	return &ExitFailure{Code: ExitTimedOut, Message: fmt.Sprintf("no %s within %s", what, opts.Timeout)}
}
