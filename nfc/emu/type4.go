package emu

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/ndef"
)

// NTAG 424 DNA as a Type 4 tag (NFC Forum T4T 3.0, NXP NT4H2421Gx):
//   - the NDEF application D2760000850101 holds the CC file E103 and the NDEF file E104
//     of 256 bytes, both readable and the NDEF file writable without keys;
//   - SELECT answers 90 00 without FCI, whatever P2 asks;
//   - a READ BINARY past the end returns what there is with 62 82; at or past the end, 6B 00;
//   - with SUN settings, the first READ BINARY of E104 after it is selected (a new tap)
//     increments the SUN counter and serves one URI record holding BuildSUN's URL; later
//     reads in the same selection serve that same snapshot. UPDATE BINARY still changes
//     the stored file (it shows in Image) but reads keep serving the SUN record, as the
//     real tag's mirror overlays its file;
//   - native commands come ISO-wrapped (CLA 90: GET_VERSION 60 then AF, AF; READ_SIG 3C
//     00) or raw through a reader's native channel, where the status byte comes first;
//   - GET_VERSION answers 04 04 02 30 00 11 05, then 04 04 02 01 02 11 05, then the UID
//     and production data; an image's Version of 7 bytes replaces the first frame, of 14
//     the first two. READ_SIG answers the image's 56-byte signature, zeros without one.
const (
	fileCC       = 0xE103
	fileNDEF     = 0xE104
	ndefFileSize = 256
)

var (
	ndefAID = []byte{0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x01}

	// CC file: CCLEN 23, mapping version 2.0, MLe 256, MLc 255, NDEF file E104 of 256
	// bytes with free read and write, then the proprietary file E105 as NXP ships it.
	ccFile = []byte{
		0x00, 0x17, 0x20, 0x01, 0x00, 0x00, 0xFF,
		0x04, 0x06, 0xE1, 0x04, 0x01, 0x00, 0x00, 0x00,
		0x05, 0x06, 0xE1, 0x05, 0x00, 0x80, 0x82, 0x83,
	}

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
	file    []byte // the NDEF file: NLEN then the message, zero padded
	sun     *nfc.SUNConfig
	counter uint32

	// Volatile state, lost at power-off.
	appSelected bool
	selected    int    // selected EF, 0 when none
	snapshot    []byte // NDEF file as served since the last selection, when SUN is on
	versionStep int    // GET_VERSION frames sent so far, 0 when none is under way
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
		file:    make([]byte, ndefFileSize),
		counter: img.Counter,
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
	binary.BigEndian.PutUint16(t.file, uint16(len(img.NDEF)))
	copy(t.file[2:], img.NDEF)
	if img.SUN != nil {
		sun := *img.SUN
		sun.MetaKey = bytes.Clone(sun.MetaKey)
		sun.FileKey = bytes.Clone(sun.FileKey)
		t.sun = &sun
		// Build the largest URL once so that a bad key or an oversized base URL fails
		// here, not on some later tap.
		if _, err := t.sunFile(maxCounter); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (t *type4) powerOn() {
	t.appSelected = false
	t.selected = 0
	t.snapshot = nil
	t.versionStep = 0
}

// sunFile is the NDEF file holding the SUN URL for one counter value.
func (t *type4) sunFile(counter uint32) ([]byte, error) {
	url, err := nfc.BuildSUN(t.sun.BaseURL, t.uid, counter, t.sun.MetaKey, t.sun.FileKey, t.sun.Plain)
	if err != nil {
		return nil, fmt.Errorf("emu: SUN URL: %w", err)
	}
	msg, err := ndef.Encode(ndef.Message{ndef.NewURI(url)})
	if err != nil {
		return nil, fmt.Errorf("emu: SUN record: %w", err)
	}
	if 2+len(msg) > ndefFileSize {
		return nil, fmt.Errorf("emu: SUN record of %d bytes does not fit the %d-byte NDEF file", len(msg), ndefFileSize)
	}
	f := make([]byte, ndefFileSize)
	binary.BigEndian.PutUint16(f, uint16(len(msg)))
	copy(f[2:], msg)
	return f, nil
}

// apdu answers one ISO 7816-4 command APDU.
func (t *type4) apdu(b []byte) []byte {
	c, ok := parseAPDU(b)
	if !ok {
		return sw(0x67, 0x00)
	}
	if c.cla != nativeWrappedCLA {
		t.versionStep = 0
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
		t.appSelected, t.selected, t.snapshot = true, 0, nil
		return sw(0x90, 0x00)
	case 0x00, 0x02: // by file identifier
		if len(c.data) != 2 {
			return sw(0x67, 0x00)
		}
		fid := int(binary.BigEndian.Uint16(c.data))
		if !t.appSelected || (fid != fileCC && fid != fileNDEF) {
			return sw(0x6A, 0x82)
		}
		t.selected, t.snapshot = fid, nil
		return sw(0x90, 0x00)
	}
	return sw(0x6A, 0x86)
}

func (t *type4) readBinary(c command) []byte {
	if c.p1&0x80 != 0 {
		return sw(0x6A, 0x81) // short EF identifiers are not supported
	}
	var content []byte
	switch t.selected {
	case fileCC:
		content = ccFile
	case fileNDEF:
		content = t.file
		if t.sun != nil {
			if t.snapshot == nil {
				if t.counter >= maxCounter {
					return sw(0x69, 0x82) // the real tag stops mirroring at the end of its counter
				}
				f, err := t.sunFile(t.counter + 1)
				if err != nil {
					return sw(0x6F, 0x00)
				}
				t.counter++
				t.snapshot = f
			}
			content = t.snapshot
		}
	default:
		return sw(0x69, 0x86)
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
	switch t.selected {
	case fileNDEF:
	case fileCC:
		return sw(0x69, 0x82) // the CC file is read-only
	default:
		return sw(0x69, 0x86)
	}
	off := int(c.p1)<<8 | int(c.p2)
	if len(c.data) == 0 {
		return sw(0x67, 0x00)
	}
	if off+len(c.data) > len(t.file) {
		return sw(0x6B, 0x00)
	}
	copy(t.file[off:], c.data)
	return sw(0x90, 0x00)
}

// native answers a native command frame: status byte first, then data.
func (t *type4) native(frame []byte) []byte {
	if len(frame) == 0 {
		return []byte{st424LengthError}
	}
	step := t.versionStep
	t.versionStep = 0
	switch frame[0] {
	case cmd424GetVersion:
		if len(frame) != 1 {
			return []byte{st424LengthError}
		}
		t.versionStep = 1
		return append([]byte{st424More}, t.hwVer...)
	case cmd424AdditFrame:
		switch step {
		case 1:
			t.versionStep = 2
			return append([]byte{st424More}, t.swVer...)
		case 2:
			out := append([]byte{st424OK}, t.uid...)
			// Batch number, then batch/fab key, calendar week and year of production.
			return append(out, 0xCF, 0x39, 0x41, 0xB0, 0x01, 0x20, 0x21)
		}
	case cmd424ReadSig:
		if len(frame) != 2 || frame[1] != 0 {
			return []byte{st424ParamError}
		}
		return append([]byte{st424OK}, t.sig...)
	}
	return []byte{st424IllegalCmd}
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
	n := int(binary.BigEndian.Uint16(t.file))
	if n > ndefFileSize-2 {
		n = ndefFileSize - 2 // a writer left an NLEN larger than the file
	}
	img.NDEF = bytes.Clone(t.file[2 : 2+n])
	if t.sun != nil {
		sun := *t.sun
		sun.MetaKey = bytes.Clone(sun.MetaKey)
		sun.FileKey = bytes.Clone(sun.FileKey)
		img.SUN = &sun
	}
	return img
}
