// Command mangen writes a man page for every tagpay command into the folder given as its
// argument. It lives outside cmd/tagpay so the binary does not carry the man generator.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra/doc"

	"github.com/tagpay/tagpay/cmd"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mangen DIR")
		os.Exit(2)
	}
	root := cmd.NewRootCmd(cmd.NewFactory(cmd.System(), cmd.BuildInfo{Version: "dev"}))
	root.DisableAutoGenTag = true
	header := &doc.GenManHeader{Title: "TAGPAY", Section: "1", Source: "tagpay"}
	if err := doc.GenManTree(root, header, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "mangen:", err)
		os.Exit(1)
	}
}
