// Command tagpay is the tagpay command line; see package cmd.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/tagpay/tagpay/cmd"
)

// Set by the release build: -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
var version, commit, date = "dev", "none", "unknown"

// revision is the commit given by the release build, else the one the go command
// stamped into the binary when it was built from a checkout.
func revision() string {
	if commit != "none" && commit != "" {
		return commit
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "none"
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cmd.Main(ctx, os.Args[1:], cmd.System(), cmd.BuildInfo{Version: version, Commit: revision(), Date: date})
	stop()
	os.Exit(code)
}
