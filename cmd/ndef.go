package cmd

import (
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/nfc/ndef"
)

func newNDEFCmd(f *Factory) *cobra.Command {
	c := newGroupCmd("ndef", "Decode and encode NDEF messages")
	c.AddCommand(newNDEFDecodeCmd(f), newNDEFEncodeCmd(f))
	return c
}

// NDEFDecodeOptions are the arguments of `ndef decode`.
type NDEFDecodeOptions struct {
	IO  *IOStreams
	Out *Printer
	Hex string // "-": read standard input
}

func newNDEFDecodeCmd(f *Factory) *cobra.Command {
	opts := &NDEFDecodeOptions{}
	return &cobra.Command{
		Use:   "decode HEX|-",
		Short: "Decode an NDEF message given in hex (or on stdin with -)",
		Long: `Decode an NDEF message given in hex, or read from standard input with -. Chunked
records are joined; a malformed message is refused naming the record and field. -o json
lists the records with tnf, type, id, payload_hex and the decoded text or URI.`,
		Example: `  tagpay ndef decode D1010D55047461677061792E6578616D706C65
  tagpay tag dump | jq -r .ndef | tagpay ndef decode -`,
		Args: exactArgs(1, "an NDEF message in hex, or - for standard input"),
		RunE: func(c *cobra.Command, args []string) (err error) {
			opts.Hex = args[0]
			opts.IO = f.IO
			if opts.Out, err = f.Printer(); err != nil {
				return err
			}
			return runNDEFDecode(opts)
		},
	}
}

func runNDEFDecode(opts *NDEFDecodeOptions) error {
	text := opts.Hex
	if text == "-" {
		b, err := io.ReadAll(opts.IO.In)
		if err != nil {
			return fmt.Errorf("reading standard input: %w", err)
		}
		text = string(b)
	}
	msg, err := parseNDEFHex(text, "NDEF message")
	if err != nil {
		return err
	}
	m, err := ndef.Decode(msg)
	if err != nil {
		return Usagef("NDEF message: %v", err)
	}
	infos := ndef.Describe(m)
	t := Table{Header: []string{"#", "TNF", "TYPE", "ID", "CONTENT"}}
	for _, r := range infos {
		content := r.URI
		switch {
		case r.Text != "":
			content = fmt.Sprintf("%q (%s)", r.Text, r.Lang)
		case r.URI != "":
		case r.Error != "":
			content = r.Error
		default:
			content = r.PayloadHex
		}
		t.Rows = append(t.Rows, []string{strconv.Itoa(r.Index), r.TNF, r.Type, r.ID, content})
	}
	return opts.Out.List(infos, t)
}

// NDEFEncodeOptions are the flags of `ndef encode`.
type NDEFEncodeOptions struct {
	IO                 *IOStreams
	Out                *Printer
	URI, Text, Lang    string
	MIME, Data         string // Data: a file, or - for standard input
	textSet, uriSet    bool
	mimeSet, dataGiven bool
}

// EncodedNDEF is `ndef encode -o json`.
type EncodedNDEF struct {
	Hex   string `json:"hex"`
	Bytes int    `json:"bytes"`
}

func newNDEFEncodeCmd(f *Factory) *cobra.Command {
	opts := &NDEFEncodeOptions{}
	c := &cobra.Command{
		Use:   "encode --uri URI | --text TEXT [--lang en] | --mime TYPE --data FILE",
		Short: "Encode a one-record NDEF message and print it in hex",
		Long: `Encode an NDEF message of one record, in its shortest valid form, and print it in
upper-case hex: a URI record (with the longest URI prefix abbreviated), a UTF-8 text
record, or a MIME record whose payload is read from FILE (- for standard input).`,
		Example: `  tagpay ndef encode --uri https://tagpay.example
  tagpay ndef encode --text Hello --lang en
  tagpay ndef encode --mime application/json --data card.json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) (err error) {
			fl := c.Flags()
			opts.uriSet, opts.textSet, opts.mimeSet, opts.dataGiven = fl.Changed("uri"), fl.Changed("text"), fl.Changed("mime"), fl.Changed("data")
			n := 0
			for _, set := range []bool{opts.uriSet, opts.textSet, opts.mimeSet} {
				if set {
					n++
				}
			}
			switch {
			case n != 1:
				return Usagef("ndef encode needs exactly one of --uri, --text, --mime")
			case opts.mimeSet != opts.dataGiven:
				return Usagef("--mime and --data go together")
			case fl.Changed("lang") && !opts.textSet:
				return Usagef("--lang goes with --text")
			}
			opts.IO = f.IO
			if opts.Out, err = f.Printer(); err != nil {
				return err
			}
			return runNDEFEncode(opts)
		},
	}
	fl := c.Flags()
	fl.StringVar(&opts.URI, "uri", "", "a URI record")
	fl.StringVar(&opts.Text, "text", "", "a text record")
	fl.StringVar(&opts.Lang, "lang", "en", "language of --text (IANA code)")
	fl.StringVar(&opts.MIME, "mime", "", "a MIME record of this media type")
	fl.StringVar(&opts.Data, "data", "", "payload of the MIME record: a file, or - for standard input")
	return c
}

func runNDEFEncode(opts *NDEFEncodeOptions) error {
	var rec ndef.Record
	switch {
	case opts.uriSet:
		rec = ndef.NewURI(opts.URI)
	case opts.textSet:
		r, err := ndef.NewText(opts.Text, opts.Lang)
		if err != nil {
			return Usagef("--text: %v", err)
		}
		rec = r
	default:
		var data []byte
		var err error
		if opts.Data == "-" {
			data, err = io.ReadAll(opts.IO.In)
		} else {
			data, err = os.ReadFile(opts.Data)
		}
		if err != nil {
			return Usagef("--data: %v", err)
		}
		rec = ndef.NewMIME(opts.MIME, data)
	}
	msg, err := ndef.Encode(ndef.Message{rec})
	if err != nil {
		return Usagef("%v", err)
	}
	h := fmt.Sprintf("%X", msg)
	if opts.Out.JSONOutput() {
		return opts.Out.JSON(EncodedNDEF{Hex: h, Bytes: len(msg)})
	}
	_, err = fmt.Fprintln(opts.IO.Out, h)
	return err
}
