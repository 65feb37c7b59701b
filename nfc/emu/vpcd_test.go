package emu

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/tagpay/tagpay/nfc"
)

// fakeVPCD plays vpcd's side of the socket: it listens, and the emulator connects.
type fakeVPCD struct {
	t  *testing.T
	ln net.Listener
}

func newFakeVPCD(t *testing.T) *fakeVPCD {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &fakeVPCD{t: t, ln: ln}
}

func (v *fakeVPCD) accept() net.Conn {
	v.t.Helper()
	c, err := v.ln.Accept()
	if err != nil {
		v.t.Fatal(err)
	}
	v.t.Cleanup(func() { c.Close() })
	return c
}

func send(t *testing.T, c net.Conn, msg []byte) {
	t.Helper()
	buf := binary.BigEndian.AppendUint16(nil, uint16(len(msg)))
	// vpcd writes the length and the payload separately; so does the fake.
	if _, err := c.Write(buf); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
}

func recv(c net.Conn) ([]byte, error) {
	var head [2]byte
	if _, err := io.ReadFull(c, head[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(head[:]))
	_, err := io.ReadFull(c, msg)
	return msg, err
}

func roundTrip(t *testing.T, c net.Conn, msg []byte) string {
	t.Helper()
	send(t, c, msg)
	resp, err := recv(c)
	if err != nil {
		t.Fatalf("answer to %X: %v", msg, err)
	}
	return fmt.Sprintf("%X", resp)
}

// expectClosed checks that the emulator closed the socket.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	if msg, err := recv(c); !errors.Is(err, io.EOF) {
		t.Fatalf("socket still open: read %X, %v", msg, err)
	}
}

func TestServeVPCD(t *testing.T) {
	v := newFakeVPCD(t)
	r := NewReader("Virtual PCD 00 00", ACR122)
	tag := newTestTag(t, blankImage(t, nfc.TypeNTAG213))
	r.Insert(tag, Faults{RemoveAfter: 3})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ServeVPCD(ctx, v.ln.Addr().String(), r) }()

	c := v.accept()
	send(t, c, []byte{vpcdPowerOff}) // controls get no answer
	send(t, c, []byte{vpcdPowerOn})
	send(t, c, []byte{vpcdReset})
	if got := roundTrip(t, c, []byte{vpcdGetATR}); got != "3B8F8001804F0CA0000003060300030000000068" {
		t.Errorf("ATR = %s", got)
	}
	if got := roundTrip(t, c, mustHex("FFCA000000")); got != "04515CFA6F7381"+ok {
		t.Errorf("GET UID = %s", got)
	}
	if got := roundTrip(t, c, mustHex("FFD6000504CAFEBABE")); got != ok {
		t.Errorf("UPDATE BINARY = %s", got)
	}
	// The third APDU is answered, then the tag leaves and the socket closes.
	if got := roundTrip(t, c, mustHex("FFB0000504")); got != "CAFEBABE"+ok {
		t.Errorf("READ BINARY = %s", got)
	}
	expectClosed(t, c)

	// A new tap connects again.
	r.Insert(tag, Faults{})
	c = v.accept()
	if got := roundTrip(t, c, mustHex("FFB0000504")); got != "CAFEBABE"+ok {
		t.Errorf("READ BINARY after the new tap = %s", got)
	}
	r.Remove()
	expectClosed(t, c)

	r.Insert(tag, Faults{})
	c = v.accept()
	cancel()
	expectClosed(t, c)
	if err := <-served; err != nil {
		t.Errorf("ServeVPCD after cancel: %v", err)
	}
}

func TestServeVPCDWaitsForATag(t *testing.T) {
	v := newFakeVPCD(t)
	r := NewReader("Virtual PCD 00 01", Part3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ServeVPCD(ctx, v.ln.Addr().String(), r)
	r.Insert(newTestTag(t, &nfc.Image{Type: nfc.TypeNTAG424DNA, UID: testUID}), Faults{})
	c := v.accept()
	if got := roundTrip(t, c, []byte{vpcdGetATR}); got != "3B8180018080" {
		t.Errorf("ATR = %s", got)
	}
	if got := roundTrip(t, c, mustHex("00A4040007D276000085010100")); got != ok {
		t.Errorf("SELECT = %s", got)
	}
}

func TestServeVPCDErrors(t *testing.T) {
	r := NewReader("Virtual PCD 00 00", ACR122)
	r.Insert(newTestTag(t, blankImage(t, nfc.TypeNTAG213)), Faults{})
	for _, addr := range []string{"192.0.2.1:35963", "example.com:35963", "35963", "0.0.0.0:35963"} {
		if err := ServeVPCD(context.Background(), addr, r); err == nil {
			t.Errorf("ServeVPCD(%q) accepted a non-loopback address", addr)
		}
	}

	// Nothing listening: the dial fails and says so.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if err := ServeVPCD(context.Background(), addr, r); err == nil {
		t.Error("ServeVPCD with nothing listening returned nil")
	}

	// vpcd going away is an error too.
	v := newFakeVPCD(t)
	served := make(chan error, 1)
	go func() { served <- ServeVPCD(context.Background(), v.ln.Addr().String(), r) }()
	c := v.accept()
	c.Close()
	if err := <-served; err == nil {
		t.Error("ServeVPCD returned nil when vpcd closed the connection")
	}
}
