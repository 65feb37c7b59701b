package cmd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/orders"
)

// TagProtectOptions are the flags of `tag protect`.
type TagProtectOptions struct {
	Out    *Printer
	Access TagAccess

	Password, PACK []byte // nil: random
	FromPage       int
	ReadProtect    bool
	AuthLimit      int
}

// TagProtectResult is `tag protect -o json` and `tag unprotect -o json`: what the tag's
// configuration reads back after the change.
type TagProtectResult struct {
	Reader     string           `json:"reader"`
	UID        nfc.HexBytes     `json:"uid"`
	Type       nfc.TagType      `json:"type"`
	Password   nfc.HexBytes     `json:"password,omitempty"`
	PACK       nfc.HexBytes     `json:"pack,omitempty"`
	Protection nfc.PasswordInfo `json:"protection"`
}

func newTagProtectCmd(f *Factory) *cobra.Command {
	opts := &TagProtectOptions{}
	var wait time.Duration
	c := &cobra.Command{
		Use:   "protect [--password HEX8 --pack HEX4] [--from-page N] [--read-protect] [--auth-limit N]",
		Short: "Guard an NTAG21x or Ultralight EV1 tag with a password (PWD_AUTH)",
		Long: `Set the tag's 32-bit password (PWD), the 16-bit acknowledge it answers with (PACK),
the first page it guards (AUTH0, by default page 4: the whole user memory) and whether
reads need the password too (--read-protect; by default only writes do). --auth-limit N
makes the tag refuse the password for good after N failed attempts (1 to 7; 0, the
default, allows any number): its guarded pages can then never be written again.

Without --password and --pack both are random, and printed: keep them, the tag cannot be
changed without them. A tag already protected is unlocked with --password first. The
configuration is read back and the new password presented once to prove it landed.`,
		Example: `  tagpay tag protect --password 1A2B3C4D --pack 9F00
  tagpay tag protect --password 1A2B3C4D --pack 9F00 --from-page 16 --read-protect --auth-limit 5`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if (opts.Password == nil) != (opts.PACK == nil) {
				return Usagef("--password and --pack go together")
			}
			if opts.FromPage < 4 || opts.FromPage > 0xFF {
				return Usagef("--from-page %d: protection starts at page 4 (the first user page) or later", opts.FromPage)
			}
			if opts.AuthLimit < 0 || opts.AuthLimit > nfc.MaxAuthLimit {
				return Usagef("--auth-limit %d: want 0 (no limit) to %d", opts.AuthLimit, nfc.MaxAuthLimit)
			}
			if opts.Out, err = f.Printer(); err != nil {
				return err
			}
			if opts.Access, err = tagAccess(f, wait); err != nil {
				return err
			}
			return runTagProtect(c.Context(), opts)
		},
	}
	fl := c.Flags()
	passwordFlag(c, &opts.Password, "the password to set (4 bytes of hex; default: random)")
	fl.Var(&hexFlag{dst: &opts.PACK, size: 2}, "pack", "the acknowledge the tag answers a right password with (2 bytes of hex; default: random)")
	fl.IntVar(&opts.FromPage, "from-page", 4, "first page the password guards (AUTH0)")
	fl.BoolVar(&opts.ReadProtect, "read-protect", false, "reads need the password too, not only writes")
	fl.IntVar(&opts.AuthLimit, "auth-limit", 0, "failed attempts after which the tag refuses the password for ever (0: no limit)")
	waitFlag(c, &wait)
	return c
}

func runTagProtect(ctx context.Context, opts *TagProtectOptions) error {
	pwd, pack := opts.Password, opts.PACK
	if pwd == nil {
		pwd, pack = make([]byte, 4), make([]byte, 2)
		if _, err := rand.Read(pwd); err != nil {
			return fmt.Errorf("random password: %w", err)
		}
		if _, err := rand.Read(pack); err != nil {
			return fmt.Errorf("random PACK: %w", err)
		}
	}
	t, err := opts.Access.open(ctx)
	if err != nil {
		return err
	}
	defer t.Close()
	cur, err := t.Password()
	if err != nil {
		return err
	}
	if cur.Supported && cur.Enabled && opts.Password != nil {
		// Changing the settings of a protected tag: the password given is its own.
		if err := t.Authenticate(opts.Password, nil); err != nil {
			return fmt.Errorf("the tag is already protected: %w", err)
		}
	}
	err = t.SetPassword(nfc.PasswordConfig{Password: pwd, PACK: pack, FromPage: opts.FromPage, ReadProtect: opts.ReadProtect, AuthLimit: opts.AuthLimit})
	if err != nil {
		return err
	}
	return printProtection(opts.Out, t, pwd, pack)
}

// TagUnprotectOptions are the flags of `tag unprotect`.
type TagUnprotectOptions struct {
	Out      *Printer
	Access   TagAccess
	Password []byte
}

func newTagUnprotectCmd(f *Factory) *cobra.Command {
	opts := &TagUnprotectOptions{}
	var wait time.Duration
	c := &cobra.Command{
		Use:   "unprotect --password HEX8",
		Short: "Remove a tag's password protection",
		Long: `Present the tag's password, then turn its protection off (AUTH0 past the last page,
no read protection, no attempt limit) and put the factory password FFFFFFFF and PACK 0000
back. The configuration is read back.`,
		Example: `  tagpay tag unprotect --password 1A2B3C4D`,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if err := requireFlags(c, "password"); err != nil {
				return err
			}
			if opts.Out, err = f.Printer(); err != nil {
				return err
			}
			if opts.Access, err = tagAccess(f, wait); err != nil {
				return err
			}
			return runTagUnprotect(c.Context(), opts)
		},
	}
	passwordFlag(c, &opts.Password, "the tag's password (4 bytes of hex)")
	waitFlag(c, &wait)
	return c
}

func runTagUnprotect(ctx context.Context, opts *TagUnprotectOptions) error {
	t, err := opts.Access.open(ctx)
	if err != nil {
		return err
	}
	defer t.Close()
	if err := t.Authenticate(opts.Password, nil); err != nil {
		return err
	}
	if err := t.RemovePassword(); err != nil {
		return err
	}
	return printProtection(opts.Out, t, nil, nil)
}

// printProtection reads the protection back from the tag and prints it.
func printProtection(out *Printer, t *openedTag, pwd, pack []byte) error {
	pw, err := t.Password()
	if err != nil {
		return fmt.Errorf("read back the protection: %w", err)
	}
	res := &TagProtectResult{Reader: t.Reader, UID: t.UID, Type: t.Type, Password: pwd, PACK: pack, Protection: pw}
	fs := []Field{{"reader", res.Reader}, {"uid", fmt.Sprintf("%X", []byte(res.UID))}, {"type", string(res.Type)}}
	if pwd != nil {
		fs = append(fs, Field{"password", fmt.Sprintf("%X", pwd)}, Field{"pack", fmt.Sprintf("%X", pack)})
	}
	fs = append(fs, Field{"protection", describePassword(&pw)})
	if pw.Enabled && pw.Readable {
		limit := "none"
		if pw.AuthLimit > 0 {
			limit = fmt.Sprintf("%d failed attempts", pw.AuthLimit)
		}
		fs = append(fs, Field{"auth limit", limit})
	}
	return out.Record(res, fs)
}

// passwordFlag adds --password, a tag's 4-byte PWD_AUTH password in hex, to a reader
// command.
func passwordFlag(c *cobra.Command, dst *[]byte, usage string) {
	c.Flags().Var(&hexFlag{dst: dst, size: 4}, "password", usage)
}

// authenticate presents pwd to the tag when one was given (`--password`), or the
// sticker's own password fetched from the ledger (`--ledger-password`), so that what
// follows may read and write its protected pages.
func authenticate(ctx context.Context, t *openedTag, pwd []byte, fromLedger ledgerPassword) error {
	if fromLedger != nil {
		var err error
		if pwd, err = fromLedger(ctx, fmt.Sprintf("%X", []byte(t.UID))); err != nil {
			return err
		}
	}
	if pwd == nil {
		return nil
	}
	return t.Authenticate(pwd, nil)
}

// ledgerPassword fetches the password the ledger derived for the sticker with uid.
type ledgerPassword func(ctx context.Context, uid string) ([]byte, error)

// ledgerPasswordFlag adds --ledger-password; the returned function gives the fetcher
// once flags are parsed, or nil when the flag is off. The password is never printed.
func ledgerPasswordFlag(c *cobra.Command, f *Factory) func() (ledgerPassword, error) {
	var on bool
	c.Flags().BoolVar(&on, "ledger-password", false, "authenticate with the tag's own password, fetched from the ledger (tags provisioned with --protect)")
	return func() (ledgerPassword, error) {
		if !on {
			return nil, nil
		}
		if c.Flags().Changed("password") {
			return nil, Usagef("give --password or --ledger-password, not both")
		}
		return func(ctx context.Context, uid string) (pwd []byte, err error) {
			err = withBackend(ctx, f.Backend, func(be backend.Backend) error {
				s, err := be.TagSecrets(ctx, orders.TagSecretsRequest{Tag: uid})
				if err != nil {
					return err
				}
				if pwd, err = hex.DecodeString(s.Password); err != nil || len(pwd) != 4 {
					return fmt.Errorf("the ledger holds no password for tag %s", uid)
				}
				return nil
			})
			return pwd, err
		}, nil
	}
}

// hexFlag is a flag holding exactly size bytes written in hex; a bad value is a usage
// error raised by flag parsing, before any tag is touched.
type hexFlag struct {
	dst  *[]byte
	size int
}

func (h *hexFlag) String() string {
	if h.dst == nil || *h.dst == nil {
		return ""
	}
	return fmt.Sprintf("%X", *h.dst)
}

func (h *hexFlag) Set(s string) error {
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", ":", "").Replace(strings.TrimSpace(s)))
	if err != nil || len(b) != h.size {
		return fmt.Errorf("want %d bytes of hex (%d digits)", h.size, 2*h.size)
	}
	*h.dst = b
	return nil
}

func (h *hexFlag) Type() string { return fmt.Sprintf("HEX%d", 2*h.size) }
