package cmd

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/ndef"
)

func newTagImageCmd(f *Factory) *cobra.Command {
	c := newGroupCmd("image", "Make tag images (tagpay JSON or Flipper .nfc)")
	c.AddCommand(newTagImageNewCmd(f))
	return c
}

// TagImageNewOptions are the flags of `tag image new`.
type TagImageNewOptions struct {
	IO        *IOStreams
	Type      nfc.TagType
	UID       []byte // nil: a random NXP UID
	URI       string
	File      string
	Format    string
	Signature []byte // an originality signature to give the image
}

func newTagImageNewCmd(f *Factory) *cobra.Command {
	opts := &TagImageNewOptions{}
	var typ, uid, sig string
	c := &cobra.Command{
		Use:   "new --type TYPE [--uid HEX] [--uri URI] [-f FILE] [--format json|flipper]",
		Short: "Make the image of a tag fresh from the factory, optionally holding a URI",
		Long: `Make the image of a tag fresh from the factory: UID and check bytes, capability
container, no lock bits, no password, and optionally an NDEF URI record. Types: ` + imageTypes() + `.
Without --uid the UID is random (NXP manufacturer byte 04). Emulate it with
tag emulate, or write its message to a real tag with tag write --image.`,
		Example: `  tagpay tag image new --type ntag213 --uri https://pay.example/t/abc -f sticker.json
  tagpay tag image new --type ntag215 --uid 04A1B2C3D4E5F6 --format flipper > sticker.nfc`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if err := requireFlags(c, "type"); err != nil {
				return err
			}
			opts.Type = nfc.TagType(strings.ToLower(typ))
			if _, ok := nfc.LayoutOf(opts.Type); !ok && opts.Type != nfc.TypeNTAG424DNA {
				return Usagef("--type %q: want one of %s", typ, imageTypes())
			}
			if uid != "" {
				if opts.UID, err = hex.DecodeString(strings.NewReplacer(" ", "", ":", "").Replace(uid)); err != nil || len(opts.UID) != 7 {
					return Usagef("--uid %q: want 7 bytes of hex (14 digits)", uid)
				}
			}
			if opts.Format, err = imageFormat(opts.Format, opts.File); err != nil {
				return err
			}
			if sig != "" {
				if opts.Signature, err = hex.DecodeString(strings.TrimSpace(sig)); err != nil {
					return Usagef("--signature: not hex: %v", err)
				}
			}
			opts.IO = f.IO
			return runTagImageNew(opts)
		},
	}
	fl := c.Flags()
	fl.StringVar(&typ, "type", "", "IC: "+imageTypes())
	fl.StringVar(&uid, "uid", "", "7-byte UID in hex (default: random)")
	fl.StringVar(&opts.URI, "uri", "", "an NDEF URI record to hold")
	fl.StringVar(&sig, "signature", "", "the originality signature the tag answers READ_SIG with (hex; only NXP can make a genuine one)")
	fl.StringVarP(&opts.File, "file", "f", "", "write the image to FILE (default: stdout)")
	fl.StringVar(&opts.Format, "format", "", "image format: json, flipper or proxmark (default: from FILE's extension, else json)")
	return c
}

// imageTypes lists the types `tag image new` makes.
func imageTypes() string {
	var names []string
	seen := map[nfc.TagType]bool{}
	for _, l := range nfc.Layouts() {
		if !seen[l.Type] {
			seen[l.Type] = true
			names = append(names, string(l.Type))
		}
	}
	return strings.Join(append(names, string(nfc.TypeNTAG424DNA)), ", ")
}

func runTagImageNew(opts *TagImageNewOptions) error {
	var msg []byte
	if opts.URI != "" {
		var err error
		if msg, err = ndef.Encode(ndef.Message{ndef.NewURI(opts.URI)}); err != nil {
			return Usagef("--uri: %v", err)
		}
	}
	img, err := nfc.NewImage(opts.Type, opts.UID, msg)
	if err != nil {
		return Usagef("%v", err)
	}
	if opts.Signature != nil {
		if img.Signature = opts.Signature; img.Validate() != nil {
			return Usagef("--signature: %v", img.Validate())
		}
	}
	if err := writeImage(opts.IO.Out, img, opts.Format, opts.File); err != nil || opts.File == "" {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Wrote a new %s image, UID %X, to %s\n", img.Type, []byte(img.UID), opts.File)
	return nil
}
