package emu

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// vpcd control messages (vsmartcard's vpcd driver, one byte each).
const (
	vpcdPowerOff = 0x00
	vpcdPowerOn  = 0x01
	vpcdReset    = 0x02
	vpcdGetATR   = 0x04
)

// ServeVPCD puts r's tag into pcscd through the vpcd driver listening at addr (for
// example 127.0.0.1:35963 for "Virtual PCD 00 00", :35964 for "Virtual PCD 00 01").
// The bridge is the card side of vpcd: it connects while r holds a tag and closes the
// connection when the tag leaves (Remove, or Faults.RemoveAfter), which pcscd reports
// as a removal; a later Insert connects again. It returns nil when ctx ends, and an
// error when addr is not a loopback address or the connection fails.
func ServeVPCD(ctx context.Context, addr string, r *Reader) error {
	if err := checkLoopback(addr); err != nil {
		return err
	}
	for {
		t, gen, change := r.state()
		if t == nil {
			select {
			case <-change:
				continue
			case <-ctx.Done():
				return nil
			}
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("emu: connect to vpcd at %s: %w", addr, err)
		}
		err = serveConn(ctx, conn.(*net.TCPConn), r, gen, change)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			return err
		}
	}
}

// checkLoopback refuses any address but a loopback one: vpcd trusts whoever connects.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("emu: vpcd address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("emu: vpcd address %q is not a loopback address", addr)
	}
	return nil
}

// serveConn answers vpcd until the tag of generation gen leaves (nil), ctx ends (nil)
// or the connection fails (an error).
func serveConn(ctx context.Context, conn *net.TCPConn, r *Reader, gen uint64, change <-chan struct{}) error {
	defer conn.Close() // vpcd sees the card leave
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
		case <-change:
		case <-done:
			return
		}
		// Interrupt the read only: an answer being written still goes out, so the
		// last APDU before a removal is answered.
		conn.SetReadDeadline(time.Now())
	}()
	var head [2]byte
	for {
		msg, err := readMessage(conn, head[:])
		if err != nil {
			select {
			case <-change:
				return nil
			case <-ctx.Done():
				return nil
			default:
			}
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("emu: vpcd closed the connection")
			}
			return fmt.Errorf("emu: vpcd connection: %w", err)
		}
		var reply []byte
		switch {
		case len(msg) == 1 && msg[0] == vpcdGetATR:
			reply = r.ATR()
		case len(msg) == 1 && (msg[0] == vpcdPowerOff || msg[0] == vpcdPowerOn || msg[0] == vpcdReset):
			r.powerCycle()
			continue
		case len(msg) <= 1:
			continue // an unknown control: vpcd expects no answer
		default:
			reply, err = r.transmit(gen, msg)
			if err != nil {
				return nil // the tag left: closing the connection tells pcscd
			}
		}
		if err := writeMessage(conn, reply); err != nil {
			return fmt.Errorf("emu: vpcd connection: %w", err)
		}
	}
}

// readMessage reads one length-prefixed vpcd message, acknowledging it at once.
func readMessage(conn *net.TCPConn, head []byte) ([]byte, error) {
	// vpcd writes the length and the payload separately: unless each is acknowledged
	// at once, its second write waits for our delayed-ACK timer (~40 ms an APDU).
	// Linux turns quick ACKs off again by itself, hence once per read.
	if _, err := io.ReadFull(conn, head); err != nil {
		return nil, err
	}
	quickAck(conn)
	msg := make([]byte, binary.BigEndian.Uint16(head))
	if _, err := io.ReadFull(conn, msg); err != nil {
		return nil, err
	}
	quickAck(conn)
	return msg, nil
}

// writeMessage sends the length and the payload in one write, so vpcd never waits
// for the second half.
func writeMessage(conn *net.TCPConn, payload []byte) error {
	if len(payload) > 0xFFFF {
		return fmt.Errorf("answer of %d bytes is too long for vpcd", len(payload))
	}
	buf := make([]byte, 2+len(payload))
	binary.BigEndian.PutUint16(buf, uint16(len(payload)))
	copy(buf[2:], payload)
	_, err := conn.Write(buf)
	return err
}
