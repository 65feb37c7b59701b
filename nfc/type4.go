package nfc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Type 4 facts (NFC Forum T4T).
const (
	t4FileCC        = 0xE103
	t4AccessFree    = 0x00
	t4AccessNone    = 0xFF
	t4ShortLeMax    = 256 // Le 00 in a short APDU
	t4ShortLcMax    = 255
	t4FirstReadMax  = 128 // NLEN and a payment URL in one exchange
	t4MaxFileOffset = 0x7FFF
)

// t4State is what the CC file of a Type 4 tag says, read once per Tag.
type t4State struct {
	mle, mlc  int
	fileID    uint16
	fileSize  int
	readAcc   byte
	writeAcc  byte
	ccRaw     []byte
	ndefReady bool // the NDEF file is the selected file
}

func selectFile(fid uint16) []byte {
	return []byte{0x00, 0xA4, 0x00, 0x0C, 0x02, byte(fid >> 8), byte(fid)}
}

// t4Read is READ BINARY of n (1..256) bytes at off of the selected file.
func (t *Tag) t4Read(op string, off, n int) ([]byte, error) {
	data, err := t.link.transmit(op, []byte{0x00, 0xB0, byte(off >> 8), byte(off), byte(n)})
	if err != nil {
		return nil, err
	}
	if len(data) != n {
		return nil, fmt.Errorf("%w: %s: tag returned %d bytes, want %d", ErrReaderFault, op, len(data), n)
	}
	return data, nil
}

// loadCC selects the NDEF application and reads its capability container.
func (t *Tag) loadCC() (*t4State, error) {
	if t.t4 != nil {
		return t.t4, nil
	}
	if !t.t4App {
		if _, err := t.link.transmit("select the NDEF application", apduSelectNDEFApp); err != nil {
			return nil, err
		}
		t.t4App = true
	}
	if _, err := t.link.transmit("select the capability container", selectFile(t4FileCC)); err != nil {
		return nil, err
	}
	cc, err := t.t4Read("read the capability container", 0, 15)
	if err != nil {
		return nil, err
	}
	s, err := parseT4CC(cc)
	if err != nil {
		return nil, err
	}
	t.t4 = s
	return s, nil
}

// parseT4CC reads CCLEN, mapping version, MLe, MLc and the NDEF file control TLV.
func parseT4CC(cc []byte) (*t4State, error) {
	if len(cc) < 15 {
		return nil, fmt.Errorf("%w: capability container of %d bytes, want 15", ErrTagDamaged, len(cc))
	}
	if v := cc[2] >> 4; v != 2 && v != 3 {
		return nil, fmt.Errorf("%w: capability container announces mapping version %d.%d", ErrUnsupported, v, cc[2]&0x0F)
	}
	if cc[7] != 0x04 || cc[8] < 6 {
		return nil, fmt.Errorf("%w: capability container has no NDEF file control TLV (% X)", ErrTagDamaged, cc[7:9])
	}
	s := &t4State{
		mle:      int(binary.BigEndian.Uint16(cc[3:5])),
		mlc:      int(binary.BigEndian.Uint16(cc[5:7])),
		fileID:   binary.BigEndian.Uint16(cc[9:11]),
		fileSize: int(binary.BigEndian.Uint16(cc[11:13])),
		readAcc:  cc[13],
		writeAcc: cc[14],
		ccRaw:    bytes.Clone(cc),
	}
	if s.mle < 0x0F || s.mlc < 1 {
		return nil, fmt.Errorf("%w: capability container announces MLe %d and MLc %d", ErrTagDamaged, s.mle, s.mlc)
	}
	if s.fileSize < 2 {
		return nil, fmt.Errorf("%w: NDEF file of %d bytes cannot hold NLEN", ErrTagDamaged, s.fileSize)
	}
	s.mle = min(s.mle, t4ShortLeMax)
	s.mlc = min(s.mlc, t4ShortLcMax)
	s.fileSize = min(s.fileSize, t4MaxFileOffset)
	return s, nil
}

func (t *Tag) selectNDEFFile(s *t4State) error {
	if s.ndefReady {
		return nil
	}
	if _, err := t.link.transmit("select the NDEF file", selectFile(s.fileID)); err != nil {
		return err
	}
	s.ndefReady = true
	return nil
}

// readNDEFType4 reads NLEN and the start of the message in one exchange, then the
// rest in MLe chunks.
func (t *Tag) readNDEFType4() ([]byte, error) {
	s, err := t.loadCC()
	if err != nil {
		return nil, err
	}
	if s.readAcc != t4AccessFree {
		return nil, fmt.Errorf("%w: the NDEF file is not freely readable (read access %02X)", ErrUnsupported, s.readAcc)
	}
	if err := t.selectNDEFFile(s); err != nil {
		return nil, err
	}
	first := min(s.mle, s.fileSize, t4FirstReadMax)
	head, err := t.t4Read("read the NDEF file", 0, first)
	if err != nil {
		return nil, err
	}
	nlen := int(binary.BigEndian.Uint16(head))
	if 2+nlen > s.fileSize {
		return nil, fmt.Errorf("%w: NLEN %d runs past the %d-byte NDEF file", ErrTagDamaged, nlen, s.fileSize)
	}
	msg := bytes.Clone(head[2:min(first, 2+nlen)])
	for len(msg) < nlen {
		off := 2 + len(msg)
		chunk, err := t.t4Read(fmt.Sprintf("read the NDEF file at %d", off), off, min(s.mle, nlen-len(msg)))
		if err != nil {
			return nil, err
		}
		msg = append(msg, chunk...)
	}
	return msg, nil
}

// writeNDEFType4 follows T4T's update procedure: NLEN 0 with the first chunk, the
// rest of the message, then the real NLEN, so a torn write leaves an empty file
// rather than a truncated message.
func (t *Tag) writeNDEFType4(msg []byte) error {
	s, err := t.loadCC()
	if err != nil {
		return err
	}
	if s.writeAcc != t4AccessFree {
		return fmt.Errorf("%w: the NDEF file is not freely writable (write access %02X)", ErrReadOnly, s.writeAcc)
	}
	if 2+len(msg) > s.fileSize {
		return &TooLargeError{Size: len(msg), Max: s.fileSize - 2, Tag: t.Name}
	}
	if err := t.selectNDEFFile(s); err != nil {
		return err
	}
	body := append([]byte{0, 0}, msg...)
	planned := len(body)
	if len(msg) > 0 {
		planned += 2
	}
	written := 0
	update := func(off int, data []byte) error {
		apdu := append([]byte{0x00, 0xD6, byte(off >> 8), byte(off), byte(len(data))}, data...)
		if _, err := t.link.transmit(fmt.Sprintf("write the NDEF file at %d", off), apdu); err != nil {
			return &TornWriteError{BytesWritten: written, BytesPlanned: planned, Err: err}
		}
		written += len(data)
		return nil
	}
	for off := 0; off < len(body); off += s.mlc {
		if err := update(off, body[off:min(off+s.mlc, len(body))]); err != nil {
			return err
		}
	}
	if len(msg) > 0 {
		if err := update(0, []byte{byte(len(msg) >> 8), byte(len(msg))}); err != nil {
			return err
		}
	}
	got, err := t.readNDEFType4()
	if err != nil {
		if errors.Is(err, ErrTagRemoved) {
			return &TornWriteError{BytesWritten: written, BytesPlanned: planned, Verifying: true, Err: err}
		}
		return fmt.Errorf("read back after writing: %w", err)
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("%w: read back %d bytes that differ from the %d bytes written (a tag with SUN mirroring on serves its own URL instead)", ErrTagDamaged, len(got), len(msg))
	}
	return nil
}

func (t *Tag) dumpType4() (*Image, error) {
	msg, err := t.readNDEFType4()
	if err != nil {
		return nil, err
	}
	// An image's version is a Type 2 GET_VERSION reply; a Type 4 tag's GetVersion is
	// another command, and the emulator answers its own.
	img := &Image{Type: t.Type, UID: bytes.Clone(t.UID), NDEF: msg}
	if t.Type == TypeNTAG424DNA {
		if sig, err := t.signatureType4(); err == nil {
			img.Signature = sig
		} else if errors.Is(err, ErrTagRemoved) {
			return nil, err
		}
	}
	return img, nil
}

var apduReadSig424 = []byte{0x90, 0x3C, 0x00, 0x00, 0x01, 0x00, 0x00}

func (t *Tag) signatureType4() ([]byte, error) {
	if t.Type != TypeNTAG424DNA {
		return nil, fmt.Errorf("%w: %s has no originality signature", ErrUnsupported, t.Name)
	}
	if t.sess != nil {
		return t.ReadSig() // under a session the signature comes encrypted
	}
	sig, err := t.link.transmit4("read the originality signature", apduReadSig424)
	if err != nil {
		return nil, err
	}
	if len(sig) != 56 {
		return nil, fmt.Errorf("%w: originality signature has %d bytes, want 56", ErrReaderFault, len(sig))
	}
	// Reading the signature leaves the NDEF file unselected on some firmware.
	if t.t4 != nil {
		t.t4.ndefReady = false
	}
	return sig, nil
}

func (t *Tag) infoType4(in *Info) error {
	s, err := t.loadCC()
	if err != nil {
		return err
	}
	in.Capacity = s.fileSize - 2
	in.MaxMessage = s.fileSize - 2
	switch {
	case s.writeAcc == t4AccessFree:
		in.Lock = LockWritable
	case s.writeAcc == t4AccessNone:
		in.Lock = LockReadOnly
	default:
		in.Lock = LockPartial // proprietary access: writing needs a key
	}
	if msg, err := t.readNDEFType4(); err == nil {
		in.NDEFLength = len(msg)
	} else if errors.Is(err, ErrTagRemoved) {
		return err
	}
	return nil
}
