package emu

import (
	"bytes"
	"crypto/subtle"
	"fmt"

	"github.com/tagpay/tagpay/nfc"
)

// NTAG 424 DNA native commands (NT4H2421Gx) and their status bytes.
const (
	cmd424AuthFirst      = 0x71
	cmd424AuthNonFirst   = 0x77
	cmd424GetFileSet     = 0xF5
	cmd424ChangeFileSet  = 0x5F
	cmd424ChangeKey      = 0xC4
	cmd424GetKeyVersion  = 0x64
	cmd424GetCardUID     = 0x51
	cmd424WriteData      = 0x8D
	cmd424ReadData       = 0xAD
	cmd424GetFileCounter = 0xF6

	st424IntegrityError = 0x1E
	st424NoSuchKey      = 0x40
	st424PermDenied     = 0x9D
	st424AuthError      = 0xAE
	st424BoundaryError  = 0xBE
	st424FileNotFound   = 0xF0
)

// session is the secure channel after AuthenticateEV2First.
type session struct {
	keyNo    byte
	ti       [4]byte
	ctr      uint16
	enc, mac block16
}

// authPending is an authentication waiting for the reader's second part.
type authPending struct {
	keyNo byte
	first bool
	rndB  block16
}

func status(st byte) []byte { return []byte{st} }

// fail answers an error: the secure channel ends with any failed command.
func (t *type4) fail(st byte) []byte {
	t.sess = nil
	return status(st)
}

// authenticate handles AuthenticateEV2First and NonFirst, part one.
func (t *type4) authenticate(cmd byte, d []byte) []byte {
	first := cmd == cmd424AuthFirst
	switch {
	case first && (len(d) < 2 || len(d) != 2+int(d[1]) || d[1] > 6):
		return t.fail(st424LengthError)
	case !first && len(d) != 1:
		return t.fail(st424LengthError)
	case d[0] > 4:
		return t.fail(st424NoSuchKey)
	case !first && t.sess == nil:
		return t.fail(st424AuthError) // NonFirst continues an existing session
	}
	p := &authPending{keyNo: d[0], first: first}
	t.random(p.rndB[:])
	if first {
		t.sess = nil
	}
	t.pending = p
	return append(status(st424More), cbcEncrypt(t.keys[p.keyNo][:], make([]byte, 16), p.rndB[:])...)
}

// authenticate2 checks the reader's E(K, RndA ‖ RndB′) and opens the session.
func (t *type4) authenticate2(p *authPending, d []byte) []byte {
	if len(d) != 32 {
		return t.fail(st424LengthError)
	}
	key := t.keys[p.keyNo][:]
	plain := cbcDecrypt(key, make([]byte, 16), d)
	var rndA, gotB block16
	copy(rndA[:], plain[:16])
	copy(gotB[:], plain[16:])
	if wantB := rotl(p.rndB); subtle.ConstantTimeCompare(gotB[:], wantB[:]) != 1 {
		return t.fail(st424AuthError)
	}
	enc, mac := sessionKeys(key, rndA, p.rndB)
	ra := rotl(rndA)
	if !p.first {
		s := t.sess
		if s == nil {
			return t.fail(st424AuthError)
		}
		s.keyNo, s.enc, s.mac = p.keyNo, enc, mac
		return append(status(st424OK), cbcEncrypt(key, make([]byte, 16), ra[:])...)
	}
	s := &session{keyNo: p.keyNo, enc: enc, mac: mac}
	t.random(s.ti[:])
	t.sess = s
	// TI ‖ RndA′ ‖ PDcap2 ‖ PCDcap2, the capabilities all zero.
	out := append(append(bytes.Clone(s.ti[:]), ra[:]...), make([]byte, 12)...)
	return append(status(st424OK), cbcEncrypt(key, make([]byte, 16), out)...)
}

// cmdMAC is the MAC the reader must append to a command.
func (s *session) cmdMAC(cmd byte, data []byte) []byte {
	in := append([]byte{cmd, byte(s.ctr), byte(s.ctr >> 8)}, s.ti[:]...)
	return macT(aesCMAC(s.mac[:], append(in, data...)))
}

// respMAC is the MAC appended to an answer, over the counter already incremented.
func (s *session) respMAC(st byte, data []byte) []byte {
	in := append([]byte{st, byte(s.ctr), byte(s.ctr >> 8)}, s.ti[:]...)
	return macT(aesCMAC(s.mac[:], append(in, data...)))
}

// Per-command secure messaging: the command's mode and the length of its header
// (sent in clear even in FULL mode).
type smCommand struct {
	mode   byte // 0 plain, 1 MAC, 3 full
	header int
}

// unwrap checks and strips a command's secure messaging; the header and the plain
// data come back, or a status when the command is refused.
func (t *type4) unwrap(cmd byte, d []byte, sc smCommand) (hdr, data []byte, st byte) {
	s := t.sess
	if s == nil || sc.mode == 0 {
		if len(d) < sc.header {
			return nil, nil, st424LengthError
		}
		return d[:sc.header], d[sc.header:], st424OK
	}
	if len(d) < sc.header+8 {
		return nil, nil, st424LengthError
	}
	body, mac := d[:len(d)-8], d[len(d)-8:]
	if subtle.ConstantTimeCompare(mac, s.cmdMAC(cmd, body)) != 1 {
		return nil, nil, st424IntegrityError
	}
	hdr, data = body[:sc.header], body[sc.header:]
	if sc.mode != 3 || len(data) == 0 {
		return hdr, data, st424OK
	}
	if len(data)%16 != 0 {
		return nil, nil, st424LengthError
	}
	plain, ok := unpadISO(cbcDecrypt(s.enc[:], smIV(s.enc, 0xA5, 0x5A, s.ti, s.ctr), data))
	if !ok {
		return nil, nil, st424IntegrityError
	}
	return hdr, plain, st424OK
}

// wrap finishes a successful command: the counter moves on and the answer gets the
// secure messaging of mode.
func (t *type4) wrap(mode byte, data []byte) []byte {
	s := t.sess
	if s == nil {
		return append(status(st424OK), data...)
	}
	s.ctr++
	if s.ctr == 0xFFFF {
		t.sess = nil // the counter may not wrap: the reader authenticates again
	}
	switch mode {
	case 1:
		return append(append(status(st424OK), data...), s.respMAC(st424OK, data)...)
	case 3:
		if len(data) > 0 {
			data = cbcEncrypt(s.enc[:], smIV(s.enc, 0x5A, 0xA5, s.ti, s.ctr), padISO(data))
		}
		return append(append(status(st424OK), data...), s.respMAC(st424OK, data)...)
	}
	return append(status(st424OK), data...)
}

// allowed says whether the session (or its absence) satisfies access condition k.
func (t *type4) allowed(k byte) bool {
	return k == accFree || (t.sess != nil && t.sess.keyNo == k)
}

// fileMode is the comm mode of a data command on f under access condition k: plain
// when access is free.
func (t *type4) fileMode(f *dnaFile, keys ...byte) (mode byte, ok bool) {
	for _, k := range keys {
		if k == accFree {
			return 0, true
		}
	}
	for _, k := range keys {
		if t.allowed(k) {
			return f.commMode(), true
		}
	}
	return 0, false
}

func (t *type4) file(no byte) *dnaFile {
	if no < 1 || int(no) > len(t.files) {
		return nil
	}
	return t.files[no-1]
}

func (t *type4) getFileSettings(d []byte) []byte {
	hdr, _, st := t.unwrap(cmd424GetFileSet, d, smCommand{mode: 1, header: 1})
	if st != st424OK {
		return t.fail(st)
	}
	f := t.file(hdr[0])
	if f == nil {
		return t.fail(st424FileNotFound)
	}
	return t.wrap(1, f.fileSettings())
}

func (t *type4) changeFileSettings(d []byte) []byte {
	if len(d) < 1 {
		return t.fail(st424LengthError)
	}
	f := t.file(d[0])
	if f == nil {
		return t.fail(st424FileNotFound)
	}
	if f.changeKey() != accFree && t.sess == nil {
		return t.fail(st424AuthError)
	}
	hdr, data, st := t.unwrap(cmd424ChangeFileSet, d, smCommand{mode: 3, header: 1})
	switch {
	case st != st424OK:
		return t.fail(st)
	case !t.allowed(f.changeKey()):
		return t.fail(st424PermDenied)
	}
	_ = hdr
	opt, ar, sdm, st := parseSettings(f, data)
	if st != st424OK {
		return t.fail(st)
	}
	f.opt, f.ar, f.sdm = opt, ar, sdm
	t.snapshot = nil
	return t.wrap(1, nil)
}

func (t *type4) changeKey(d []byte) []byte {
	if t.sess == nil {
		return t.fail(st424AuthError)
	}
	hdr, data, st := t.unwrap(cmd424ChangeKey, d, smCommand{mode: 3, header: 1})
	if st != st424OK {
		return t.fail(st)
	}
	no := hdr[0]
	switch {
	case no > 4:
		return t.fail(st424NoSuchKey)
	case t.sess.keyNo != 0:
		return t.fail(st424PermDenied) // only the application master key changes keys
	}
	if no == t.sess.keyNo {
		if len(data) != 17 {
			return t.fail(st424LengthError)
		}
		copy(t.keys[no][:], data[:16])
		t.keyVer[no] = data[16]
		t.sess.ctr++
		t.sess = nil // the session's key is gone, and the session with it
		return status(st424OK)
	}
	if len(data) != 21 {
		return t.fail(st424LengthError)
	}
	var nk block16
	subtle.XORBytes(nk[:], data[:16], t.keys[no][:])
	if !bytes.Equal(jamCRC(nk[:]), data[17:21]) {
		return t.fail(st424IntegrityError) // wrong old key, or the data was altered
	}
	t.keys[no], t.keyVer[no] = nk, data[16]
	return t.wrap(1, nil)
}

func (t *type4) getKeyVersion(d []byte) []byte {
	hdr, _, st := t.unwrap(cmd424GetKeyVersion, d, smCommand{mode: 1, header: 1})
	switch {
	case st != st424OK:
		return t.fail(st)
	case hdr[0] > 4:
		return t.fail(st424NoSuchKey)
	}
	return t.wrap(1, []byte{t.keyVer[hdr[0]]})
}

func (t *type4) getCardUID(d []byte) []byte {
	if t.sess == nil {
		return t.fail(st424AuthError)
	}
	if _, data, st := t.unwrap(cmd424GetCardUID, d, smCommand{mode: 3}); st != st424OK || len(data) != 0 {
		if st == st424OK {
			st = st424LengthError
		}
		return t.fail(st)
	}
	return t.wrap(3, t.uid)
}

func (t *type4) readSig(d []byte) []byte {
	hdr, data, st := t.unwrap(cmd424ReadSig, d, smCommand{mode: 3, header: 1})
	switch {
	case st != st424OK:
		return t.fail(st)
	case len(data) != 0:
		return t.fail(st424LengthError)
	case hdr[0] != 0:
		return t.fail(st424ParamError)
	}
	return t.wrap(3, t.sig)
}

// dataHeader reads FileNo ‖ Offset (3, LE) ‖ Length (3, LE).
func dataHeader(h []byte) (no byte, off, n int) {
	return h[0], int(h[1]) | int(h[2])<<8 | int(h[3])<<16, int(h[4]) | int(h[5])<<8 | int(h[6])<<16
}

// commandMode picks the secure messaging of a data command on file no before the
// MAC can be checked: it depends on the file's settings and the access rights.
func (t *type4) dataMode(d []byte, write bool) (f *dnaFile, mode byte, st byte) {
	if len(d) < 7 {
		return nil, 0, st424LengthError
	}
	f = t.file(d[0])
	if f == nil {
		return nil, 0, st424FileNotFound
	}
	var ok bool
	if write {
		mode, ok = t.fileMode(f, f.writeKey(), f.rwKey())
	} else {
		mode, ok = t.fileMode(f, f.readKey(), f.rwKey())
	}
	if !ok {
		if t.sess == nil {
			return nil, 0, st424AuthError
		}
		return nil, 0, st424PermDenied
	}
	return f, mode, st424OK
}

func (t *type4) writeData(d []byte) []byte {
	f, mode, st := t.dataMode(d, true)
	if st != st424OK {
		return t.fail(st)
	}
	hdr, data, st := t.unwrap(cmd424WriteData, d, smCommand{mode: mode, header: 7})
	if st != st424OK {
		return t.fail(st)
	}
	_, off, n := dataHeader(hdr)
	switch {
	case n != len(data) || n == 0:
		return t.fail(st424LengthError)
	case off+n > len(f.data):
		return t.fail(st424BoundaryError)
	}
	copy(f.data[off:], data)
	if f.no == 2 {
		t.snapshot = nil
	}
	respMode := byte(0)
	if mode != 0 {
		respMode = 1 // a write's answer carries only a MAC
	}
	return t.wrap(respMode, nil)
}

func (t *type4) readData(d []byte) []byte {
	f, mode, st := t.dataMode(d, false)
	if st != st424OK {
		return t.fail(st)
	}
	hdr, data, st := t.unwrap(cmd424ReadData, d, smCommand{mode: min(mode, 1), header: 7})
	switch {
	case st != st424OK:
		return t.fail(st)
	case len(data) != 0:
		return t.fail(st424LengthError)
	}
	_, off, n := dataHeader(hdr)
	if n == 0 {
		n = len(f.data) - off
	}
	if off >= len(f.data) || off+n > len(f.data) {
		return t.fail(st424BoundaryError)
	}
	content, st := t.content(f)
	if st != st424OK {
		return t.fail(st)
	}
	return t.wrap(mode, bytes.Clone(content[off:off+n]))
}

func (t *type4) getFileCounters(d []byte) []byte {
	if len(d) < 1 {
		return t.fail(st424LengthError)
	}
	f := t.file(d[0])
	switch {
	case f == nil:
		return t.fail(st424FileNotFound)
	case f.sdm == nil || f.sdm.ctrRet == accNever:
		return t.fail(st424PermDenied)
	case !t.allowed(f.sdm.ctrRet):
		if t.sess == nil {
			return t.fail(st424AuthError)
		}
		return t.fail(st424PermDenied)
	}
	mode := byte(3)
	if f.sdm.ctrRet == accFree {
		mode = 0
	}
	_, data, st := t.unwrap(cmd424GetFileCounter, d, smCommand{mode: min(mode, 1), header: 1})
	if st != st424OK || len(data) != 0 {
		if st == st424OK {
			st = st424LengthError
		}
		return t.fail(st)
	}
	c := t.counter
	return t.wrap(mode, []byte{byte(c), byte(c >> 8), byte(c >> 16), 0, 0})
}

// content is what a read of f returns: file 2 with SDM on is mirrored, the counter
// moving on at the first read since the file (or application) was selected.
func (t *type4) content(f *dnaFile) ([]byte, byte) {
	if f.sdm == nil {
		return f.data, st424OK
	}
	if t.snapshot == nil {
		if t.counter >= maxCounter || (f.sdm.opts&optLimit != 0 && t.counter >= uint32(f.sdm.lim)) {
			return nil, st424PermDenied // the counter is spent: the real tag stops serving the file
		}
		t.counter++
		t.snapshot = t.mirror(f, t.counter)
	}
	return t.snapshot, st424OK
}

// TapNDEF is the NDEF message a phone would read from the tag now, as one tap: an
// NTAG 424 DNA with SDM on mirrors a new SUN message and counts the read. Other tags
// are not served this way. It resets the tag as a new tap does: use it on a tag that
// is in no reader.
func (t *Tag) TapNDEF() ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.t4 == nil {
		return nil, fmt.Errorf("emu: TapNDEF serves NTAG 424 DNA tags only")
	}
	t4 := t.t4
	t4.powerOn()
	defer t4.powerOn()
	f := t4.files[1]
	if f.readKey() != accFree && f.rwKey() != accFree {
		return nil, fmt.Errorf("emu: the NDEF file is not freely readable")
	}
	content, st := t4.content(f)
	if st != st424OK {
		return nil, fmt.Errorf("emu: the tag refuses the read (status %02X): its read counter is spent", st)
	}
	return nfc.MessageOf424(content), nil
}
