package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/api/loadgen"
)

// newBenchCmd is the hidden `bench` noun: load generation for scripts/bench and the
// crash tests, not an everyday command.
func newBenchCmd(f *Factory) *cobra.Command {
	c := newGroupCmd("bench", "Load generation against a tagpay server on this machine")
	c.Hidden = true
	c.AddCommand(newBenchPayCmd(f))
	return c
}

// BenchPayOptions are the flags of `bench pay`.
type BenchPayOptions struct {
	IO       *IOStreams
	Out      *Printer
	Config   loadgen.Config
	Progress bool // show a bar on a terminal
}

// BenchPayResult is `bench pay -o json`: the load generator's result with the
// durations also in milliseconds, for people and spreadsheets.
type BenchPayResult struct {
	loadgen.Result
	ElapsedSeconds float64 `json:"elapsed_s"`
	P50Millis      float64 `json:"p50_ms"`
	P99Millis      float64 `json:"p99_ms"`
	MaxMillis      float64 `json:"max_ms"`
}

func newBenchPayCmd(f *Factory) *cobra.Command {
	opts := &BenchPayOptions{}
	c := &cobra.Command{
		Use:   "pay --server URL --token ADMIN_KEY [--clients 16] [--count 1000] [--duration 1m]",
		Short: "Run whole payments (payment request, order, payment) from concurrent clients",
		Long: `Run whole payments through a tagpay server from concurrent clients and report
payments per second with p50 and p99 latency of one payment. The run makes its own
merchant, tag and one funded payer per client (so the key must be an admin's), and ends
after --count payments or --duration, whichever comes first. Only servers on the
loopback interface are accepted.`,
		Example: "  tagpay --server http://127.0.0.1:7433 --token \"$(cat admin.key)\" bench pay --clients 16 --count 5000 -o json",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			if cfg.Server == "" {
				return Usagef("bench pay needs --server (or TAGPAY_SERVER): the load generator only drives a server")
			}
			if opts.Out, err = f.Printer(); err != nil {
				return err
			}
			opts.IO = f.IO
			opts.Config.Server, opts.Config.Token = cfg.Server, cfg.Token
			opts.Progress = f.IO.IsStdoutTTY()
			return runBenchPay(c.Context(), opts)
		},
	}
	c.Flags().IntVar(&opts.Config.Clients, "clients", 16, fmt.Sprintf("concurrent clients (1 to %d)", loadgen.MaxClients))
	c.Flags().IntVar(&opts.Config.Payments, "count", 1000, fmt.Sprintf("payments to make in all (1 to %d)", loadgen.MaxPayments))
	c.Flags().StringSliceVar(&opts.Config.Replicas, "replica", nil, "another server of the same ledger (repeatable); the clients spread over --server and these")
	c.Flags().DurationVar(&opts.Config.Duration, "duration", time.Minute, fmt.Sprintf("longest run (up to %s)", loadgen.MaxDuration))
	return c
}

func runBenchPay(ctx context.Context, opts *BenchPayOptions) error {
	cfg := opts.Config
	if opts.Progress {
		bar := progressbar.NewOptions(cfg.Payments,
			progressbar.OptionSetWriter(opts.IO.ErrOut),
			progressbar.OptionSetDescription("paying"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionEnableColorCodes(opts.IO.ColorEnabled()),
		)
		cfg.Progress = func(int) { bar.Add(1) }
		defer func() { bar.Finish(); fmt.Fprintln(opts.IO.ErrOut) }()
	}
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	view := BenchPayResult{Result: res, ElapsedSeconds: res.Elapsed.Seconds(), P50Millis: ms(res.P50), P99Millis: ms(res.P99), MaxMillis: ms(res.Max)}
	fields := []Field{
		{"clients", fmt.Sprint(res.Clients)},
		{"payments", fmt.Sprint(res.Payments)},
		{"failed", fmt.Sprint(res.Failed)},
		{"elapsed", res.Elapsed.Round(time.Millisecond).String()},
		{"payments/s", fmt.Sprintf("%.1f", res.PerSecond)},
		{"p50", fmt.Sprintf("%.2f ms", view.P50Millis)},
		{"p99", fmt.Sprintf("%.2f ms", view.P99Millis)},
		{"max", fmt.Sprintf("%.2f ms", view.MaxMillis)},
	}
	if res.FirstError != "" {
		fields = append(fields, Field{"first error", res.FirstError})
	}
	if err := opts.Out.Record(view, fields); err != nil {
		return err
	}
	if res.Failed > 0 {
		return &ExitFailure{Code: ExitError, Message: fmt.Sprintf("%d of %d payments failed; first: %s", res.Failed, res.Failed+res.Payments, res.FirstError)}
	}
	return nil
}
