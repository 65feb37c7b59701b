//go:build unix

package cmd

import (
	"os"
	"syscall"
)

// tryLockFile takes an exclusive advisory lock on f without waiting; the kernel drops
// it when the process ends, however it ends.
func tryLockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

func unlockFile(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
