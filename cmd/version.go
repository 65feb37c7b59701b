package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
)

func versionLine(b BuildInfo) string {
	return fmt.Sprintf("tagpay %s (commit %s, built %s)", b.Version, b.Commit, b.Date)
}

func newVersionCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			p, err := f.Printer()
			if err != nil {
				return err
			}
			if p.JSONOutput() {
				return p.JSON(f.Build)
			}
			_, err = fmt.Fprintln(f.IO.Out, versionLine(f.Build))
			return err
		},
	}
}
