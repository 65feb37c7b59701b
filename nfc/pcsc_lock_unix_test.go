//go:build cgo && !nopcsc && unix

package nfc_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// lockVPCD holds an exclusive lock on the shared vpcd reader until the test ends:
// one machine has one pcscd, and test runs of several checkouts (or `go test ./...`
// next to a single-package run) would otherwise put tags into the same reader.
func lockVPCD(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "tagpay-vpcd.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("vpcd lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("vpcd lock: %v", err)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
}
