package emu

import (
	"context"
	"fmt"
	"time"
)

// vpcd serves one card per slot and silently queues a second connection until the first
// closes, so two emulators on one slot hand tags to each other's readers. These locks
// are machine-wide (they must not depend on TMPDIR or HOME, which differ between
// processes) and are freed by the kernel when their holder dies.

// LockSlot takes the lock of the vpcd slot listening on port, waiting until it is free
// or ctx ends. Whoever serves a tag in that slot holds it.
func LockSlot(ctx context.Context, port int) (release func(), err error) {
	return waitLock(ctx, fmt.Sprintf("tagpay-vpcd-%d", port))
}

// LockReaders takes the lock that test suites hold while they use the vpcd readers at
// all, waiting until it is free or ctx ends: go test runs packages in parallel, and one
// pcscd per machine means their tags would otherwise land in each other's readers.
func LockReaders(ctx context.Context) (release func(), err error) {
	return waitLock(ctx, "tagpay-vpcd-readers")
}

func waitLock(ctx context.Context, name string) (func(), error) {
	for {
		release, err := tryLock(name)
		if err == nil {
			return release, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s is held by another process: %w", name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
