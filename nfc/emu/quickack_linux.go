package emu

import (
	"net"

	"golang.org/x/sys/unix"
)

// quickAck asks the kernel to acknowledge what was just read without delay.
func quickAck(conn *net.TCPConn) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return
	}
	// Best effort: a failure only costs speed, never correctness.
	_ = raw.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
	})
}
