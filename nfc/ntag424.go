package nfc

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/tagpay/tagpay/nfc/ndef"
)

// NTAG 424 DNA native commands (NT4H2421Gx), sent ISO-wrapped: 90 INS 00 00 Lc data 00.
const (
	ins424AuthFirst     = 0x71
	ins424AuthNonFirst  = 0x77
	ins424More          = 0xAF
	ins424GetFileSet    = 0xF5
	ins424ChangeFileSet = 0x5F
	ins424ChangeKey     = 0xC4
	ins424GetKeyVersion = 0x64
	ins424GetCardUID    = 0x51
	ins424WriteData     = 0x8D
	ins424ReadData      = 0xAD
	ins424ReadSig       = 0x3C
)

// Native status codes (SW2 after SW1 91).
const (
	St424OK           byte = 0x00
	St424More         byte = 0xAF
	St424AuthError    byte = 0xAE
	St424PermDenied   byte = 0x9D
	St424LengthError  byte = 0x7E
	St424ParamError   byte = 0x9E
	St424Integrity    byte = 0x1E
	St424NoSuchKey    byte = 0x40
	St424FileNotFound byte = 0xF0
	St424IllegalCmd   byte = 0x1C
	St424Boundary     byte = 0xBE
)

var st424Names = map[byte]string{
	St424AuthError:    "authentication error: wrong key",
	St424PermDenied:   "permission denied: the access rights need another key",
	St424LengthError:  "length error",
	St424ParamError:   "parameter error",
	St424Integrity:    "integrity error: bad MAC, padding or CRC (wrong old key?)",
	St424NoSuchKey:    "no such key",
	St424FileNotFound: "file not found",
	St424IllegalCmd:   "command not supported",
	St424Boundary:     "boundary error: past the end of the file",
}

// DNAStatusError is an NTAG 424 DNA command the tag refused with status 91 Status.
// It matches ErrDevice; ErrAuth for a wrong key or missing permission; ErrUnsupported
// for a command the tag does not know.
type DNAStatusError struct {
	Op     string
	Status byte
}

func (e *DNAStatusError) Error() string {
	name := st424Names[e.Status]
	if name == "" {
		name = "error"
	}
	return fmt.Sprintf("%s: the tag answered 91 %02X (%s)", e.Op, e.Status, name)
}

func (e *DNAStatusError) Is(target error) bool {
	switch target {
	case ErrDevice:
		return true
	case ErrAuth:
		return e.Status == St424AuthError || e.Status == St424PermDenied
	case ErrUnsupported:
		return e.Status == St424IllegalCmd
	case ErrReaderFault:
		return e.Status != St424AuthError && e.Status != St424PermDenied && e.Status != St424IllegalCmd
	}
	return false
}

// ErrSecureChannel marks an answer whose MAC or padding does not check out: the
// exchange was altered, or the session is not the one the tag holds.
var ErrSecureChannel error = deviceError("NTAG 424 DNA secure messaging check failed")

// rand424 supplies RndA; tests replace it to replay published traces.
var rand424 io.Reader = rand.Reader

// dnaSession is the secure channel AuthenticateEV2First opens.
type dnaSession struct {
	keyNo    byte
	ti       [4]byte
	ctr      uint16
	enc, mac []byte
}

func (t *Tag) need424() error {
	if t.Type != TypeNTAG424DNA {
		return fmt.Errorf("%w: %s is not an NTAG 424 DNA", ErrUnsupported, t.Name)
	}
	return nil
}

// raw424 sends one native command and returns its data and status; an error only
// for a failed transport or an answer that is not a native status.
func (t *Tag) raw424(op string, ins byte, data []byte) ([]byte, byte, error) {
	apdu := []byte{0x90, ins, 0x00, 0x00}
	if len(data) > 0 {
		apdu = append(append(apdu, byte(len(data))), data...)
	}
	apdu = append(apdu, 0x00)
	r, err := t.link.card.Transmit(apdu)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", op, err)
	}
	body, sw, err := splitSW(r)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", op, err)
	}
	if sw>>8 != 0x91 {
		return nil, 0, &statusError{op: op, sw: sw}
	}
	return body, byte(sw), nil
}

func cbc(key []byte, iv []byte, data []byte, encrypt bool) []byte {
	block, err := aes.NewCipher(key)
	if err != nil || len(data)%16 != 0 {
		return nil
	}
	out := make([]byte, len(data))
	if encrypt {
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, data)
	} else {
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, data)
	}
	return out
}

func rotateLeft(b []byte) []byte { return append(bytes.Clone(b[1:]), b[0]) }

// sessionKeys424 derives SesAuthENCKey and SesAuthMACKey (AN12196): CMAC under the
// key of SV1 / SV2 = label ‖ 00 01 00 80 ‖ RndA[15..14] ‖ (RndA[13..8] ⊕ RndB[15..10])
// ‖ RndB[9..0] ‖ RndA[7..0], byte 15 being the first.
func sessionKeys424(key, rndA, rndB []byte) (enc, mac []byte) {
	sv := make([]byte, 32)
	copy(sv[6:8], rndA[0:2])
	subtle.XORBytes(sv[8:14], rndA[2:8], rndB[0:6])
	copy(sv[14:24], rndB[6:16])
	copy(sv[24:32], rndA[8:16])
	copy(sv, []byte{0xA5, 0x5A, 0x00, 0x01, 0x00, 0x80})
	enc = CMAC(key, sv)
	sv[0], sv[1] = 0x5A, 0xA5
	return enc, CMAC(key, sv)
}

// AuthenticateEV2First opens a secure channel with key keyNo (0–4): the command
// counter starts at 0 under a new transaction identifier. A wrong key gives an error
// matching ErrAuth.
func (t *Tag) AuthenticateEV2First(keyNo byte, key []byte) error {
	return t.authenticate424(true, keyNo, key)
}

// AuthenticateEV2NonFirst switches the open channel to key keyNo, keeping its
// transaction identifier and command counter.
func (t *Tag) AuthenticateEV2NonFirst(keyNo byte, key []byte) error {
	if t.sess == nil {
		return fmt.Errorf("%w: AuthenticateEV2NonFirst needs an open session", ErrAuth)
	}
	return t.authenticate424(false, keyNo, key)
}

func (t *Tag) authenticate424(first bool, keyNo byte, key []byte) error {
	if err := t.need424(); err != nil {
		return err
	}
	if len(key) != 16 {
		return fmt.Errorf("authenticate with key %d: key is %d bytes, want 16 (AES-128)", keyNo, len(key))
	}
	op := fmt.Sprintf("authenticate with key %d", keyNo)
	ins, data := byte(ins424AuthFirst), []byte{keyNo, 0x00}
	if !first {
		ins, data = ins424AuthNonFirst, []byte{keyNo}
	}
	prev := t.sess
	t.sess = nil
	encB, st, err := t.raw424(op, ins, data)
	switch {
	case err != nil:
		return err
	case st != St424More:
		return &DNAStatusError{Op: op, Status: st}
	case len(encB) != 16:
		return fmt.Errorf("%w: %s: E(RndB) of %d bytes, want 16", ErrReaderFault, op, len(encB))
	}
	zero := make([]byte, 16)
	rndB := cbc(key, zero, encB, false)
	rndA := make([]byte, 16)
	if _, err := io.ReadFull(rand424, rndA); err != nil {
		return fmt.Errorf("%s: random RndA: %w", op, err)
	}
	resp, st, err := t.raw424(op, ins424More, cbc(key, zero, append(bytes.Clone(rndA), rotateLeft(rndB)...), true))
	switch {
	case err != nil:
		return err
	case st != St424OK:
		return &DNAStatusError{Op: op, Status: st}
	case first && len(resp) != 32, !first && len(resp) != 16:
		return fmt.Errorf("%w: %s: answer of %d bytes", ErrReaderFault, op, len(resp))
	}
	plain := cbc(key, zero, resp, false)
	gotA := plain
	if first {
		gotA = plain[4:20]
	}
	if subtle.ConstantTimeCompare(gotA, rotateLeft(rndA)) != 1 {
		return fmt.Errorf("%w: %s: the tag did not prove it holds the key (RndA′ differs)", ErrAuth, op)
	}
	enc, mac := sessionKeys424(key, rndA, rndB)
	s := &dnaSession{keyNo: keyNo, enc: enc, mac: mac}
	if first {
		copy(s.ti[:], plain[:4])
	} else {
		s.ti, s.ctr = prev.ti, prev.ctr
	}
	t.sess = s
	return nil
}

// Authenticated reports the key the open secure channel was made with.
func (t *Tag) Authenticated() (keyNo byte, ok bool) {
	if t.sess == nil {
		return 0, false
	}
	return t.sess.keyNo, true
}

func (s *dnaSession) macOver(first byte, ctr uint16, data []byte) []byte {
	in := append([]byte{first, byte(ctr), byte(ctr >> 8)}, s.ti[:]...)
	return truncateMAC(CMAC(s.mac, append(in, data...)))
}

func (s *dnaSession) iv(l0, l1 byte, ctr uint16) []byte {
	iv := make([]byte, 16)
	iv[0], iv[1] = l0, l1
	copy(iv[2:6], s.ti[:])
	iv[6], iv[7] = byte(ctr), byte(ctr>>8)
	block, _ := aes.NewCipher(s.enc)
	block.Encrypt(iv, iv)
	return iv
}

func pad80(b []byte) []byte {
	out := append(bytes.Clone(b), 0x80)
	for len(out)%16 != 0 {
		out = append(out, 0)
	}
	return out
}

func unpad80(b []byte) ([]byte, bool) {
	i := len(b) - 1
	for i >= 0 && i >= len(b)-16 && b[i] == 0 {
		i--
	}
	if i < 0 || i < len(b)-16 || b[i] != 0x80 {
		return nil, false
	}
	return b[:i], true
}

// wrapCommand builds a command's data field under the session: MAC mode appends the
// MAC, FULL mode also encrypts what follows the header.
func (s *dnaSession) wrapCommand(ins byte, hdr, data []byte, mode CommMode) []byte {
	body := append(bytes.Clone(hdr), data...)
	switch mode {
	case CommMAC:
		return append(body, s.macOver(ins, s.ctr, body)...)
	case CommFull:
		if len(data) > 0 {
			body = append(bytes.Clone(hdr), cbc(s.enc, s.iv(0xA5, 0x5A, s.ctr), pad80(data), true)...)
		}
		return append(body, s.macOver(ins, s.ctr, body)...)
	}
	return body
}

// unwrapResponse checks an answer under the session, with the counter already moved
// on, and returns its plain data.
func (s *dnaSession) unwrapResponse(resp []byte, mode CommMode) ([]byte, bool) {
	if mode == CommPlain {
		return resp, true
	}
	if len(resp) < 8 {
		return nil, false
	}
	body, mac := resp[:len(resp)-8], resp[len(resp)-8:]
	if subtle.ConstantTimeCompare(mac, s.macOver(St424OK, s.ctr, body)) != 1 {
		return nil, false
	}
	if mode == CommMAC || len(body) == 0 {
		return body, true
	}
	if len(body)%16 != 0 {
		return nil, false
	}
	return unpad80(cbc(s.enc, s.iv(0x5A, 0xA5, s.ctr), body, false))
}

// exchange424 runs one command, with secure messaging when a session is open: the
// command in cmdMode, the answer in respMode. Any refusal ends the session, as it does
// on the tag.
func (t *Tag) exchange424(op string, ins byte, hdr, data []byte, cmdMode, respMode CommMode) ([]byte, error) {
	if err := t.need424(); err != nil {
		return nil, err
	}
	s := t.sess
	payload := append(bytes.Clone(hdr), data...)
	if s != nil {
		payload = s.wrapCommand(ins, hdr, data, cmdMode)
	}
	resp, st, err := t.raw424(op, ins, payload)
	if err != nil {
		t.sess = nil
		return nil, err
	}
	if st != St424OK {
		t.sess = nil
		return nil, &DNAStatusError{Op: op, Status: st}
	}
	if s == nil {
		return resp, nil
	}
	s.ctr++
	plain, ok := s.unwrapResponse(resp, respMode)
	if !ok {
		t.sess = nil
		return nil, fmt.Errorf("%w: %s: the answer's MAC or padding is wrong", ErrSecureChannel, op)
	}
	return plain, nil
}

// SelectDNAApp selects the NDEF application, which ends any secure channel.
func (t *Tag) SelectDNAApp() error {
	t.sess = nil
	if _, err := t.link.transmit("select the NDEF application", apduSelectNDEFApp); err != nil {
		return err
	}
	t.t4App = true
	if t.t4 != nil {
		t.t4.ndefReady = false
	}
	return nil
}

// GetFileSettings reads file fileNo's settings (MAC mode when authenticated).
func (t *Tag) GetFileSettings(fileNo byte) (FileSettings, error) {
	b, err := t.exchange424(fmt.Sprintf("get the settings of file %d", fileNo), ins424GetFileSet, []byte{fileNo}, nil, CommMAC, CommMAC)
	if err != nil {
		return FileSettings{}, err
	}
	return ParseFileSettings(b)
}

// ChangeFileSettings replaces file fileNo's settings (FULL mode; the file's Change
// key must be the session's). fs.Size and fs.FileType are not sent; settings the tag
// would refuse (see FileSettings.Check) are refused before anything is sent.
func (t *Tag) ChangeFileSettings(fileNo byte, fs FileSettings) error {
	op := fmt.Sprintf("change the settings of file %d", fileNo)
	if fs.Size == 0 {
		fs.Size = file424Size[fileNo]
	}
	if err := fs.Check(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	_, err := t.exchange424(op, ins424ChangeFileSet, []byte{fileNo}, fs.changeData(), CommFull, CommMAC)
	return err
}

// jamCRC32 is the complement of the IEEE CRC32, little-endian.
func jamCRC32(b []byte) []byte {
	c := ^crc32.ChecksumIEEE(b)
	return []byte{byte(c), byte(c >> 8), byte(c >> 16), byte(c >> 24)}
}

// ChangeKey sets key keyNo to newKey with version, under a session with key 0. For
// another key than the session's, oldKey must be its current value: the tag checks
// it through the CRC (a wrong one gives status 1E). Changing the session's own key
// ends the session.
func (t *Tag) ChangeKey(keyNo byte, oldKey, newKey []byte, version byte) error {
	op := fmt.Sprintf("change key %d", keyNo)
	if len(newKey) != 16 {
		return fmt.Errorf("%s: new key is %d bytes, want 16", op, len(newKey))
	}
	if t.sess == nil {
		return fmt.Errorf("%w: %s needs a session with key 0", ErrAuth, op)
	}
	if keyNo == t.sess.keyNo {
		data := append(bytes.Clone(newKey), version)
		_, err := t.exchange424(op, ins424ChangeKey, []byte{keyNo}, data, CommFull, CommPlain)
		t.sess = nil
		return err
	}
	if len(oldKey) != 16 {
		return fmt.Errorf("%s: old key is %d bytes, want 16", op, len(oldKey))
	}
	data := make([]byte, 16, 21)
	subtle.XORBytes(data, newKey, oldKey)
	data = append(append(data, version), jamCRC32(newKey)...)
	_, err := t.exchange424(op, ins424ChangeKey, []byte{keyNo}, data, CommFull, CommMAC)
	return err
}

// GetKeyVersion reads key keyNo's version (MAC mode when authenticated).
func (t *Tag) GetKeyVersion(keyNo byte) (byte, error) {
	b, err := t.exchange424(fmt.Sprintf("get the version of key %d", keyNo), ins424GetKeyVersion, []byte{keyNo}, nil, CommMAC, CommMAC)
	if err != nil {
		return 0, err
	}
	if len(b) != 1 {
		return 0, fmt.Errorf("%w: key version of %d bytes", ErrReaderFault, len(b))
	}
	return b[0], nil
}

// GetCardUID reads the real UID under the session (FULL answer), also when the tag
// shows a random ID.
func (t *Tag) GetCardUID() ([]byte, error) {
	if t.sess == nil {
		return nil, fmt.Errorf("%w: GetCardUID needs a session", ErrAuth)
	}
	b, err := t.exchange424("get the card UID", ins424GetCardUID, nil, nil, CommMAC, CommFull)
	if err != nil {
		return nil, err
	}
	if len(b) != 7 {
		return nil, fmt.Errorf("%w: card UID of %d bytes, want 7", ErrReaderFault, len(b))
	}
	return b, nil
}

// ReadSig reads the 56-byte originality signature: plain, or in FULL mode under a
// session. Check it with VerifyOriginality.
func (t *Tag) ReadSig() ([]byte, error) {
	sig, err := t.exchange424("read the originality signature", ins424ReadSig, []byte{0x00}, nil, CommMAC, CommFull)
	if err != nil {
		return nil, err
	}
	if len(sig) != 56 {
		return nil, fmt.Errorf("%w: originality signature has %d bytes, want 56", ErrReaderFault, len(sig))
	}
	return sig, nil
}

// Chunks for WriteData and ReadData: with FULL-mode padding and MAC they stay inside
// a short APDU.
const dataChunk424 = 128

func dataHeader424(fileNo byte, off, n int) []byte {
	return append(append([]byte{fileNo}, le24(off)...), le24(n)...)
}

// WriteData writes data at off in file fileNo, in mode (the file's comm mode, or
// plain when its write access is free), 128 bytes per command.
func (t *Tag) WriteData(fileNo byte, off int, data []byte, mode CommMode) error {
	for done := 0; done < len(data); {
		n := min(dataChunk424, len(data)-done)
		op := fmt.Sprintf("write %d bytes at %d of file %d", n, off+done, fileNo)
		respMode := CommMAC
		if mode == CommPlain {
			respMode = CommPlain
		}
		if _, err := t.exchange424(op, ins424WriteData, dataHeader424(fileNo, off+done, n), data[done:done+n], mode, respMode); err != nil {
			return err
		}
		done += n
	}
	return nil
}

// ReadData reads n bytes at off of file fileNo, in mode, 128 bytes per command.
func (t *Tag) ReadData(fileNo byte, off, n int, mode CommMode) ([]byte, error) {
	var out []byte
	cmdMode := min(mode, CommMAC)
	for len(out) < n {
		k := min(dataChunk424, n-len(out))
		op := fmt.Sprintf("read %d bytes at %d of file %d", k, off+len(out), fileNo)
		b, err := t.exchange424(op, ins424ReadData, dataHeader424(fileNo, off+len(out), k), nil, cmdMode, mode)
		if err != nil {
			return nil, err
		}
		if len(b) != k {
			return nil, fmt.Errorf("%w: %s: %d bytes came back", ErrReaderFault, op, len(b))
		}
		out = append(out, b...)
	}
	return out, nil
}

// DataMode is the comm mode WriteData (write) or ReadData uses on a file with these
// settings: plain when access is free, the file's mode otherwise.
func (fs FileSettings) DataMode(write bool) CommMode {
	k1, k2 := fs.Access.Read, fs.Access.ReadWrite
	if write {
		k1 = fs.Access.Write
	}
	if k1 == AccessFree || k2 == AccessFree {
		return CommPlain
	}
	return fs.CommMode
}

// ReadSUNURL reads the NDEF file as a phone does on a new tap (select the application
// and the file afresh, so that the tag mirrors a new SUN message) and returns its
// first URI. It ends any secure channel.
func (t *Tag) ReadSUNURL() (string, error) {
	if err := t.need424(); err != nil {
		return "", err
	}
	if err := t.SelectDNAApp(); err != nil {
		return "", err
	}
	t.t4 = nil
	msg, err := t.readNDEFType4()
	if err != nil {
		return "", err
	}
	m, err := ndef.Decode(msg)
	if err != nil {
		return "", fmt.Errorf("%w: the NDEF file does not hold a message: %v", ErrTagDamaged, err)
	}
	u, ok := ndef.FirstURI(m)
	if !ok {
		return "", errors.New("the NDEF message holds no URI")
	}
	return u, nil
}
