package emu

import (
	"fmt"
	"sync"
	"time"

	"github.com/tagpay/tagpay/nfc"
)

// Personality is the kind of PC/SC reader emulated: which pseudo-APDUs it answers and
// how it reports a tag's failures.
//
// Both personalities answer GET UID (FF CA 00 00 Le: the UID, or 6C <len> when Le is
// too short), READ BINARY (FF B0 00 <page> Le) and UPDATE BINARY (FF D6 00 <page> 04
// <4 bytes>, one page) on Type 2 tags; a tag's NAK becomes 63 00, an unknown FF
// command 6A 81, an APDU of another class sent to a Type 2 tag 63 00 (the reader passed
// it on and the tag did not answer). APDUs of other classes go to a Type 4 tag as they
// are. An NTAG 424 DNA behind either native channel takes its native commands (answer:
// status byte, then data) or whole ISO APDUs (answer: the R-APDU), with the ISO-DEP
// block framing left out.
type Personality string

// ACR122 is an ACR122U: READ BINARY returns at most 16 bytes (Le 00 means 16) and native
// frames go through its PN532: FF 00 00 00 Lc D4 42 <frame> (InCommunicateThru, answer
// D5 43 <status> <data> 90 00) or D4 40 01 <frame> (InDataExchange, D5 41 ...). Status 00
// carries the tag's bytes (a 4-bit ACK as the byte 0A); a NAK or no answer is status 01
// (timeout) with no data. Other PN532 commands answer 63 00.
const ACR122 Personality = "acr122"

// Part3 is a PC/SC Part 3 reader such as the ACR1252U. READ BINARY returns up to 240
// bytes (Le 00 means 16; the reader reads 4 pages at a time and fails with 63 00 past
// the last page). Native frames go through a transparent session, FF C2 00 00 Lc with
// data objects 81 00 (start), 82 00 (end), 83 00 (RF off), 84 00 (RF on), 5F46 (timer,
// ignored); answer C0 03 00 90 00, 90 00. Exchange FF C2 00 01 Lc 95 <len> <frame> [00],
// only inside a session, answers
//
//	C0 03 00 90 00 [92 01 04] 96 02 00 00 97 <len> <tag bytes> 90 00
//
// where 92 01 04 marks a 4-bit answer (ACK 0A or NAK). When the tag stays silent the
// answer is C0 03 01 64 01 90 00 (the reader worked, the tag did not answer). Commands
// the reader refuses carry the error twice, in C0 and as status word: a bad data object
// n gives C0 03 n 6A 81 6A 81, an exchange outside a session C0 03 00 69 86 69 86.
const Part3 Personality = "part3"

const (
	acr122MaxRead = 16
	part3MaxRead  = 0xF0
)

// Faults makes a tag misbehave, to test how reader code copes.
type Faults struct {
	RemoveAfter int           // the tag leaves the field after this many APDUs (0 = never)
	FailAfter   int           // from this APDU on, every answer is 63 00 (0 = never)
	Delay       time.Duration // added before each answer
}

// Reader is an emulated PC/SC reader holding at most one tag. It is safe for concurrent
// use.
type Reader struct {
	name string
	p    Personality

	mu       sync.Mutex
	tag      *Tag
	faults   Faults
	apdus    int  // APDUs since the tag came
	left     bool // a tag was here and left, none came since
	session  bool // Part 3 transparent session open
	rfOff    bool // Part 3 session switched the field off
	gen      uint64
	changeCh chan struct{} // closed, then replaced, when a tag comes or goes
}

// NewReader returns an empty reader.
func NewReader(name string, p Personality) *Reader {
	return &Reader{name: name, p: p, changeCh: make(chan struct{})}
}

// Insert puts t in the field (replacing any tag there) and powers it up; f applies to
// this insertion only.
func (r *Reader) Insert(t *Tag, f Faults) {
	if t == nil {
		r.Remove()
		return
	}
	t.powerOn()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tag, r.faults, r.apdus, r.left = t, f, 0, false
	r.session, r.rfOff = false, false
	r.changed()
}

// Remove takes the tag out of the field, if there is one.
func (r *Reader) Remove() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.detach()
}

func (r *Reader) detach() {
	if r.tag == nil {
		return
	}
	r.tag, r.left = nil, true
	r.session, r.rfOff = false, false
	r.changed()
}

// changed wakes everyone watching the reader. Called with r.mu held.
func (r *Reader) changed() {
	r.gen++
	close(r.changeCh)
	r.changeCh = make(chan struct{})
}

// state reports the reader's tag, the generation it belongs to and a channel closed
// at the next change.
func (r *Reader) state() (t *Tag, gen uint64, change <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tag, r.gen, r.changeCh
}

// ATR is the answer to reset the reader reports for its tag, nil when it holds none.
func (r *Reader) ATR() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tag == nil {
		return nil
	}
	return r.tag.atr()
}

// Transmit sends one C-APDU to the reader and returns the R-APDU with its status word.
// Without a tag it fails with nfc.ErrNoTag, or nfc.ErrTagRemoved when the tag left.
func (r *Reader) Transmit(apdu []byte) ([]byte, error) {
	return r.transmit(0, apdu)
}

// transmit is Transmit for a connection made at generation gen (0: any).
func (r *Reader) transmit(gen uint64, apdu []byte) ([]byte, error) {
	if len(apdu) == 0 {
		return nil, fmt.Errorf("emu: %s: empty command APDU", r.name)
	}
	r.mu.Lock()
	switch {
	case gen != 0 && gen != r.gen:
		r.mu.Unlock()
		return nil, fmt.Errorf("emu: %s: %w", r.name, nfc.ErrTagRemoved)
	case r.tag == nil && r.left:
		r.mu.Unlock()
		return nil, fmt.Errorf("emu: %s: %w", r.name, nfc.ErrTagRemoved)
	case r.tag == nil:
		r.mu.Unlock()
		return nil, fmt.Errorf("emu: %s: %w", r.name, nfc.ErrNoTag)
	}
	r.apdus++
	f := r.faults
	var resp []byte
	if f.FailAfter > 0 && r.apdus >= f.FailAfter {
		resp = sw(0x63, 0x00)
	} else {
		resp = r.dispatch(apdu)
	}
	if f.RemoveAfter > 0 && r.apdus >= f.RemoveAfter {
		r.detach()
	}
	r.mu.Unlock()
	if f.Delay > 0 {
		time.Sleep(f.Delay)
	}
	return resp, nil
}

// powerCycle serves vpcd's power on, power off and reset: each leaves the tag freshly
// powered, as pcscd expects after any of them, and ends a transparent session.
func (r *Reader) powerCycle() {
	r.mu.Lock()
	t := r.tag
	r.session, r.rfOff = false, false
	r.mu.Unlock()
	if t != nil {
		t.powerOn()
	}
}

// dispatch answers one APDU. Called with r.mu held.
func (r *Reader) dispatch(apdu []byte) []byte {
	c, ok := parseAPDU(apdu)
	if !ok {
		return sw(0x67, 0x00)
	}
	t := r.tag
	if c.cla != 0xFF {
		if t.t4 == nil {
			return sw(0x63, 0x00)
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.t4.apdu(apdu)
	}
	switch {
	case c.ins == 0xCA && c.p1 == 0 && c.p2 == 0:
		uid := t.uid()
		if c.hasLe && c.le < len(uid) {
			return sw(0x6C, byte(len(uid)))
		}
		return append(append([]byte(nil), uid...), 0x90, 0x00)
	case c.ins == 0xB0 && t.t2 != nil:
		return r.readBinary(c)
	case c.ins == 0xD6 && t.t2 != nil:
		return r.updateBinary(c)
	case c.ins == 0x00 && r.p == ACR122 && c.p1 == 0 && c.p2 == 0:
		return r.pn532(c.data)
	case c.ins == 0xC2 && r.p == Part3 && c.p1 == 0:
		return r.part3(c)
	}
	return sw(0x6A, 0x81)
}

// native sends one frame to the tag's IC: a Type 2 answer, or a 424 DNA's bytes.
func (r *Reader) native(frame []byte) answer {
	t := r.tag
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.t4 != nil {
		return answer{data: t.t4.transceive(frame)}
	}
	return t.t2.native(frame)
}

func (r *Reader) readBinary(c command) []byte {
	maxLe := acr122MaxRead
	if r.p == Part3 {
		maxLe = part3MaxRead
	}
	n := c.le
	if !c.hasLe || n == 256 {
		n = 16
	}
	page := int(c.p1)<<8 | int(c.p2)
	if n > maxLe {
		return sw(0x63, 0x00)
	}
	pages := r.tag.t2.lay.pages
	if n > 16 && page+(n+3)/4 > pages {
		return sw(0x63, 0x00) // a multi-read past the end would roll over: refuse it
	}
	out := make([]byte, 0, n+2)
	for p := page; len(out) < n; p += 4 {
		if p > 0xFF {
			return sw(0x63, 0x00)
		}
		a := r.native([]byte{cmdRead, byte(p)})
		if a.data == nil {
			return sw(0x63, 0x00)
		}
		out = append(out, a.data...)
	}
	return append(out[:n], 0x90, 0x00)
}

func (r *Reader) updateBinary(c command) []byte {
	page := int(c.p1)<<8 | int(c.p2)
	if len(c.data) != 4 || page > 0xFF {
		return sw(0x63, 0x00)
	}
	if a := r.native(append([]byte{cmdWrite, byte(page)}, c.data...)); a.nak() || a.silent() {
		return sw(0x63, 0x00)
	}
	return sw(0x90, 0x00)
}

// pn532 is the ACR122U's direct transmit to its PN532.
func (r *Reader) pn532(cmd []byte) []byte {
	var frame []byte
	var reply byte
	switch {
	case len(cmd) >= 2 && cmd[0] == 0xD4 && cmd[1] == 0x42:
		frame, reply = cmd[2:], 0x43
	case len(cmd) >= 3 && cmd[0] == 0xD4 && cmd[1] == 0x40 && cmd[2] == 0x01:
		frame, reply = cmd[3:], 0x41
	default:
		return sw(0x63, 0x00)
	}
	a := r.native(frame)
	switch {
	case a.data != nil:
		return append(append([]byte{0xD5, reply, 0x00}, a.data...), 0x90, 0x00)
	case a.short && !a.nak():
		return []byte{0xD5, reply, 0x00, a.nibble, 0x90, 0x00}
	}
	return []byte{0xD5, reply, 0x01, 0x90, 0x00}
}

// part3 answers FF C2: manage session, transparent exchange, switch protocol.
func (r *Reader) part3(c command) []byte {
	objs, ok := parseTLVs(c.data)
	if !ok {
		return part3Status(0, 0x67, 0x00)
	}
	switch c.p2 {
	case 0x00:
		for i, o := range objs {
			switch {
			case o.tag == 0x81 && len(o.value) == 0:
				r.session = true
			case o.tag == 0x82 && len(o.value) == 0:
				r.session = false
				r.fieldOn()
			case o.tag == 0x83 && len(o.value) == 0:
				r.rfOff = true
			case o.tag == 0x84 && len(o.value) == 0:
				r.fieldOn()
			case o.tag == 0x5F46:
			default:
				return part3Status(byte(i+1), 0x6A, 0x81)
			}
		}
		return part3Status(0, 0x90, 0x00)
	case 0x01:
		if !r.session {
			return part3Status(0, 0x69, 0x86)
		}
		var frame []byte
		found := false
		for i, o := range objs {
			switch o.tag {
			case 0x95:
				if found {
					return part3Status(byte(i+1), 0x6A, 0x81)
				}
				frame, found = o.value, true
			case 0x90, 0x91, 0x92, 0x5F46: // framing flags and timer: the emulator is always on time
			default:
				return part3Status(byte(i+1), 0x6A, 0x81)
			}
		}
		if !found {
			return part3Status(0, 0x6A, 0x81)
		}
		a := silentAnswer
		if !r.rfOff {
			a = r.native(frame)
		}
		if a.silent() {
			// The reader did its part; only the tag failed, so the APDU itself succeeds.
			return []byte{0xC0, 0x03, 0x01, 0x64, 0x01, 0x90, 0x00}
		}
		out := []byte{0xC0, 0x03, 0x00, 0x90, 0x00}
		data := a.data
		if a.short {
			out = append(out, 0x92, 0x01, 0x04)
			data = []byte{a.nibble}
		}
		out = append(out, 0x96, 0x02, 0x00, 0x00)
		out = appendTLV(out, 0x97, data)
		return append(out, 0x90, 0x00)
	case 0x02:
		return part3Status(0, 0x90, 0x00) // the tag speaks one protocol only
	}
	return sw(0x6A, 0x81)
}

// fieldOn turns the field back on; a tag that was unpowered starts afresh.
func (r *Reader) fieldOn() {
	if r.rfOff {
		r.rfOff = false
		r.tag.powerOn()
	}
}

func part3Status(obj, sw1, sw2 byte) []byte {
	return []byte{0xC0, 0x03, obj, sw1, sw2, sw1, sw2}
}
