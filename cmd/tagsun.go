package cmd

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tagpay/tagpay/nfc"
)

// TagVerifySUNOptions are the arguments of `tag verify-sun`.
type TagVerifySUNOptions struct {
	Out              *Printer
	URL              string
	MetaKey, FileKey []byte
}

// SUNVerdict is `tag verify-sun -o json`. UID and counter come from the URL and mean
// nothing unless valid.
type SUNVerdict struct {
	URL      string       `json:"url"`
	UID      nfc.HexBytes `json:"uid"`
	Counter  uint32       `json:"counter"`
	FileData nfc.HexBytes `json:"file_data,omitempty"`
	Valid    bool         `json:"valid"`
	Error    string       `json:"error,omitempty"`
}

func newTagVerifySUNCmd(f *Factory) *cobra.Command {
	opts := &TagVerifySUNOptions{}
	var metaKey, fileKey string
	c := &cobra.Command{
		Use:   "verify-sun URL --meta-key HEX --file-key HEX",
		Short: "Check the SUN message of an NTAG 424 DNA URL: UID, read counter, file data, MAC",
		Long: `Decrypt and check the SUN message in a URL an NTAG 424 DNA produced (AES mode): the
PICC data (e or picc_data) under the meta read key, the optional encrypted file data
(enc), and the MAC (c or cmac) under the file read key; plain mirroring (uid and ctr) is
accepted too. Prints the UID, the read counter, the file data if any, and whether the
URL is valid. Exits 5 when it is not.`,
		Example: `  tagpay tag verify-sun 'https://pay.example/s/abc?e=EF96…&c=94EE…' --meta-key 00…00 --file-key 00…00`,
		Args:    exactArgs(1, "one URL"),
		RunE: func(c *cobra.Command, args []string) (err error) {
			if err := requireFlags(c, "meta-key", "file-key"); err != nil {
				return err
			}
			opts.URL = args[0]
			if opts.MetaKey, err = aesKeyFlag("--meta-key", metaKey); err != nil {
				return err
			}
			if opts.FileKey, err = aesKeyFlag("--file-key", fileKey); err != nil {
				return err
			}
			if opts.Out, err = f.Printer(); err != nil {
				return err
			}
			return runTagVerifySUN(opts)
		},
	}
	c.Flags().StringVar(&metaKey, "meta-key", "", "SDM meta read key (AES-128, hex)")
	c.Flags().StringVar(&fileKey, "file-key", "", "SDM file read key (AES-128, hex)")
	return c
}

func runTagVerifySUN(opts *TagVerifySUNOptions) error {
	res, err := nfc.VerifySUN(opts.URL, opts.MetaKey, opts.FileKey)
	if errors.Is(err, nfc.ErrNotSUN) {
		return Usagef("%v", err)
	}
	v := SUNVerdict{URL: opts.URL, UID: res.UID, Counter: res.Counter, FileData: res.FileData, Valid: err == nil && res.Valid}
	if err != nil {
		v.Error = err.Error()
	}
	fields := []Field{{"uid", fmt.Sprintf("%X", res.UID)}, {"counter", fmt.Sprint(res.Counter)}}
	if len(res.FileData) > 0 {
		fields = append(fields, Field{"file_data", fmt.Sprintf("%X (%q)", res.FileData, printableASCII(res.FileData))})
	}
	fields = append(fields, Field{"valid", fmtBool(v.Valid)})
	if err := opts.Out.Record(v, fields); err != nil {
		return err
	}
	switch {
	case err != nil:
		return &ExitFailure{Code: ExitDeclined, Message: "SUN message invalid: " + err.Error()}
	case !v.Valid:
		return &ExitFailure{Code: ExitDeclined, Message: "SUN message invalid: the MAC does not verify with these keys (wrong keys, or a forged or altered URL)"}
	}
	return nil
}

// printableASCII shows bytes as text, with a dot for anything unprintable.
func printableASCII(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7E {
			c = '.'
		}
		out[i] = c
	}
	return string(out)
}
