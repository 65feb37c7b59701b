package emu

import (
	"net"
	"sync"
)

// tryLock listens on a socket in Linux's abstract namespace: one per machine whatever
// the environment, released by the kernel however the holder ends.
func tryLock(name string) (func(), error) {
	l, err := net.Listen("unix", "@"+name)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { l.Close() }) }, nil
}
