// Package cmd is the tagpay command line: cobra commands, one file per noun, that parse
// flags, call the ledger backend (local file or server, never told apart), and render
// tables or JSON. No business rules, no bbolt, no APDUs here.
package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/store"
)

// Main runs the command line with args (without the program name) and returns the exit
// code. cmd/tagpay and the tests call it alike.
func Main(ctx context.Context, args []string, streams *IOStreams, build BuildInfo) int {
	if streams.interrupt == nil {
		streams.SetInterrupt(ctx.Done())
	}
	f := NewFactory(streams, build)
	root := NewRootCmd(f)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = &runError{err: fmt.Errorf("closing the ledger: %w", cerr)}
	}
	if err == nil {
		return ExitOK
	}
	err = asUsage(err)
	var decided *ExitFailure
	if ctx.Err() != nil && !errors.Is(err, context.Canceled) && !errors.As(err, &decided) {
		// Whatever broke after Ctrl-C broke because of it; a verdict the command reached
		// (a watch that saw failed tags) stands.
		err = fmt.Errorf("%w: %w", context.Canceled, err)
	}
	if f.errorsAsJSON() {
		enc := json.NewEncoder(streams.ErrOut)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		e := errorJSON(err)
		if enc.Encode(e) == nil {
			return e.ExitCode
		}
	}
	fmt.Fprintf(streams.ErrOut, "tagpay: %s\n", printableLines(errorMessage(err)))
	return ExitCode(err)
}

// NewRootCmd builds the whole command tree on f.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "tagpay",
		Short: "NFC tag payments: readers and tags, a ledger, and a server",
		Long: `tagpay reads and writes NFC tags through PC/SC readers, registers tags to merchants,
runs payments end to end, activates payment functions on cards and migrates cards
between devices, against a local ledger file or a tagpay server.

Exit codes: 0 ok, 1 error, 2 usage, 3 not found (no ledger at --db included),
4 conflict (wrong state), 5 declined, 6 reader or tag problem, 7 unauthorized,
8 unavailable, 9 timed out (events wait), 130 interrupted (Ctrl-C).

With -o json (or --jq), errors are JSON on stderr too:
{"error": {"type", "code", "message", "param"}, "exit_code": N}.`,
		Version:       versionLine(f.Build),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.ArbitraryArgs,
		RunE:          runGroup,
	}
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetVersionTemplate("{{.Version}}\n")
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetHelpCommand(newHelpCmd(root))
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())
	})

	pf := root.PersistentFlags()
	pf.String("db", "", "ledger file (default $XDG_DATA_HOME/tagpay/ledger.db)")
	pf.String("config", "", "config file (default $XDG_CONFIG_HOME/tagpay/config.yaml)")
	pf.String("keys", "", "key file of the ledger's secrets (default $XDG_CONFIG_HOME/tagpay/keys.json)")
	pf.StringP("output", "o", "", "output format: table or json (default table)")
	pf.String("jq", "", "filter JSON output with a jq expression (implies -o json)")
	pf.String("server", "", "URL of a tagpay server to run ledger commands on")
	pf.String("token", "", "API key for --server")
	pf.String("reader", "", "reader name or index (default: the first with a tag)")
	pf.String("device", "", "this installation's device id (default: from the config file)")
	f.flags = pf

	root.AddCommand(
		newVersionCmd(f),
		newCompletionCmd(f),
		newConfigCmd(f),
		newAccountCmd(f),
		newLedgerCmd(f),
		newTagCmd(f),
		newOrderCmd(f),
		newPayCmd(f),
		newDeviceCmd(f),
		newCardCmd(f),
		newTokenCmd(f),
		newServeCmd(f), newKeyCmd(f), newAuditCmd(f), newBenchCmd(f), newDemoCmd(f),
		newReaderCmd(f), newNDEFCmd(f),
		newEventsCmd(f), newWebhookCmd(f), newListenCmd(f),
	)
	registerCompletions(root, f)
	root.PersistentPreRunE = func(c *cobra.Command, args []string) error {
		f.readOnly = isReadOnly(c)
		return canonicalIDs(c, args)
	}
	markRunErrors(root)
	return root
}

// canonicalIDs rewrites each argument and flag value that is a ledger id written in
// another case as the ledger spells it (store.CanonicalID), except free text
// (store.FreeText), so that `order show ORD_…`
// finds the order, locally and on a server alike. Cobra hands the same args slice to
// the command's run function, so rewriting it in place reaches the command.
func canonicalIDs(c *cobra.Command, args []string) error {
	for i, a := range args {
		args[i] = store.CanonicalID(a)
	}
	var err error
	c.Flags().Visit(func(fl *pflag.Flag) {
		if err != nil || store.FreeText(fl.Name) || fl.Value.Type() != "string" {
			return
		}
		if v := fl.Value.String(); store.CanonicalID(v) != v {
			err = fl.Value.Set(store.CanonicalID(v))
		}
	})
	return err
}

// readOnlyVerbs are the verbs that only read the ledger, whatever their noun: they open
// a ledger file only if it exists, so a mistyped --db is an error, not a new ledger.
var readOnlyVerbs = map[string]bool{"list": true, "show": true, "journal": true, "verify": true}

// annotationReadOnly marks a command of another verb that only reads the ledger.
const annotationReadOnly = "tagpay/read-only"

func isReadOnly(c *cobra.Command) bool {
	if _, ok := c.Annotations[annotationReadOnly]; ok {
		return true
	}
	return c.HasParent() && readOnlyVerbs[c.Name()]
}

// markRunErrors wraps the errors of every command's own code, so that Main can tell them
// from cobra's parsing errors, which are usage errors.
func markRunErrors(c *cobra.Command) {
	mark := func(fn func(*cobra.Command, []string) error) func(*cobra.Command, []string) error {
		if fn == nil {
			return nil
		}
		return func(c *cobra.Command, args []string) error {
			if err := fn(c, args); err != nil {
				return &runError{err: err}
			}
			return nil
		}
	}
	c.PersistentPreRunE = mark(c.PersistentPreRunE)
	c.PreRunE = mark(c.PreRunE)
	c.RunE = mark(c.RunE)
	c.PostRunE = mark(c.PostRunE)
	for _, sub := range c.Commands() {
		markRunErrors(sub)
	}
}

// newGroupCmd makes a noun that only holds verbs. Cobra would exit 0 on an unknown verb;
// this one fails with a usage error instead.
func newGroupCmd(use, short string) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs, RunE: runGroup}
}

func runGroup(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return c.Help()
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2
	}
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	return Usagef("%s\nRun '%s --help' for usage.", msg, c.CommandPath())
}

// exactArgs is cobra.ExactArgs naming what the arguments are.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%s takes %s, got %d argument(s)\nRun '%s --help' for usage.", c.CommandPath(), names, len(args), c.CommandPath())
		}
		return nil
	}
}

// pageFlags adds --limit and --after to a list, in the shape of every list: the ledger
// checks both, so a bad value gets the same answer locally and from a server.
func pageFlags(c *cobra.Command, p *store.Page, things, thing string) {
	c.Flags().IntVar(&p.Limit, "limit", 0, "at most N "+things+" (0: all)")
	c.Flags().StringVar(&p.After, "after", "", "only the "+things+" listed after this "+thing+" id (the last id of the previous page)")
}

// idempotencyFlag adds --idempotency-key to a mutating command.
func idempotencyFlag(c *cobra.Command, key *string) {
	c.Flags().StringVar(key, "idempotency-key", "", "make a retry safe: the same key with the same parameters returns the first result")
}

// requireFlags fails with a usage error naming the first missing flag: cobra's own
// required-flag check runs before our code and cannot say which of several is missing in
// a way scripts can rely on.
func requireFlags(c *cobra.Command, names ...string) error {
	var missing []string
	for _, n := range names {
		if fl := c.Flags().Lookup(n); fl == nil || !fl.Changed {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return Usagef("%s needs %s", c.CommandPath(), strings.Join(missing, ", "))
	}
	return nil
}

// withBackend opens the backend, runs fn, and releases it.
func withBackend(ctx context.Context, open BackendFunc, fn func(be backend.Backend) error) (err error) {
	be, release, err := open(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if rerr := release(); err == nil && rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()
	return fn(be)
}

// newHelpCmd replaces cobra's help command, which prints "Unknown help topic" and exits
// 0: asking for help on a command that does not exist is a usage error.
func newHelpCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				return Usagef("unknown help topic %q\nRun 'tagpay --help' for usage.", strings.Join(args, " "))
			}
			return target.Help()
		},
	}
}
