package emu

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/tagpay/tagpay/nfc"
)

// NTAG 424 DNA as a Type 4 tag (NFC Forum T4T 3.0, NXP NT4H2421Gx):
//   - the NDEF application D2760000850101 holds file 1 (CC, E103, 32 bytes), file 2
//     (NDEF, E104, 256 bytes) and file 3 (proprietary, E105, 128 bytes), with the
//     access rights and comm modes of their file settings; five AES-128 keys;
//   - SELECT answers 90 00 without FCI, whatever P2 asks; selecting the application
//     ends any authentication;
//   - ISO READ BINARY and UPDATE BINARY need free access (or the session's key with a
//     plain file): 69 82 otherwise. A read past the end returns what there is with
//     62 82; at or past the end, 6B 00;
//   - native commands come ISO-wrapped (CLA 90, status 91 xx) or raw through a
//     reader's native channel, where the status byte comes first: GetVersion (3
//     frames), AuthenticateEV2First and NonFirst, GetFileSettings, ChangeFileSettings,
//     ChangeKey, GetKeyVersion, WriteData, ReadData, GetFileCounters, GetCardUID,
//     Read_Sig, with secure messaging (MAC or FULL, command counter, TI) once
//     authenticated. Any error ends the session;
//   - with SDM on file 2, the first read after a selection (a new tap) increments the
//     read counter and mirrors what the file settings call for over the stored file;
//     later reads in the same selection serve that same snapshot;
//   - GET_VERSION answers 04 04 02 30 00 11 05, then 04 04 02 01 02 11 05, then the UID
//     and production data; an image's Version of 7 bytes replaces the first frame, of 14
//     the first two. READ_SIG answers the image's 56-byte signature, zeros without one
//     (encrypted when authenticated).
const (
	fileCC       = 0xE103
	fileNDEF     = 0xE104
	fileProp     = 0xE105
	ndefFileSize = 256
)

var (
	ndefAID = []byte{0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x01}

	hw424 = []byte{0x04, 0x04, 0x02, 0x30, 0x00, 0x11, 0x05} // vendor NXP, type 04, 424 DNA, storage 11
	sw424 = []byte{0x04, 0x04, 0x02, 0x01, 0x02, 0x11, 0x05}
)

// Native 424 DNA status bytes (the SW2 of ISO-wrapped answers, with SW1 91).
const (
	st424OK          = 0x00
	st424More        = 0xAF
	st424IllegalCmd  = 0x1C
	st424LengthError = 0x7E
	st424ParamError  = 0x9E
	cmd424AdditFrame = 0xAF
	cmd424GetVersion = 0x60
	cmd424ReadSig    = 0x3C
	iso7816CLA       = 0x00
	nativeWrappedCLA = 0x90
	insSelect        = 0xA4
	insReadBinary    = 0xB0
	insUpdateBinary  = 0xD6
)

type type4 struct {
	uid     []byte
	hwVer   []byte // GET_VERSION, first frame
	swVer   []byte // GET_VERSION, second frame
	version []byte // the image's version, given back as it came
	sig     []byte // READ_SIG answer: zeros (an unsigned clone) unless the image has one
	keys    [5]block16
	keyVer  [5]byte
	files   []*dnaFile // files 1, 2, 3
	counter uint32     // SDMReadCtr of file 2
	rand    io.Reader  // RndB, TI and PICC data padding; crypto/rand unless a test sets it

	// legacy is the image as given when it used the SUN template, and legacyState
	// the state it migrated to: while the state is unchanged the image is saved in
	// the form it came in.
	legacy      *nfc.Image
	legacyState []byte

	// Volatile state, lost at power-off.
	appSelected bool
	selected    int    // selected EF, 0 when none
	snapshot    []byte // file 2 as served since the last selection, when SDM is on
	versionStep int    // GET_VERSION frames sent so far, 0 when none is under way
	sess        *session
	pending     *authPending
}

func newType4(img *nfc.Image) (*type4, error) {
	if len(img.UID) != 7 {
		return nil, fmt.Errorf("emu: %s needs a 7-byte UID, image has %d bytes", img.Type, len(img.UID))
	}
	if 2+len(img.NDEF) > ndefFileSize {
		return nil, fmt.Errorf("emu: NDEF message of %d bytes does not fit the %d-byte NDEF file", len(img.NDEF), ndefFileSize)
	}
	if img.Counter > maxCounter {
		return nil, fmt.Errorf("emu: counter %d does not fit 24 bits", img.Counter)
	}
	t := &type4{
		uid:     bytes.Clone(img.UID),
		hwVer:   hw424,
		swVer:   sw424,
		counter: img.Counter,
		rand:    rand.Reader,
	}
	t.version = bytes.Clone(img.Version)
	switch len(img.Version) {
	case 0:
	case 7, 14:
		t.hwVer = bytes.Clone(img.Version[:7])
		if len(img.Version) == 14 {
			t.swVer = bytes.Clone(img.Version[7:])
		}
	default:
		return nil, fmt.Errorf("emu: %s version has %d bytes, want 7 (hardware) or 14 (hardware and software)", img.Type, len(img.Version))
	}
	if len(img.Signature) > 0 {
		if len(img.Signature) != 56 {
			return nil, fmt.Errorf("emu: %s signature has %d bytes, want 56", img.Type, len(img.Signature))
		}
		t.sig = bytes.Clone(img.Signature)
	} else {
		t.sig = make([]byte, 56)
	}
	state := img.DNA
	if state == nil {
		state = nfc.FactoryDNAState()
	}
	if err := t.load(state, img.NDEF); err != nil {
		return nil, err
	}
	if img.SUN != nil {
		if err := t.migrate(img.SUN); err != nil {
			return nil, err
		}
		t.legacy = img
		t.legacyState = t.stateKey()
	}
	return t, nil
}

// load takes keys and files from an image's state; file 2 holds NLEN and ndefMsg.
func (t *type4) load(s *nfc.DNAState, ndefMsg []byte) error {
	if len(s.Keys) != 5 || len(s.Files) != 3 {
		return fmt.Errorf("emu: NTAG 424 DNA state has %d keys and %d files, want 5 and 3", len(s.Keys), len(s.Files))
	}
	for i, k := range s.Keys {
		if len(k.Key) != 16 {
			return fmt.Errorf("emu: key %d is %d bytes, want 16", i, len(k.Key))
		}
		copy(t.keys[i][:], k.Key)
		t.keyVer[i] = k.Version
	}
	sizes := []int{32, ndefFileSize, 128}
	for i, sf := range s.Files {
		f := &dnaFile{no: byte(i + 1), data: make([]byte, sizes[i])}
		b := sf.Settings
		if sf.No != f.no || len(b) < 7 || b[0] != 0 || int(b[4])|int(b[5])<<8|int(b[6])<<16 != sizes[i] {
			return fmt.Errorf("emu: file %d settings % X do not describe file %d of %d bytes", sf.No, []byte(b), f.no, sizes[i])
		}
		opt, ar, sdm, st := parseSettings(f, append([]byte{b[1], b[2], b[3]}, b[7:]...))
		if st != st424OK {
			return fmt.Errorf("emu: file %d settings % X are not valid (status %02X)", f.no, []byte(b), st)
		}
		f.opt, f.ar, f.sdm = opt, ar, sdm
		switch {
		case f.no == 2 && sf.Data == nil:
			copy(f.data, nfc.NDEFFile424(ndefMsg))
		case len(sf.Data) != sizes[i]:
			return fmt.Errorf("emu: file %d holds %d bytes, want %d", f.no, len(sf.Data), sizes[i])
		default:
			copy(f.data, sf.Data)
		}
		t.files = append(t.files, f)
	}
	return nil
}

// migrate turns an older image's SUN template into what a real tag would hold: the
// URL template in file 2, SDM settings pointing at it, the meta key as key 1 and the
// file key as key 2.
func (t *type4) migrate(sun *nfc.SUNConfig) error {
	tpl, err := nfc.NewSUNTemplate(sun.BaseURL, nfc.SUNTemplateOptions{MetaKeyNo: 1, FileKeyNo: 2, Plain: sun.Plain})
	if err != nil {
		return fmt.Errorf("emu: SUN template: %w", err)
	}
	if len(sun.FileKey) != 16 || (!sun.Plain && len(sun.MetaKey) != 16) {
		return fmt.Errorf("emu: SUN keys of %d and %d bytes, want 16", len(sun.MetaKey), len(sun.FileKey))
	}
	f := t.files[1]
	fs, _ := nfc.FactoryFileSettings424(2)
	fs.Access = nfc.AccessRights{Read: f.readKey(), Write: f.writeKey(), ReadWrite: f.rwKey(), Change: f.changeKey()}
	fs.SDM = &tpl.SDM
	b := fs.Bytes()
	opt, ar, sdm, st := parseSettings(f, append([]byte{b[1], b[2], b[3]}, b[7:]...))
	if st != st424OK {
		return fmt.Errorf("emu: SUN template of %q gives settings the tag refuses (status %02X)", sun.BaseURL, st)
	}
	f.opt, f.ar, f.sdm = opt, ar, sdm
	clear(f.data)
	copy(f.data, tpl.File)
	if !sun.Plain {
		copy(t.keys[1][:], sun.MetaKey)
	}
	copy(t.keys[2][:], sun.FileKey)
	return nil
}

// stateKey is the tag's persistent state but its counter, for comparisons.
func (t *type4) stateKey() []byte {
	var b []byte
	for i := range t.keys {
		b = append(append(b, t.keys[i][:]...), t.keyVer[i])
	}
	for _, f := range t.files {
		b = append(append(b, f.fileSettings()...), f.data...)
	}
	return b
}

func (t *type4) powerOn() {
	t.appSelected = false
	t.selected = 0
	t.snapshot = nil
	t.versionStep = 0
	t.sess, t.pending = nil, nil
}

// random fills b from the tag's random source; a failing source gives zeros rather
// than a panic, which only a test could arrange.
func (t *type4) random(b []byte) {
	if _, err := io.ReadFull(t.rand, b); err != nil {
		clear(b)
	}
}

// apdu answers one ISO 7816-4 command APDU.
func (t *type4) apdu(b []byte) []byte {
	c, ok := parseAPDU(b)
	if !ok {
		return sw(0x67, 0x00)
	}
	if c.cla != nativeWrappedCLA {
		t.versionStep = 0
		t.pending = nil
	}
	switch {
	case c.cla == nativeWrappedCLA:
		if c.p1 != 0 || c.p2 != 0 {
			return sw(0x91, st424ParamError)
		}
		out := t.native(append([]byte{c.ins}, c.data...))
		status := out[0]
		return append(out[1:], 0x91, status)
	case c.cla != iso7816CLA:
		return sw(0x6E, 0x00)
	case c.ins == insSelect:
		return t.selectFile(c)
	case c.ins == insReadBinary:
		return t.readBinary(c)
	case c.ins == insUpdateBinary:
		return t.updateBinary(c)
	}
	return sw(0x6D, 0x00)
}

func (t *type4) selectFile(c command) []byte {
	switch c.p1 {
	case 0x04: // by DF name
		if !bytes.Equal(c.data, ndefAID) {
			return sw(0x6A, 0x82)
		}
		t.appSelected, t.selected, t.snapshot, t.sess = true, 0, nil, nil
		return sw(0x90, 0x00)
	case 0x00, 0x02: // by file identifier
		if len(c.data) != 2 {
			return sw(0x67, 0x00)
		}
		fid := int(binary.BigEndian.Uint16(c.data))
		if !t.appSelected || fid < fileCC || fid > fileProp {
			return sw(0x6A, 0x82)
		}
		t.selected, t.snapshot = fid, nil
		return sw(0x90, 0x00)
	}
	return sw(0x6A, 0x86)
}

// isoFile is the selected file when the ISO commands may reach it with access k.
func (t *type4) isoFile(write bool) (*dnaFile, []byte) {
	if t.selected == 0 {
		return nil, sw(0x69, 0x86)
	}
	f := t.files[t.selected-fileCC]
	keys := []byte{f.readKey(), f.rwKey()}
	if write {
		keys = []byte{f.writeKey(), f.rwKey()}
	}
	for _, k := range keys {
		if k == accFree || (t.allowed(k) && f.commMode() == 0) {
			return f, nil
		}
	}
	return nil, sw(0x69, 0x82)
}

func (t *type4) readBinary(c command) []byte {
	if c.p1&0x80 != 0 {
		return sw(0x6A, 0x81) // short EF identifiers are not supported
	}
	f, refused := t.isoFile(false)
	if refused != nil {
		return refused
	}
	content, st := t.content(f)
	if st != st424OK {
		return sw(0x69, 0x82)
	}
	off := int(c.p1)<<8 | int(c.p2)
	if off >= len(content) {
		return sw(0x6B, 0x00)
	}
	n := c.le
	if !c.hasLe {
		n = 0
	}
	if off+n > len(content) {
		return append(bytes.Clone(content[off:]), 0x62, 0x82)
	}
	return append(bytes.Clone(content[off:off+n]), 0x90, 0x00)
}

func (t *type4) updateBinary(c command) []byte {
	if c.p1&0x80 != 0 {
		return sw(0x6A, 0x81)
	}
	f, refused := t.isoFile(true)
	if refused != nil {
		return refused
	}
	off := int(c.p1)<<8 | int(c.p2)
	if len(c.data) == 0 {
		return sw(0x67, 0x00)
	}
	if off+len(c.data) > len(f.data) {
		return sw(0x6B, 0x00)
	}
	copy(f.data[off:], c.data)
	if f.no == 2 {
		t.snapshot = nil
	}
	return sw(0x90, 0x00)
}

// native answers a native command frame: status byte first, then data.
func (t *type4) native(frame []byte) []byte {
	if len(frame) == 0 {
		return t.fail(st424LengthError)
	}
	step := t.versionStep
	t.versionStep = 0
	pending := t.pending
	t.pending = nil
	cmd, d := frame[0], frame[1:]
	switch cmd {
	case cmd424GetVersion:
		if len(d) != 0 {
			return t.fail(st424LengthError)
		}
		t.versionStep = 1
		return append([]byte{st424More}, t.hwVer...)
	case cmd424AdditFrame:
		switch {
		case pending != nil:
			return t.authenticate2(pending, d)
		case step == 1:
			t.versionStep = 2
			return append([]byte{st424More}, t.swVer...)
		case step == 2:
			out := append([]byte{st424OK}, t.uid...)
			// Batch number, then batch/fab key, calendar week and year of production.
			return append(out, 0xCF, 0x39, 0x41, 0xB0, 0x01, 0x20, 0x21)
		}
	case cmd424ReadSig:
		return t.readSig(d)
	case cmd424AuthFirst, cmd424AuthNonFirst:
		return t.authenticate(cmd, d)
	case cmd424GetFileSet:
		return t.getFileSettings(d)
	case cmd424ChangeFileSet:
		return t.changeFileSettings(d)
	case cmd424ChangeKey:
		return t.changeKey(d)
	case cmd424GetKeyVersion:
		return t.getKeyVersion(d)
	case cmd424GetCardUID:
		return t.getCardUID(d)
	case cmd424WriteData:
		return t.writeData(d)
	case cmd424ReadData:
		return t.readData(d)
	case cmd424GetFileCounter:
		return t.getFileCounters(d)
	}
	return t.fail(st424IllegalCmd)
}

// transceive is the 424 DNA behind a reader's native channel: ISO APDUs pass through
// (their R-APDU is the answer), anything else is a native command.
func (t *type4) transceive(frame []byte) []byte {
	if len(frame) >= 4 && (frame[0] == iso7816CLA || frame[0] == nativeWrappedCLA) {
		return t.apdu(frame)
	}
	return t.native(frame)
}

func (t *type4) image() *nfc.Image {
	img := &nfc.Image{
		Type:      nfc.TypeNTAG424DNA,
		UID:       bytes.Clone(t.uid),
		Version:   bytes.Clone(t.version),
		Signature: bytes.Clone(t.sig),
		Counter:   t.counter,
	}
	if t.legacy != nil && bytes.Equal(t.stateKey(), t.legacyState) {
		img.NDEF = bytes.Clone(t.legacy.NDEF)
		sun := *t.legacy.SUN
		sun.MetaKey = bytes.Clone(sun.MetaKey)
		sun.FileKey = bytes.Clone(sun.FileKey)
		img.SUN = &sun
		img.DNA = t.legacy.DNA.Clone()
		return img
	}
	file := t.files[1].data
	img.NDEF = nfc.MessageOf424(file)
	s := &nfc.DNAState{}
	for i := range t.keys {
		s.Keys = append(s.Keys, nfc.DNAKey{Key: bytes.Clone(t.keys[i][:]), Version: t.keyVer[i]})
	}
	for _, f := range t.files {
		df := nfc.DNAFile{No: f.no, Settings: f.fileSettings()}
		// File 2 is the NDEF message unless bytes lie past it (a torn write).
		if f.no != 2 || !bytes.Equal(f.data, nfc.NDEFFile424(img.NDEF)) {
			df.Data = bytes.Clone(f.data)
		}
		s.Files = append(s.Files, df)
	}
	img.DNA = s
	return img
}
