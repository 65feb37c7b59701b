//go:build !unix

package cmd

import "os"

// tryLockFile does nothing where flock is missing: vpcd, which the lock guards, runs
// on Linux and macOS.
func tryLockFile(*os.File) error { return nil }

func unlockFile(*os.File) {}
