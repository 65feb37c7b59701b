package cmd

import (
	"context"
	"os"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/cards"
)

// newDeviceCmd is the `device` noun: this installation as a payer's device, and the
// accounts logged in on devices. The global --device flag names another device.
func newDeviceCmd(f *Factory) *cobra.Command {
	c := newGroupCmd("device", "This installation's device identity, and account logins")
	c.AddCommand(newDeviceWhoamiCmd(f), newDeviceLoginCmd(f), newDeviceLogoutCmd(f), newDeviceListCmd(f))
	return c
}

func loginFields(l cards.Login) []Field {
	return []Field{
		{"account", l.Account}, {"device", l.Device}, {"device_name", l.DeviceName},
		{"logged_in", fmtBool(l.LoggedIn)}, {"first_login", fmtTime(l.FirstLogin)},
		{"last_login", fmtTime(l.LastLogin)}, {"last_logout", fmtTimePtr(l.LastLogout)},
	}
}

func loginTable(ls []cards.Login) Table {
	t := Table{Header: []string{"ACCOUNT", "DEVICE", "NAME", "LOGGED IN", "FIRST LOGIN", "LAST LOGIN"}}
	for _, l := range ls {
		t.Rows = append(t.Rows, []string{l.Account, l.Device, l.DeviceName, fmtBool(l.LoggedIn), fmtTime(l.FirstLogin), fmtTime(l.LastLogin)})
	}
	return t
}

// Whoami is `device whoami -o json`.
type Whoami struct {
	Device     string `json:"device"`
	ConfigFile string `json:"config_file"`
}

func newDeviceWhoamiCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Print this installation's device id (made and saved on first use)",
		Example: `  tagpay device whoami
  tagpay device whoami --jq .device`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			env, err := f.Env()
			if err != nil {
				return err
			}
			id, err := f.DeviceID()
			if err != nil {
				return err
			}
			cfg, _ := f.Config()
			w := Whoami{Device: id, ConfigFile: cfg.File}
			return env.Out.Record(w, []Field{{"device", w.Device}, {"config_file", w.ConfigFile}})
		},
	}
}

// DeviceLoginOptions are the flags of `device login`.
type DeviceLoginOptions struct {
	Env
	Account, Device, Name, IdempotencyKey string
}

func newDeviceLoginCmd(f *Factory) *cobra.Command {
	opts := &DeviceLoginOptions{}
	c := &cobra.Command{
		Use:   "login --account ACCOUNT [--name TEXT]",
		Short: "Log an account in on this device (or --device ID)",
		Example: `  tagpay device login --account $PAYER --name laptop
  tagpay --device old-phone device login --account $PAYER --name 'old phone'`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if err := requireFlags(c, "account"); err != nil {
				return err
			}
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			if opts.Device, err = f.DeviceID(); err != nil {
				return err
			}
			if opts.Name == "" && !c.Flags().Changed("device") {
				// This machine's own device: its host name tells it apart in a migration list.
				opts.Name, _ = os.Hostname()
			}
			return runDeviceLogin(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Account, "account", "", "person account to log in")
	c.Flags().StringVar(&opts.Name, "name", "", "name of the device (default: this machine's host name)")
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func runDeviceLogin(ctx context.Context, opts *DeviceLoginOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		l, err := be.Login(ctx, cards.LoginRequest{Account: opts.Account, Device: opts.Device, Name: opts.Name, IdempotencyKey: opts.IdempotencyKey})
		if err != nil {
			return err
		}
		return opts.Out.Record(l, loginFields(l))
	})
}

// DeviceLogoutOptions are the flags of `device logout`.
type DeviceLogoutOptions struct {
	Env
	Account, Device, IdempotencyKey string
}

func newDeviceLogoutCmd(f *Factory) *cobra.Command {
	opts := &DeviceLogoutOptions{}
	c := &cobra.Command{
		Use:   "logout [--account ACCOUNT]",
		Short: "Log out of this device (or --device ID): one account, or all of them",
		Example: `  tagpay device logout --account $PAYER
  tagpay --device old-phone device logout`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			if opts.Device, err = f.DeviceID(); err != nil {
				return err
			}
			return runDeviceLogout(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Account, "account", "", "only this account (default: every account on the device)")
	idempotencyFlag(c, &opts.IdempotencyKey)
	return c
}

func runDeviceLogout(ctx context.Context, opts *DeviceLogoutOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		ls, err := be.Logout(ctx, cards.LogoutRequest{Account: opts.Account, Device: opts.Device, IdempotencyKey: opts.IdempotencyKey})
		if err != nil {
			return err
		}
		return opts.Out.List(orEmpty(ls), loginTable(ls))
	})
}

// DeviceListOptions are the flags of `device list`.
type DeviceListOptions struct {
	Env
	Account string
}

func newDeviceListCmd(f *Factory) *cobra.Command {
	opts := &DeviceListOptions{}
	c := &cobra.Command{
		Use:     "list --account ACCOUNT",
		Short:   "List the devices an account has been logged in on",
		Example: `  tagpay device list --account $PAYER`,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if err := requireFlags(c, "account"); err != nil {
				return err
			}
			if opts.Env, err = f.Env(); err != nil {
				return err
			}
			return runDeviceList(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Account, "account", "", "the account")
	return c
}

func runDeviceList(ctx context.Context, opts *DeviceListOptions) error {
	return withBackend(ctx, opts.Backend, func(be backend.Backend) error {
		ls, err := be.ListLogins(ctx, opts.Account)
		if err != nil {
			return err
		}
		return opts.Out.List(orEmpty(ls), loginTable(ls))
	})
}
