package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/emu"
	"github.com/tagpay/tagpay/nfc/ndef"
)

// TagReadOptions are the flags of `tag read`.
type TagReadOptions struct {
	IO       *IOStreams
	Out      *Printer
	Access   TagAccess
	Password []byte // presented before reading, when given
	// FromLedger, when set, fetches the tag's own password instead.
	FromLedger ledgerPassword
	// Image, when set, is a tag image file read in place of the reader's tag.
	Image string
}

// TagReadResult is `tag read -o json`: the tag's identity, capacity and lock state, its
// NDEF message and records, and how many APDUs the read took.
type TagReadResult struct {
	Reader string `json:"reader"`
	*nfc.Info
	NDEF      nfc.HexBytes      `json:"ndef"`
	Records   []ndef.RecordInfo `json:"records"`
	NDEFError string            `json:"ndef_error,omitempty"`
	APDUs     int               `json:"apdus"`
	Millis    float64           `json:"ms"`
}

func newTagReadCmd(f *Factory) *cobra.Command {
	opts := &TagReadOptions{}
	var wait time.Duration
	var fromLedger func() (ledgerPassword, error)
	c := &cobra.Command{
		Use:   "read",
		Short: "Read the tag on the reader: UID, IC, capacity, lock state and NDEF records",
		Long: `Read the tag on the reader: its UID, IC type, capacity, lock state, password
protection and NDEF records. The number of APDUs the read took is printed on stderr (and
is in -o json).

With --image FILE, the tag an image describes (tagpay JSON, Flipper .nfc or a Proxmark3
dump) is read instead, on an in-memory reader, exactly as the reader's tag would be.`,
		Example: `  tagpay tag image new --type ntag215 --uri https://example.org/menu -f menu.json
  tagpay tag read --image menu.json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			opts.IO = f.IO
			if opts.Out, err = f.Printer(); err != nil {
				return err
			}
			if opts.Access, err = tagAccess(f, wait); err != nil {
				return err
			}
			if opts.Image != "" && c.Flags().Changed("reader") {
				return Usagef("--image reads the image, not a reader's tag: drop --reader")
			}
			if opts.FromLedger, err = fromLedger(); err != nil {
				return err
			}
			return runTagRead(c.Context(), opts)
		},
	}
	passwordFlag(c, &opts.Password, "the tag's password, for a read-protected tag (4 bytes of hex)")
	fromLedger = ledgerPasswordFlag(c, f)
	waitFlag(c, &wait)
	c.Flags().StringVar(&opts.Image, "image", "", "read the tag a tag image describes (tagpay JSON, Flipper .nfc or Proxmark3 dump) instead of the reader's")
	return c
}

func runTagRead(ctx context.Context, opts *TagReadOptions) error {
	if opts.Image != "" {
		img, err := loadImage(opts.Image)
		if err != nil {
			return err
		}
		v, err := placeVirtualTag(ctx, img, emu.Part3, nil, 0, time.Second)
		if err != nil {
			return err
		}
		defer v.Stop()
		opts.Access.OpenBus, opts.Access.Reader = v.Access.OpenBus, v.Access.Reader
	}
	t, err := opts.Access.open(ctx)
	if err != nil {
		return err
	}
	defer t.Close()
	if err := authenticate(ctx, t, opts.Password, opts.FromLedger); err != nil {
		return err
	}
	res, readErr := readTag(t)
	if res == nil {
		return readErr
	}
	// Both figures include identification: everything this command asked of the tag,
	// from the moment it was found.
	res.Millis = float64(time.Since(t.start).Microseconds()) / 1000
	res.APDUs = t.apdus()
	if err := opts.Out.Record(res, tagReadFields(res)); err != nil {
		return err
	}
	if !opts.Out.JSONOutput() {
		fmt.Fprintf(opts.IO.ErrOut, "%d APDUs in %.1f ms\n", res.APDUs, res.Millis)
	}
	return readErr
}

// readTag gathers what `tag read` shows. A message that cannot be read still leaves the
// rest of the result, and the error says why.
func readTag(t *openedTag) (*TagReadResult, error) {
	info, err := t.Info()
	if err != nil {
		return nil, err
	}
	res := &TagReadResult{Reader: t.Reader, Info: info, Records: []ndef.RecordInfo{}}
	msg, err := t.ReadNDEF()
	switch {
	case errors.Is(err, nfc.ErrTagRemoved):
		return nil, err
	case err != nil:
		res.NDEFError = err.Error()
		return res, fmt.Errorf("reading the NDEF message: %w", err)
	}
	res.NDEF = msg
	if len(msg) == 0 {
		return res, nil
	}
	m, err := ndef.Decode(msg)
	if err != nil {
		res.NDEFError = err.Error()
		return res, fmt.Errorf("%w: the NDEF message is malformed: %v", nfc.ErrTagDamaged, err)
	}
	res.Records = ndef.Describe(m)
	return res, nil
}

func tagReadFields(r *TagReadResult) []Field {
	fs := []Field{
		{"reader", r.Reader}, {"uid", fmt.Sprintf("%X", []byte(r.UID))}, {"type", string(r.Type)}, {"ic", r.Name},
		{"personality", r.Personality},
		{"capacity", fmt.Sprintf("%d bytes (largest message %d bytes)", r.Capacity, r.MaxMessage)},
		{"lock", r.Lock},
	}
	if r.Password != nil {
		fs = append(fs, Field{"password", describePassword(r.Password)})
	}
	switch {
	case r.NDEFError != "":
		fs = append(fs, Field{"ndef", "unreadable: " + r.NDEFError})
	case len(r.NDEF) == 0:
		fs = append(fs, Field{"ndef", "empty"})
	default:
		fs = append(fs, Field{"ndef", fmt.Sprintf("%d bytes, %d record(s)", len(r.NDEF), len(r.Records))})
	}
	for _, rec := range r.Records {
		fs = append(fs, Field{"record " + strconv.Itoa(rec.Index), describeRecord(rec)})
	}
	return fs
}

func describePassword(p *nfc.PasswordInfo) string {
	switch {
	case !p.Readable:
		return "configuration read-protected"
	case !p.Enabled:
		return "none"
	case p.ReadProtect:
		return fmt.Sprintf("protects reads and writes from page %d", p.FromPage)
	}
	return fmt.Sprintf("protects writes from page %d", p.FromPage)
}

// describeRecord is one record in a line: its kind and what it says.
func describeRecord(r ndef.RecordInfo) string {
	kind := r.TNF
	if r.Type != "" {
		kind += " " + r.Type
	}
	switch {
	case r.URI != "":
		return kind + ": " + r.URI
	case r.Text != "":
		return fmt.Sprintf("%s: %q (%s)", kind, r.Text, r.Lang)
	case r.Error != "":
		return kind + ": " + r.Error
	}
	return fmt.Sprintf("%s: %d bytes %s", kind, len(r.PayloadHex)/2, r.PayloadHex)
}

// Image file formats.
const (
	imageJSON     = "json"
	imageFlipper  = "flipper"
	imageProxmark = nfc.ImageProxmark
)

// imageFormat is the format named by --format, else the one -f's extension implies.
func imageFormat(format, file string) (string, error) {
	switch strings.ToLower(format) {
	case imageJSON, imageFlipper, imageProxmark:
		return strings.ToLower(format), nil
	case "":
		if strings.EqualFold(filepath.Ext(file), ".nfc") {
			return imageFlipper, nil
		}
		return imageJSON, nil
	}
	return "", Usagef("--format %q: want json or flipper (or proxmark, a Proxmark3 dump)", format)
}

// formatImage writes img in the given format.
func formatImage(img *nfc.Image, format string) ([]byte, error) {
	if format == imageFlipper {
		b, err := nfc.FormatFlipper(img)
		if errors.Is(err, nfc.ErrFlipperNo424) {
			return nil, &UsageError{Err: fmt.Errorf("--format flipper: %w; use --format json (tagpay's JSON image) instead", err)}
		}
		if err != nil {
			return nil, &UsageError{Err: fmt.Errorf("--format flipper: %w", err)}
		}
		return b, nil
	}
	if format == imageProxmark {
		b, err := nfc.FormatProxmark(img)
		if err != nil {
			return nil, &UsageError{Err: fmt.Errorf("--format proxmark: %w", err)}
		}
		return b, nil
	}
	return nfc.FormatImageJSON(img)
}

// writeImage writes img in format to file, or to out when file is empty.
func writeImage(out io.Writer, img *nfc.Image, format, file string) error {
	b, err := formatImage(img, format)
	if err != nil {
		return err
	}
	if file == "" {
		_, err = out.Write(b)
		return err
	}
	return writeFileWhole(file, b)
}

// writeFileWhole writes b to file through a temporary file beside it, so that a write
// cut short never leaves a partial image under the name asked for.
func writeFileWhole(file string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return fmt.Errorf("writing the image: %w", err)
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("writing the image: %w", err)
	}
	return nil
}

// loadImage reads a tag image (nfc.LoadImage) for a command's --image: a file that is
// not one is a usage error, with the same message for every command.
func loadImage(path string) (*nfc.Image, error) {
	img, err := nfc.LoadImage(path)
	if err != nil {
		return nil, Usagef("%v", err)
	}
	return img, nil
}

// imageMessage is the NDEF message an image holds: a Type 4 image's NDEF file, or the
// NDEF TLV in a Type 2 image's user pages.
func imageMessage(img *nfc.Image, path string) ([]byte, error) {
	if len(img.Pages) == 0 {
		return img.NDEF, nil
	}
	var user []byte
	for _, p := range img.Pages[min(4, len(img.Pages)):] {
		user = append(user, p...)
	}
	msg, err := nfc.ParseNDEFTLV(user)
	if err != nil {
		return nil, Usagef("tag image %s: %v", path, err)
	}
	return msg, nil
}

// TagDumpOptions are the flags of `tag dump`.
type TagDumpOptions struct {
	IO       *IOStreams
	Access   TagAccess
	File     string
	Format   string
	Password []byte // presented before reading, when given
	// FromLedger, when set, fetches the tag's own password instead.
	FromLedger ledgerPassword
}

func newTagDumpCmd(f *Factory) *cobra.Command {
	opts := &TagDumpOptions{}
	var wait time.Duration
	var fromLedger func() (ledgerPassword, error)
	c := &cobra.Command{
		Use:   "dump [-f FILE] [--format json|flipper]",
		Short: "Read the whole tag into an image file (tagpay JSON or Flipper .nfc)",
		Long: `Read the whole memory of the tag on the reader into an image: tagpay's JSON (the
default) or a Flipper Zero .nfc file (--format flipper, or a FILE ending in .nfc). The
image goes to FILE, or to stdout. Passwords read as zeros.`,
		Example: `  tagpay tag dump -f sticker.json
  tagpay tag dump --format flipper > sticker.nfc`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			if opts.Format, err = imageFormat(opts.Format, opts.File); err != nil {
				return err
			}
			opts.IO = f.IO
			if opts.Access, err = tagAccess(f, wait); err != nil {
				return err
			}
			if opts.FromLedger, err = fromLedger(); err != nil {
				return err
			}
			return runTagDump(c.Context(), opts)
		},
	}
	c.Flags().StringVarP(&opts.File, "file", "f", "", "write the image to FILE (default: stdout)")
	c.Flags().StringVar(&opts.Format, "format", "", "image format: json, flipper or proxmark (default: from FILE's extension, else json)")
	passwordFlag(c, &opts.Password, "the tag's password, for a read-protected tag (4 bytes of hex)")
	fromLedger = ledgerPasswordFlag(c, f)
	waitFlag(c, &wait)
	return c
}

func runTagDump(ctx context.Context, opts *TagDumpOptions) error {
	t, err := opts.Access.open(ctx)
	if err != nil {
		return err
	}
	defer t.Close()
	if err := authenticate(ctx, t, opts.Password, opts.FromLedger); err != nil {
		return err
	}
	img, err := t.Dump()
	if err != nil {
		return err
	}
	if err := writeImage(opts.IO.Out, img, opts.Format, opts.File); err != nil || opts.File == "" {
		return err
	}
	size := fmt.Sprintf("%d pages", len(img.Pages))
	if len(img.Pages) == 0 {
		size = fmt.Sprintf("%d-byte NDEF message", len(img.NDEF))
	}
	if n := len(img.Unreadable); n > 0 {
		size += fmt.Sprintf(", %d unreadable without the password", n)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Wrote the %s %X (%s, %d APDUs) to %s\n", t.Name, t.UID, size, t.APDUs.APDUs(), opts.File)
	return nil
}
