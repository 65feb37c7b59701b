// Command tagpay is the tagpay command line; see package cmd.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tagpay/tagpay/cmd"
)

// Set by the release build: -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
var version, commit, date = "dev", "none", "unknown"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cmd.Main(ctx, os.Args[1:], cmd.System(), cmd.BuildInfo{Version: version, Commit: commit, Date: date})
	stop()
	os.Exit(code)
}
