//go:build !linux

package emu

import (
	"os"
	"path/filepath"
	"sync"
)

// tryLock creates a file in the temporary folder, exclusively. vpcd runs on Linux, so
// elsewhere this only keeps one user's emulators apart; a file left by a crash goes at
// the next reboot at the latest.
func tryLock(name string) (func(), error) {
	path := filepath.Join(os.TempDir(), name+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	f.Close()
	var once sync.Once
	return func() { once.Do(func() { os.Remove(path) }) }, nil
}
