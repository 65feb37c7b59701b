package emu

import (
	"bytes"
	"fmt"

	"github.com/tagpay/tagpay/nfc"
)

// Native Type 2 commands (NTAG213/215/216 and MF0ULx1 datasheets).
const (
	cmdGetVersion   = 0x60
	cmdRead         = 0x30
	cmdFastRead     = 0x3A
	cmdWrite        = 0xA2
	cmdCompatWrite  = 0xA0
	cmdReadCnt      = 0x39
	cmdIncrCnt      = 0xA5
	cmdPwdAuth      = 0x1B
	cmdReadSig      = 0x3C
	nibbleACK       = 0x0A
	nakInvalidArg   = 0x00 // invalid page address, locked page, bad password
	nakAuthOverflow = 0x04 // AUTHLIM reached: PWD_AUTH refused for good
	maxCounter      = 0xFFFFFF
)

// ACCESS byte (first byte of CFG1) bits.
const (
	accessPROT       = 0x80 // password needed to read from AUTH0 on, not only to write
	accessCFGLCK     = 0x40 // CFG0 and CFG1 are frozen
	accessNFCCntEn   = 0x10 // NTAG21x: count the first read of each power-on
	accessNFCCntPwd  = 0x08 // NTAG21x: READ_CNT needs PWD_AUTH
	accessAuthLimMsk = 0x07 // failed PWD_AUTH attempts allowed, 0 = unlimited
)

// answer is what a Type 2 IC sends back to one frame: whole bytes, a 4-bit ACK/NAK, or
// nothing at all (the reader times out).
type answer struct {
	data   []byte
	nibble byte
	short  bool // nibble holds a 4-bit answer
}

func (a answer) silent() bool { return a.data == nil && !a.short }
func (a answer) nak() bool    { return a.short && a.nibble != nibbleACK }

var (
	ackAnswer    = answer{nibble: nibbleACK, short: true}
	silentAnswer = answer{}
)

func nakAnswer(code byte) answer { return answer{nibble: code, short: true} }

// type2 emulates an NFC Forum Type 2 IC page by page, with the access rules of the
// NXP datasheets: lock bits, OTP bits, password protection, the NFC counter.
type type2 struct {
	kind    nfc.TagType
	lay     t2Layout
	uid     []byte
	mem     []byte // every page, 4 bytes each, configuration pages included
	version []byte
	sig     []byte    // READ_SIG answer: zeros (an unsigned clone) unless the image has one
	cnt     [3]uint32 // one-way counters; NTAG21x has only #2, the NFC counter
	failed  int       // PWD_AUTH failures since the last success (kept like the IC does)

	// Volatile state, lost at power-off.
	authed      bool
	counted     bool // the NFC counter already counted a read in this power-on
	compatWrite int  // page awaiting the second frame of COMPAT_WRITE, -1 none
}

func newType2(img *nfc.Image) (*type2, error) {
	lay, err := type2Layout(img)
	if err != nil {
		return nil, err
	}
	if len(img.UID) != 7 {
		return nil, fmt.Errorf("emu: %s needs a 7-byte UID, image has %d bytes", img.Type, len(img.UID))
	}
	if len(img.Pages) > lay.pages {
		return nil, fmt.Errorf("emu: %s has %d pages, image has %d", img.Type, lay.pages, len(img.Pages))
	}
	t := &type2{
		kind:        img.Type,
		lay:         lay,
		uid:         bytes.Clone(img.UID),
		mem:         make([]byte, lay.pages*4),
		version:     bytes.Clone(lay.version),
		compatWrite: -1,
	}
	for i, p := range img.Pages {
		if len(p) != 4 {
			return nil, fmt.Errorf("emu: page %d has %d bytes, want 4", i, len(p))
		}
		copy(t.mem[i*4:], p)
	}
	if len(img.Pages) < 3 {
		t.fillSerial()
	}
	if got := t.mem[:9]; !bytes.Equal(serialPages(t.uid), got) {
		return nil, fmt.Errorf("emu: pages 0-2 (% X) do not hold UID %X with its check bytes", got, t.uid)
	}
	if len(img.Version) > 0 {
		if lay.version == nil {
			return nil, fmt.Errorf("emu: %s does not answer GET_VERSION, yet the image has a version", img.Type)
		}
		if len(img.Version) != 8 {
			return nil, fmt.Errorf("emu: version has %d bytes, want 8", len(img.Version))
		}
		t.version = bytes.Clone(img.Version)
	}
	if len(img.Signature) > 0 {
		if len(img.Signature) != 32 {
			return nil, fmt.Errorf("emu: signature has %d bytes, want 32", len(img.Signature))
		}
		t.sig = bytes.Clone(img.Signature)
	}
	if t.sig == nil && lay.version != nil {
		t.sig = make([]byte, 32)
	}
	if img.Counter > maxCounter {
		return nil, fmt.Errorf("emu: counter %d does not fit 24 bits", img.Counter)
	}
	t.cnt[2] = img.Counter
	if img.AuthFailures < 0 || (img.AuthFailures > 0 && lay.cfg0 < 0) {
		return nil, fmt.Errorf("emu: %d failed password attempts on %s, which has no password", img.AuthFailures, img.Type)
	}
	t.failed = img.AuthFailures
	return t, nil
}

// serialPages is the first 9 bytes of a Type 2 IC: UID with BCC0 and BCC1 (ISO 14443-3,
// cascade tag 88).
func serialPages(uid []byte) []byte {
	return []byte{
		uid[0], uid[1], uid[2], 0x88 ^ uid[0] ^ uid[1] ^ uid[2],
		uid[3], uid[4], uid[5], uid[6],
		uid[3] ^ uid[4] ^ uid[5] ^ uid[6],
	}
}

func (t *type2) fillSerial() { copy(t.mem, serialPages(t.uid)) }

func (t *type2) powerOn() {
	t.authed = false
	t.counted = false
	t.compatWrite = -1
}

func (t *type2) page(p int) []byte { return t.mem[p*4 : p*4+4] }

// auth0 is the first page that needs the password; lay.pages when nothing does.
func (t *type2) auth0() int {
	switch {
	case t.lay.ulcAuth:
		return int(t.page(ulcAuth0Page)[0])
	case t.lay.cfg0 < 0:
		return t.lay.pages
	}
	return int(t.page(t.lay.cfg0)[3])
}

// readProtected tells whether reads from AUTH0 on need authentication too.
func (t *type2) readProtected() bool {
	if t.lay.ulcAuth {
		return t.page(ulcAuth1Page)[0]&0x01 == 0
	}
	return t.access()&accessPROT != 0
}

func (t *type2) access() byte {
	if t.lay.cfg0 < 0 {
		return 0
	}
	return t.page(t.lay.cfg1)[0]
}

func (t *type2) readable(p int) bool {
	return t.authed || !t.readProtected() || p < t.auth0()
}

// readPage is a page as the IC returns it: PWD and PACK (and an Ultralight C's key)
// always read as zero.
func (t *type2) readPage(p int) []byte {
	if (t.lay.cfg0 >= 0 && (p == t.lay.pwd || p == t.lay.pack)) || (t.lay.ulcAuth && p >= ulcKeyPage) {
		return make([]byte, 4)
	}
	return t.page(p)
}

// native answers one frame sent to the IC.
func (t *type2) native(frame []byte) answer {
	a := t.exchange(frame)
	if a.nak() {
		// A NAK sends the IC back to IDLE: the reader must select it again, and the
		// password must be presented again.
		t.authed = false
	}
	return a
}

func (t *type2) exchange(frame []byte) answer {
	if t.compatWrite >= 0 {
		p := t.compatWrite
		t.compatWrite = -1
		if len(frame) != 16 {
			return nakAnswer(nakInvalidArg)
		}
		return t.write(p, frame[:4])
	}
	if len(frame) == 0 {
		return silentAnswer
	}
	getVersionIC := t.lay.version != nil // MF0ICU1 knows only READ, WRITE and COMPAT_WRITE
	switch cmd := frame[0]; {
	case cmd == cmdRead && len(frame) == 2:
		return t.read(int(frame[1]))
	case cmd == cmdWrite && len(frame) == 6:
		return t.write(int(frame[1]), frame[2:6])
	case cmd == cmdCompatWrite && len(frame) == 2:
		p := int(frame[1])
		if !t.writable(p) {
			return nakAnswer(nakInvalidArg)
		}
		t.compatWrite = p
		return ackAnswer
	case !getVersionIC:
		return silentAnswer
	case cmd == cmdGetVersion && len(frame) == 1:
		return answer{data: bytes.Clone(t.version)}
	case cmd == cmdFastRead && len(frame) == 3:
		return t.fastRead(int(frame[1]), int(frame[2]))
	case cmd == cmdReadSig && len(frame) == 2:
		if frame[1] != 0 {
			return nakAnswer(nakInvalidArg)
		}
		return answer{data: bytes.Clone(t.sig)}
	case cmd == cmdReadCnt && len(frame) == 2:
		return t.readCnt(int(frame[1]))
	case cmd == cmdIncrCnt && len(frame) == 6 && t.lay.counters:
		return t.incrCnt(int(frame[1]), frame[2:5])
	case cmd == cmdPwdAuth && len(frame) == 5 && t.lay.pwd >= 0:
		return t.pwdAuth(frame[1:5])
	default:
		return nakAnswer(nakInvalidArg)
	}
}

// read returns four pages from p. Past the last page, or past AUTH0 while reading is
// protected, the IC rolls over to page 0 instead of failing.
func (t *type2) read(p int) answer {
	if p >= t.lay.pages || !t.readable(p) {
		return nakAnswer(nakInvalidArg)
	}
	out := make([]byte, 0, 16)
	next := p
	for range 4 {
		if next >= t.lay.pages || !t.readable(next) {
			next = 0
		}
		out = append(out, t.readPage(next)...)
		next++
	}
	t.countRead()
	return answer{data: out}
}

func (t *type2) fastRead(start, end int) answer {
	if start > end || end >= t.lay.pages {
		return nakAnswer(nakInvalidArg)
	}
	out := make([]byte, 0, (end-start+1)*4)
	for p := start; p <= end; p++ {
		if !t.readable(p) {
			return nakAnswer(nakInvalidArg)
		}
		out = append(out, t.readPage(p)...)
	}
	t.countRead()
	return answer{data: out}
}

// countRead advances the NFC counter on the first read of a power-on, when enabled.
func (t *type2) countRead() {
	if t.lay.nfcCounter && !t.counted && t.access()&accessNFCCntEn != 0 {
		t.counted = true
		if t.cnt[2] < maxCounter {
			t.cnt[2]++
		}
	}
}

func (t *type2) readCnt(n int) answer {
	switch {
	case t.lay.nfcCounter:
		if n != 2 || t.access()&accessNFCCntEn == 0 || (t.access()&accessNFCCntPwd != 0 && !t.authed) {
			return nakAnswer(nakInvalidArg)
		}
	case !t.lay.counters || n > 2:
		return nakAnswer(nakInvalidArg)
	}
	c := t.cnt[n]
	return answer{data: []byte{byte(c), byte(c >> 8), byte(c >> 16)}}
}

func (t *type2) incrCnt(n int, inc []byte) answer {
	add := uint32(inc[0]) | uint32(inc[1])<<8 | uint32(inc[2])<<16
	if n > 2 || t.cnt[n]+add > maxCounter {
		return nakAnswer(nakInvalidArg)
	}
	t.cnt[n] += add
	return ackAnswer
}

// pwdAuth is PWD_AUTH. With AUTHLIM set, consecutive failures are counted in the
// IC's memory; once they reach AUTHLIM every later PWD_AUTH is refused, the right
// password included, and the protected area is closed for good. A success before
// that resets the count.
func (t *type2) pwdAuth(pwd []byte) answer {
	limit := int(t.access() & accessAuthLimMsk)
	if limit > 0 && t.failed >= limit {
		return nakAnswer(nakAuthOverflow)
	}
	if !bytes.Equal(pwd, t.page(t.lay.pwd)) {
		if limit > 0 {
			t.failed++
		}
		return nakAnswer(nakInvalidArg)
	}
	t.failed = 0
	t.authed = true
	return answer{data: bytes.Clone(t.page(t.lay.pack)[:2])}
}

// writable tells whether page p may be written now: inside memory, past the UID,
// not locked, and authenticated when p is at or past AUTH0.
func (t *type2) writable(p int) bool {
	switch {
	case p < 2 || p >= t.lay.pages:
		return false
	case p >= t.auth0() && !t.authed:
		return false
	case p == 3:
		return t.page(2)[2]&0x08 == 0 // L-CC
	case p >= 4 && p < 16:
		return !t.staticLocked(p)
	case t.lay.dynLock >= 0 && p >= 16 && p < t.lay.dynLock:
		bit := (p - 16) / t.lay.lockChunk
		return t.page(t.lay.dynLock)[bit/8]&(1<<(bit%8)) == 0
	case t.lay.cfg0 >= 0 && (p == t.lay.cfg0 || p == t.lay.cfg1):
		return t.access()&accessCFGLCK == 0
	}
	return true
}

// staticLocked reads the lock bit of a page 4-15 from page 2 bytes 2-3.
func (t *type2) staticLocked(p int) bool {
	lock := uint16(t.page(2)[2]) | uint16(t.page(2)[3])<<8
	return lock&(1<<p) != 0 // bit p of the 16 lock bits is L<p> for p in 4..15
}

func (t *type2) write(p int, d []byte) answer {
	if !t.writable(p) {
		return nakAnswer(nakInvalidArg)
	}
	pg := t.page(p)
	switch {
	case p == 2:
		t.writeStaticLock(d[2], d[3])
	case p == 3:
		for i := range 4 { // capability container: one-time programmable bits
			pg[i] |= d[i]
		}
	case p == t.lay.dynLock:
		t.writeDynLock(d)
	default:
		copy(pg, d)
	}
	return ackAnswer
}

// writeStaticLock ORs lock bits in, except those frozen by their block-lock bit.
func (t *type2) writeStaticLock(b0, b1 byte) {
	pg := t.page(2)
	var frozen0, frozen1 byte
	if pg[2]&0x01 != 0 { // BL-CC freezes L-CC
		frozen0 |= 0x08
	}
	if pg[2]&0x02 != 0 { // BL 9-4 freezes L4..L9
		frozen0 |= 0xF0
		frozen1 |= 0x03
	}
	if pg[2]&0x04 != 0 { // BL 15-10 freezes L10..L15
		frozen1 |= 0xFC
	}
	pg[2] |= b0 &^ frozen0
	pg[3] |= b1 &^ frozen1
}

// writeDynLock ORs dynamic lock bits in. Block-lock bit j (byte 2) freezes lock bits
// 2j and 2j+1; byte 3 is reserved and keeps its value.
func (t *type2) writeDynLock(d []byte) {
	pg := t.page(t.lay.dynLock)
	lock := uint16(pg[0]) | uint16(pg[1])<<8
	var frozen uint16
	for j := range 8 {
		if pg[2]&(1<<j) != 0 {
			frozen |= 3 << (2 * j)
		}
	}
	lock |= (uint16(d[0]) | uint16(d[1])<<8) &^ frozen
	pg[0], pg[1] = byte(lock), byte(lock>>8)
	pg[2] |= d[2]
}

func (t *type2) image() *nfc.Image {
	img := &nfc.Image{
		Type:         t.kind,
		UID:          bytes.Clone(t.uid),
		Signature:    bytes.Clone(t.sig),
		Counter:      t.cnt[2],
		Pages:        make([]nfc.HexBytes, t.lay.pages),
		AuthFailures: t.failed,
	}
	if t.version != nil {
		img.Version = bytes.Clone(t.version)
	}
	for p := range img.Pages {
		img.Pages[p] = bytes.Clone(t.page(p))
	}
	return img
}
