package cmd

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/ndef"
)

// TagWriteOptions are the flags of `tag write`.
type TagWriteOptions struct {
	IO     *IOStreams
	Out    *Printer
	Access TagAccess

	URI, Text, Lang, NDEFHex, Image string
	Lock, Yes                       bool
	Password                        []byte // presented before writing, when given
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
	c := &cobra.Command{
		Use:   "write --uri URI | --text TEXT [--lang en] | --ndef-hex HEX | --image FILE [--lock [--yes]]",
		Short: "Write an NDEF message to the tag, read it back and compare; optionally lock it",
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
	waitFlag(c, &wait)
	return c
}

// message is the NDEF message the flags describe.
func (opts *TagWriteOptions) message() ([]byte, error) {
	var rec ndef.Record
	switch {
	case opts.URI != "":
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
	// Ask before touching the tag: a script must have answered with --yes.
	if opts.Lock && !opts.Yes {
		ok, err := confirm(opts.IO, "Lock the tag? It becomes read-only for ever", "--yes")
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("not confirmed; nothing was written")
		}
	}
	t, err := opts.Access.open(ctx)
	if err != nil {
		return err
	}
	defer t.Close()
	if err := authenticate(t, opts.Password); err != nil {
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
