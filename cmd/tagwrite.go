package cmd

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/ndef"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

// TagWriteOptions are the flags of `tag write`.
type TagWriteOptions struct {
	IO     *IOStreams
	Out    *Printer
	Access TagAccess

	URI, Text, Lang, NDEFHex, Image string
	Lock, Yes, Force                bool
	Password                        []byte // presented before writing, when given
	// FromLedger, when set, fetches the tag's own password instead.
	FromLedger ledgerPassword
	// Backend, unless --force, is asked whether the tag is registered and active.
	Backend BackendFunc
}

// TagWriteResult is `tag write -o json`.
type TagWriteResult struct {
	Reader string       `json:"reader"`
	UID    nfc.HexBytes `json:"uid"`
	Type   nfc.TagType  `json:"type"`
	Bytes  int          `json:"bytes"` // size of the NDEF message written
	Locked bool         `json:"locked"`
	APDUs  int          `json:"apdus"`
}

func newTagWriteCmd(f *Factory) *cobra.Command {
	opts := &TagWriteOptions{}
	var wait time.Duration
	var fromLedger func() (ledgerPassword, error)
	c := &cobra.Command{
		// It asks the ledger whether the tag is registered, and must not create one.
		Annotations: map[string]string{annotationReadOnly: ""},
		Use:         "write --uri URI | --text TEXT [--lang en] | --ndef-hex HEX | --image FILE [--lock [--yes]]",
		Short:       "Write an NDEF message to the tag, read it back and compare; optionally lock it",
		Long: `Write an NDEF message to the tag on the reader: a URI, a text, raw NDEF bytes in hex,
or the message held by a tag image (tagpay JSON or Flipper .nfc). The message is read back
and compared. A message that does not fit is refused before anything is written.

--lock then makes the tag permanently read-only. It cannot be undone, so it asks for
confirmation on a terminal; --yes answers it for scripts.

A tag taken away part way leaves a damaged message: the command exits 6 and names the
pages that were written; write again.`,
		Example: `  tagpay tag write --uri https://pay.example/t/abc
  tagpay tag write --text "Table 4" --lang en
  tagpay tag write --image sticker.json --lock --yes`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			n := 0
			for _, name := range []string{"uri", "text", "ndef-hex", "image"} {
				if c.Flags().Changed(name) {
					n++
				}
			}
			if n != 1 {
				return Usagef("tag write needs exactly one of --uri, --text, --ndef-hex, --image")
			}
			if c.Flags().Changed("lang") && !c.Flags().Changed("text") {
				return Usagef("--lang goes with --text")
			}
			opts.IO = f.IO
			if opts.Out, err = f.Printer(); err != nil {
				return err
			}
			if opts.Access, err = tagAccess(f, wait); err != nil {
				return err
			}
			if opts.FromLedger, err = fromLedger(); err != nil {
				return err
			}
			if !opts.Force {
				opts.Backend = f.Backend
			}
			return runTagWrite(c.Context(), opts)
		},
	}
	fl := c.Flags()
	fl.StringVar(&opts.URI, "uri", "", "write a URI record")
	fl.StringVar(&opts.Text, "text", "", "write a text record")
	fl.StringVar(&opts.Lang, "lang", "en", "language of --text (IANA code)")
	fl.StringVar(&opts.NDEFHex, "ndef-hex", "", "write this NDEF message, in hex")
	fl.StringVar(&opts.Image, "image", "", "write the NDEF message of this tag image")
	fl.BoolVar(&opts.Lock, "lock", false, "make the tag permanently read-only after writing")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "lock without asking for confirmation")
	passwordFlag(c, &opts.Password, "the tag's password, for a password-protected tag (4 bytes of hex)")
	fromLedger = ledgerPasswordFlag(c, f)
	fl.BoolVar(&opts.Force, "force", false, "write even over a tag that is registered and active in the ledger")
	waitFlag(c, &wait)
	return c
}

// message is the NDEF message the flags describe.
func (opts *TagWriteOptions) message() ([]byte, error) {
	var rec ndef.Record
	switch {
	case opts.URI != "":
		if err := checkURI(opts.URI); err != nil {
			return nil, err
		}
		rec = ndef.NewURI(opts.URI)
	case opts.Text != "":
		r, err := ndef.NewText(opts.Text, opts.Lang)
		if err != nil {
			return nil, Usagef("--text: %v", err)
		}
		rec = r
	case opts.NDEFHex != "":
		return parseNDEFHex(opts.NDEFHex, "--ndef-hex")
	case opts.Image != "":
		img, err := loadImage(opts.Image)
		if err != nil {
			return nil, err
		}
		return imageMessage(img, opts.Image)
	default:
		return nil, Usagef("nothing to write")
	}
	msg, err := ndef.Encode(ndef.Message{rec})
	if err != nil {
		return nil, Usagef("encoding the record: %v", err)
	}
	return msg, nil
}

// parseNDEFHex reads an NDEF message typed in hex (spaces and colons allowed) and
// checks that it is one.
func parseNDEFHex(s, what string) ([]byte, error) {
	clean := strings.NewReplacer(" ", "", ":", "", "\n", "", "\t", "").Replace(strings.TrimSpace(s))
	msg, err := hex.DecodeString(clean)
	if err != nil {
		return nil, Usagef("%s: not hex: %v", what, err)
	}
	if _, err := ndef.Decode(msg); err != nil {
		return nil, Usagef("%s: not an NDEF message: %v", what, err)
	}
	return msg, nil
}

func runTagWrite(ctx context.Context, opts *TagWriteOptions) error {
	msg, err := opts.message()
	if err != nil {
		return err
	}
	// A script must have answered the lock question before the tag is touched.
	if opts.Lock && !opts.Yes && !opts.IO.CanPrompt() {
		return Usagef("locking needs a confirmation and there is no terminal to ask on; pass --yes")
	}
	t, err := opts.Access.open(ctx)
	if err != nil {
		return err
	}
	defer t.Close()
	uid := fmt.Sprintf("%X", []byte(t.UID))
	if err := refuseRegistered(ctx, opts.Backend, uid); err != nil {
		return err
	}
	if opts.Lock && !opts.Yes {
		ok, err := confirm(opts.IO, fmt.Sprintf("Lock tag %s (%s)? It becomes read-only for ever", uid, t.Name), "--yes")
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("not confirmed; nothing was written")
		}
	}
	if err := authenticate(ctx, t, opts.Password, opts.FromLedger); err != nil {
		return err
	}
	res, err := writeTag(t, msg, opts.Lock)
	if err != nil {
		return err
	}
	return opts.Out.Record(res, []Field{
		{"reader", res.Reader}, {"uid", fmt.Sprintf("%X", []byte(res.UID))}, {"type", string(res.Type)},
		{"written", fmt.Sprintf("%d bytes, read back and compared", res.Bytes)},
		{"locked", fmtBool(res.Locked)}, {"apdus", fmt.Sprint(res.APDUs)},
	})
}

// refuseRegistered refuses to overwrite a tag the ledger holds as registered and
// active: its payments would break. --force skips the question (open is nil).
func refuseRegistered(ctx context.Context, open BackendFunc, uid string) error {
	if open == nil {
		return nil
	}
	err := withBackend(ctx, open, func(be backend.Backend) error {
		in, err := be.InspectTag(ctx, orders.PaymentRequest{UID: uid})
		if err != nil {
			return fmt.Errorf("asking the ledger whether tag %s is registered: %w (--force writes without asking)", uid, err)
		}
		if in.Registered && in.Status == orders.TagActive {
			return store.Errorf(store.KindConflict, "tag_registered", "tag %s is registered as %s and active: writing it would break its payments; revoke it first, or pass --force", uid, in.Ref)
		}
		return nil
	})
	if store.CodeOf(err) == "ledger_not_found" {
		return nil // where there is no ledger, no tag is registered
	}
	return err
}

// checkURI refuses a --uri that is not a URI: it needs a scheme, and no spaces or
// control characters.
func checkURI(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7F }) {
		return Usagef("--uri %q is not a URI (it needs a scheme such as https: and no spaces)", s)
	}
	return nil
}

// writeTag writes msg (WriteNDEF reads it back and compares) and locks the tag when
// asked.
func writeTag(t *openedTag, msg []byte, lock bool) (*TagWriteResult, error) {
	if err := t.WriteNDEF(msg, nfc.WriteOptions{}); err != nil {
		return nil, writeError(err)
	}
	res := &TagWriteResult{Reader: t.Reader, UID: t.UID, Type: t.Type, Bytes: len(msg)}
	if lock {
		if err := t.Lock(); err != nil {
			return nil, fmt.Errorf("the message was written but locking failed: %w", err)
		}
		res.Locked = true
	}
	res.APDUs = t.APDUs.APDUs()
	return res, nil
}

// writeError explains a failed write: a message too large is the caller's mistake
// (usage), a torn write keeps its page list (exit 6).
func writeError(err error) error {
	var tooLarge *nfc.TooLargeError
	if errors.As(err, &tooLarge) {
		return &UsageError{Err: err}
	}
	return err
}
