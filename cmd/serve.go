package cmd

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/api"
	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

// ServeOptions are the flags of `serve`.
type ServeOptions struct {
	IO               *IOStreams
	DB               string
	Addr             string
	TLSCert, TLSKey  string
	BootstrapKeyFile string
	AddrFile         string // hidden: where to write the base URL once listening
	Limits           api.Limits
	MaxConns         int
	TrustedProxies   []netip.Prefix
	Local            backend.LocalOptions
	// Ready, when set, hears the base URL once the server listens (the demo serves
	// in-process on a free port).
	Ready func(baseURL string)
}

func newServeCmd(f *Factory) *cobra.Command {
	opts := &ServeOptions{}
	var idemTTL time.Duration
	var proxies []string
	c := &cobra.Command{
		Use:   "serve [--addr HOST:PORT] [--tls-cert FILE --tls-key FILE] [--bootstrap-admin-key FILE]",
		Short: "Serve the ledger over HTTP/JSON to tagpay clients holding API keys",
		Long: `Serve the ledger (--db: a file, or a postgres:// URL that several replicas may
share) over HTTP/JSON (/v1, described in api/openapi.yaml) until interrupted. GET
/healthz (the process answers) and GET /readyz (its store answers) need no key; every
other request needs an API key (tagpay key create). On SIGINT or SIGTERM the server
stops accepting connections and lets running requests finish.

--bootstrap-admin-key FILE writes a first admin key to FILE (mode 0600) when the ledger
has no key yet; an existing FILE is left alone once the ledger has keys.
One JSON log line per request goes to stderr.`,
		Example: `  tagpay serve --bootstrap-admin-key admin.key
  tagpay serve --addr 0.0.0.0:7433 --tls-cert cert.pem --tls-key key.pem`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			if (opts.TLSCert == "") != (opts.TLSKey == "") {
				return Usagef("--tls-cert and --tls-key go together")
			}
			if opts.TrustedProxies, err = parseProxies(proxies); err != nil {
				return err
			}
			opts.IO, opts.DB = f.IO, cfg.DB
			opts.Local = localOptions(cfg)
			if c.Flags().Changed("idempotency-ttl") {
				opts.Local.Store.IdempotencyTTL = idemTTL
			}
			return runServe(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Addr, "addr", api.DefaultAddr, "address to listen on (port 0: any free port)")
	c.Flags().DurationVar(&idemTTL, "idempotency-ttl", store.DefaultIdempotencyTTL, "how long an idempotency key holds its first answer; older records are pruned hourly (negative: for ever; default: the config key idempotency_ttl, else 24h)")
	c.Flags().StringVar(&opts.TLSCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	c.Flags().StringVar(&opts.TLSKey, "tls-key", "", "private key of --tls-cert (PEM)")
	c.Flags().StringVar(&opts.BootstrapKeyFile, "bootstrap-admin-key", "", "write a first admin key to this file when the ledger has none")
	c.Flags().StringVar(&opts.AddrFile, "addr-file", "", "write the server's base URL to this file once it listens")
	_ = c.Flags().MarkHidden("addr-file")
	c.Flags().Float64Var(&opts.Limits.AuthFailureRate, "auth-failure-rate", api.DefaultAuthFailureRate, "failed authentications allowed per second per client address, after the burst (negative: no limit)")
	c.Flags().IntVar(&opts.Limits.AuthFailureBurst, "auth-failure-burst", api.DefaultAuthFailureBurst, "failed authentications allowed at once per client address")
	c.Flags().Float64Var(&opts.Limits.KeyRate, "key-rate", 0, "requests allowed per second per API key, after the burst (0: no limit)")
	c.Flags().IntVar(&opts.Limits.KeyBurst, "key-burst", 0, "requests allowed at once per API key (with --key-rate; 0: one)")
	c.Flags().IntVar(&opts.MaxConns, "max-conns", api.DefaultMaxConns, "connections open at once; more wait (negative: no cap)")
	c.Flags().StringSliceVar(&proxies, "trusted-proxy", nil, "address or CIDR of a reverse proxy in front of the server, whose X-Forwarded-For names the client (repeatable)")
	return c
}

// parseProxies reads --trusted-proxy values: addresses (one host) or CIDR prefixes.
func parseProxies(values []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range values {
		v = strings.TrimSpace(v)
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, Usagef("--trusted-proxy %q is neither an IP address nor a CIDR prefix such as 10.0.0.0/8", v)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// localOptions are the domain settings of a ledger served from this configuration.
func localOptions(cfg *Config) backend.LocalOptions {
	return backend.LocalOptions{
		Store:  store.Options{KeysPath: cfg.Keys, IdempotencyTTL: cfg.IdempotencyTTL},
		Orders: orders.Config{BaseURL: cfg.BaseURL},
		Cards:  cards.Config{BIN: cfg.TokenBIN},
	}
}

// serveGCPercent is the garbage collector's target while serving, unless GOGC says
// otherwise: every tap allocates its records, and with Go's default of 100 the collector
// took a sixth of the time of the one goroutine that commits; a server's heap is small,
// so four times of it is cheap.
const serveGCPercent = 400

func runServe(ctx context.Context, opts *ServeOptions) error {
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(serveGCPercent))
	}
	local, err := backend.OpenLocal(opts.DB, opts.Local)
	if store.CodeOf(err) == "ledger_in_use" {
		// The store's advice (use --server) is for clients; a server needs the file itself.
		return store.Errorf(store.KindUnavailable, "ledger_in_use", "cannot serve %s: it is in use by another process (another tagpay serve, or a command still running on it); stop that process first", opts.DB)
	}
	if err != nil {
		return err
	}
	defer local.Close()
	log := slog.New(slog.NewJSONHandler(opts.IO.ErrOut, nil))
	if opts.BootstrapKeyFile != "" {
		k, created, err := api.BootstrapAdminKey(ctx, local, opts.BootstrapKeyFile)
		if err != nil {
			return err
		}
		if created {
			log.Info("bootstrap admin key written", slog.String("key", k.ID), slog.String("file", opts.BootstrapKeyFile))
		}
	}
	if n, err := liveKeys(ctx, local); err != nil {
		return err
	} else if n == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "tagpay: warning: ledger %s has no API key, so no request can be authorized; restart with --bootstrap-admin-key FILE to write a first admin key\n", opts.DB)
	}
	return api.Serve(ctx, local, api.ServeConfig{
		Addr:        opts.Addr,
		TLSCertFile: opts.TLSCert,
		TLSKeyFile:  opts.TLSKey,
		Logger:      log,
		Limits:      opts.Limits,
		MaxConns:    opts.MaxConns,
		Proxies:     opts.TrustedProxies,
		Ready: func(baseURL string) {
			// Path, not DB: a database URL's password must not reach the log.
			fmt.Fprintf(opts.IO.ErrOut, "tagpay: serving %s on %s\n", local.Path(), baseURL)
			if opts.Ready != nil {
				opts.Ready(baseURL)
			}
			if opts.AddrFile != "" {
				// Written whole, then renamed: a reader never sees half a URL.
				tmp := opts.AddrFile + ".tmp"
				if err := os.WriteFile(tmp, []byte(baseURL+"\n"), 0o600); err == nil {
					err = os.Rename(tmp, opts.AddrFile)
					if err != nil {
						log.Error("cannot write the address file", slog.String("error", err.Error()))
					}
				}
			}
		},
	})
}

// liveKeys counts the keys of the ledger that are not revoked.
func liveKeys(ctx context.Context, local *backend.Local) (int, error) {
	keys, err := local.DB.ListKeys(store.WithActor(ctx, store.LocalActor), store.Page{})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		if k.Live(time.Now()) {
			n++
		}
	}
	return n, nil
}
