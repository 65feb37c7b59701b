package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/itchyny/gojq"
	"github.com/spf13/pflag"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/store"
)

// BuildInfo is what the release build stamped into the binary.
type BuildInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Date    string `json:"date"`
}

// BackendFunc opens the ledger backend; the returned func releases it. Commands hold one
// in their options so that tests can hand them a fake.
type BackendFunc func(ctx context.Context) (backend.Backend, func() error, error)

// Factory hands commands what they share: streams, configuration, the backend. Everything
// is built lazily, so `tagpay version` never opens a ledger.
type Factory struct {
	IO    *IOStreams
	Build BuildInfo

	// OpenLocal opens a ledger file; Dial makes a client of a tagpay server.
	OpenLocal func(ctx context.Context, path string) (backend.Backend, func() error, error)
	Dial      func(server, token string) (backend.Backend, error)

	flags    *pflag.FlagSet // the root's persistent flags, bound into the configuration
	readOnly bool           // the command only reads: never create a ledger file

	jq *gojq.Code // the compiled --jq, once

	cfgOnce sync.Once
	loader  *configLoader
	cfg     *Config
	cfgErr  error

	mu      sync.Mutex
	backend backend.Backend
	release func() error
}

// NewFactory returns a Factory with the real local ledger and server client.
func NewFactory(streams *IOStreams, build BuildInfo) *Factory {
	f := &Factory{IO: streams, Build: build}
	f.OpenLocal, f.Dial = f.openLocal, f.dialServer
	return f
}

// Config returns the effective configuration, loading it on first use.
func (f *Factory) Config() (*Config, error) {
	f.cfgOnce.Do(func() {
		flags := f.flags
		if flags == nil {
			flags = pflag.NewFlagSet("tagpay", pflag.ContinueOnError)
		}
		f.loader, f.cfg, f.cfgErr = loadConfig(flags)
		if f.cfgErr == nil {
			for _, k := range f.loader.unknown {
				fmt.Fprintf(f.IO.ErrOut, "tagpay: warning: config file %s: unknown key %q is ignored\n", f.loader.file, k)
			}
		}
	})
	return f.cfg, f.cfgErr
}

// Printer renders command output in the configured format; --jq implies JSON.
func (f *Factory) Printer() (*Printer, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	expr := f.jqExpr()
	if expr == "" {
		return NewPrinter(f.IO, cfg.Output), nil
	}
	if cfg.Output == FormatTable && f.loader.source(settingOf("output")) == SourceFlag {
		return nil, Usagef("--jq filters JSON output; drop -o table")
	}
	if f.jq == nil {
		if f.jq, err = compileJQ(expr); err != nil {
			return nil, err
		}
	}
	p := NewPrinter(f.IO, FormatJSON)
	p.JQ = f.jq
	return p, nil
}

func (f *Factory) jqExpr() string {
	if f.flags == nil {
		return ""
	}
	if fl := f.flags.Lookup("jq"); fl != nil && fl.Changed {
		return fl.Value.String()
	}
	return ""
}

// errorsAsJSON reports whether an error should be printed as JSON: -o json or --jq,
// even when the configuration itself failed to load.
func (f *Factory) errorsAsJSON() bool {
	if f.jqExpr() != "" {
		return true
	}
	if f.cfg != nil {
		return f.cfg.Output == FormatJSON
	}
	out := os.Getenv(envName("output"))
	if f.flags != nil {
		if fl := f.flags.Lookup("output"); fl != nil && fl.Changed {
			out = fl.Value.String()
		}
	}
	return strings.EqualFold(strings.TrimSpace(out), FormatJSON)
}

// Backend opens the ledger: the server's when --server is set, else the local file. It
// is opened once per invocation; the release func is safe to call more than once, and
// Close releases it at exit in any case.
func (f *Factory) Backend(ctx context.Context) (backend.Backend, func() error, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.backend != nil {
		return f.backend, f.Close, nil
	}
	if cfg.Server != "" {
		if f.Dial == nil {
			return nil, nil, errors.New("this build cannot reach a tagpay server")
		}
		be, err := f.Dial(cfg.Server, cfg.Token)
		if err != nil {
			return nil, nil, err
		}
		f.backend, f.release = be, func() error { return nil }
		return be, f.Close, nil
	}
	be, release, err := f.OpenLocal(ctx, cfg.DB)
	if err != nil {
		return nil, nil, err
	}
	f.backend, f.release = be, release
	return be, f.Close, nil
}

// BackendFunc is Backend as a value for command options.
func (f *Factory) BackendFunc() BackendFunc { return f.Backend }

// Close releases the backend if one was opened.
func (f *Factory) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.release == nil {
		return nil
	}
	err := f.release()
	f.backend, f.release = nil, nil
	return err
}

// DeviceID is this installation's device id: --device, TAGPAY_DEVICE_ID or the config
// file's device.id; on first use a new id is made and saved in the config file.
func (f *Factory) DeviceID() (string, error) {
	cfg, err := f.Config()
	if err != nil {
		return "", err
	}
	if cfg.Device.ID != "" {
		if !cards.ValidDeviceID(cfg.Device.ID) {
			return "", Usagef("device id %q is not a device id (1 to 64 of A-Z a-z 0-9 . _ : -)", cfg.Device.ID)
		}
		return cfg.Device.ID, nil
	}
	id := store.NewID(store.PrefixDevice)
	if err := saveConfigValue(cfg.File, "device.id", id); err != nil {
		return "", err
	}
	cfg.Device.ID = id
	return id, nil
}

// Env is what every run function receives besides its own flags: the streams, the
// printer of the configured format, and the backend opener. Tests build one by hand.
type Env struct {
	IO      *IOStreams
	Out     *Printer
	Backend BackendFunc
}

// Env resolves the configuration and returns the Env of a command.
func (f *Factory) Env() (Env, error) {
	p, err := f.Printer()
	if err != nil {
		return Env{}, err
	}
	return Env{IO: f.IO, Out: p, Backend: f.Backend}, nil
}
