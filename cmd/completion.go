package cmd

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/emu"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

func newCompletionCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: `Print a shell completion script. Completion offers flag values (--reason, --functions,
--type, -o, --personality, --role, --kind, --status) and ids from the ledger the command
would use (accounts, tags, orders, cards, tokens, keys) and the readers attached. It
never creates a ledger.`,
		Example: `  tagpay completion bash > "$WORK/tagpay.bash"
  tagpay completion zsh > "$WORK/_tagpay"
  tagpay completion fish > "$WORK/tagpay.fish"`,
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args:      cobra.MatchAll(exactArgs(1, "one shell name"), cobra.OnlyValidArgs),
		RunE: func(c *cobra.Command, args []string) error {
			root, out := c.Root(), f.IO.Out
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			}
			return Usagef("unknown shell %q: want bash, zsh or fish", args[0])
		},
	}
}

// completeFunc is a cobra completion function.
type completeFunc = func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective)

// registerCompletions attaches value completion to every flag and argument of the tree
// that names a fixed set of words or something in the ledger. It goes by flag name and
// command path, so a new command with an --account flag completes accounts unasked.
func registerCompletions(root *cobra.Command, f *Factory) {
	words := func(ws ...string) completeFunc {
		return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return ws, cobra.ShellCompDirectiveNoFileComp
		}
	}
	reasons := []string{string(cards.ReasonLost), string(cards.ReasonStolen), string(cards.ReasonFraud), string(cards.ReasonUser), string(cards.ReasonMigrated)}
	functions := make([]string, len(cards.Functions))
	for i, fn := range cards.Functions {
		functions[i] = string(fn)
	}
	var imageTypeNames []string
	for _, t := range strings.Split(imageTypes(), ", ") {
		imageTypeNames = append(imageTypeNames, strings.TrimSpace(t))
	}
	flags := map[string]completeFunc{
		"account":       f.completeAccounts(""),
		"payer":         f.completeAccounts(store.AccountPerson),
		"payee":         f.completeAccounts(store.AccountMerchant),
		"merchant":      f.completeAccounts(store.AccountMerchant),
		"card":          f.completeCards,
		"payment-token": f.completeTokens,
		"tag":           f.completeTags,
		"from":          f.completeDevices,
		"to":            f.completeDevices,
		"functions":     completeList(functions),
		"type":          words(imageTypeNames...),
		"personality":   words(string(emu.ACR122), string(emu.Part3)),
		"role":          words(string(store.RoleAdmin), string(store.RoleMerchant), string(store.RolePayer)),
		"kind":          words(string(store.AccountPerson), string(store.AccountMerchant)),
		"status":        words(string(orders.OrderCreated), string(orders.OrderPaid), string(orders.OrderRefunded), string(orders.OrderCancelled)),
		"format":        words("json", "flipper"),
	}
	args := map[string]completeFunc{
		"account show": f.completeAccounts(""), "account fund": f.completeAccounts(""),
		"card show": f.completeCards, "card activate": f.completeCards, "card deactivate": f.completeCards,
		"token show": f.completeTokens, "token suspend": f.completeTokens, "token resume": f.completeTokens, "token delete": f.completeTokens,
		"order show": f.completeOrders, "order pay": f.completeOrders, "order refund": f.completeOrders, "order cancel": f.completeOrders,
		"tag show": f.completeTags, "tag revoke": f.completeTags,
		"key revoke": f.completeKeys, "key rotate": f.completeKeys,
	}
	_ = root.RegisterFlagCompletionFunc("output", words(FormatTable, FormatJSON))
	_ = root.RegisterFlagCompletionFunc("reader", f.completeReaders)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := strings.TrimPrefix(c.CommandPath(), root.Name()+" ")
		for name, fn := range flags {
			if c.LocalNonPersistentFlags().Lookup(name) == nil {
				continue
			}
			_ = c.RegisterFlagCompletionFunc(name, fn)
		}
		if c.Parent() != nil && c.Parent().Name() == "token" && c.Flags().Lookup("reason") != nil {
			_ = c.RegisterFlagCompletionFunc("reason", words(reasons...))
		}
		if fn, ok := args[path]; ok && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = firstArg(fn)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// firstArg completes only the first positional argument.
func firstArg(fn completeFunc) completeFunc {
	return func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return fn(c, args, toComplete)
	}
}

// completeList completes a comma-separated list: the words not yet in it, after what
// was already typed.
func completeList(all []string) completeFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		done := ""
		if i := strings.LastIndex(toComplete, ","); i >= 0 {
			done = toComplete[:i+1]
		}
		have := map[string]bool{}
		for _, w := range strings.Split(done, ",") {
			have[w] = true
		}
		var out []string
		for _, w := range all {
			if !have[w] {
				out = append(out, done+w)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}

// withLedger runs fn on the ledger a command would use, read-only: completion must never
// create a ledger, and a failure completes nothing rather than printing an error.
func (f *Factory) withLedger(c *cobra.Command, fn func(ctx context.Context, be backend.Backend) []string) ([]string, cobra.ShellCompDirective) {
	f.readOnly = true
	ctx := c.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	var out []string
	err := withBackend(ctx, f.Backend, func(be backend.Backend) error {
		out = fn(ctx, be)
		return nil
	})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// described is a completion candidate with its description, as cobra shows it.
func described(value, desc string) string {
	desc = strings.TrimSpace(printable(desc))
	if desc == "" {
		return value
	}
	return value + "\t" + desc
}

func (f *Factory) completeAccounts(kind store.AccountKind) completeFunc {
	return func(c *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		return f.withLedger(c, func(ctx context.Context, be backend.Backend) []string {
			as, err := be.ListAccounts(ctx, store.Page{})
			if err != nil {
				return nil
			}
			var out []string
			for _, a := range as {
				if a.Kind == store.AccountWorld || (kind != "" && a.Kind != kind) {
					continue
				}
				out = append(out, described(a.ID, a.Name+" ("+string(a.Kind)+", "+a.Currency+")"))
			}
			return out
		})
	}
}

func (f *Factory) completeCards(c *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	return f.withLedger(c, func(ctx context.Context, be backend.Backend) []string {
		cs, err := be.ListCards(ctx, flagValue(c, "account"), store.Page{})
		if err != nil {
			return nil
		}
		var out []string
		for _, k := range cs {
			out = append(out, described(k.ID, k.Label+" on "+k.Device))
		}
		return out
	})
}

func (f *Factory) completeTokens(c *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	return f.withLedger(c, func(ctx context.Context, be backend.Backend) []string {
		ts, err := be.ListTokens(ctx, flagValue(c, "card"), store.Page{})
		if err != nil {
			return nil
		}
		var out []string
		for _, t := range ts {
			out = append(out, described(t.ID, string(t.Function)+" "+t.Number+" "+string(t.Status)))
		}
		return out
	})
}

func (f *Factory) completeTags(c *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	return f.withLedger(c, func(ctx context.Context, be backend.Backend) []string {
		ts, err := be.ListTags(ctx, orders.TagFilter{})
		if err != nil {
			return nil
		}
		var out []string
		for _, t := range ts {
			out = append(out, described(t.Ref, t.UID+" "+t.Label+" "+string(t.Status)))
		}
		return out
	})
}

func (f *Factory) completeOrders(c *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	return f.withLedger(c, func(ctx context.Context, be backend.Backend) []string {
		os, err := be.ListOrders(ctx, orders.OrderFilter{Limit: 100})
		if err != nil {
			return nil
		}
		var out []string
		for _, o := range os {
			out = append(out, described(o.ID, string(o.Status)+" "+o.Amount.String()))
		}
		return out
	})
}

func (f *Factory) completeKeys(c *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	return f.withLedger(c, func(ctx context.Context, be backend.Backend) []string {
		ks, err := be.ListKeys(ctx, store.Page{})
		if err != nil {
			return nil
		}
		var out []string
		for _, k := range ks {
			if k.Live(time.Now()) {
				out = append(out, described(k.ID, string(k.Role)+" "+k.Account))
			}
		}
		return out
	})
}

// completeDevices offers the devices of --account, which must be given first.
func (f *Factory) completeDevices(c *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	account := flagValue(c, "account")
	if account == "" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return f.withLedger(c, func(ctx context.Context, be backend.Backend) []string {
		ls, err := be.ListLogins(ctx, account)
		if err != nil {
			return nil
		}
		var out []string
		for _, l := range ls {
			out = append(out, described(l.Device, l.DeviceName))
		}
		return out
	})
}

func (f *Factory) completeReaders(c *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	bus, err := nfc.OpenPCSC()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer bus.Close()
	ctx := c.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	states, err := bus.Readers(ctx)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, s := range states {
		out = append(out, s.Name)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func flagValue(c *cobra.Command, name string) string {
	if fl := c.Flags().Lookup(name); fl != nil {
		return fl.Value.String()
	}
	return ""
}
