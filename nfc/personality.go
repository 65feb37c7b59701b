package nfc

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Status words a reader answers pseudo-APDUs with.
const (
	swOK           = 0x9000
	swFailed       = 0x6300
	swNotSupported = 0x6A81
)

// personality is how a reader lets a program reach a Type 2 tag's own command set
// (GET_VERSION, FAST_READ, READ_SIG, PWD_AUTH) beyond PC/SC's READ/UPDATE BINARY.
type personality struct {
	// Name is what reports show: "acr122", "part3" or "none".
	Name string
	// ReadBinaryMax is how many bytes one READ BINARY (FF B0) returns.
	ReadBinaryMax int
	// NativeMax bounds the tag data one native exchange may carry back; 0 when the
	// reader has no native channel.
	NativeMax int

	start []byte // opens the channel; nil when nothing needs opening
	stop  []byte // closes it
	wrap  func(cmd []byte) []byte
	// unwrap returns the tag's reply, errNotSpoken when the reader did not understand
	// the wrapper at all, or a *tagError when the tag failed the command.
	unwrap func(rapdu []byte) ([]byte, error)
}

// errNotSpoken says a reader rejected a personality's wrapper: try the next one.
var errNotSpoken = errors.New("reader does not speak this personality")

// personalities are tried in order; the first the reader understands wins. "none" is
// the fallback: storage-card READ/UPDATE BINARY only.
var personalities = []*personality{
	{
		// ACR122U and other PN532 readers: Direct Transmit carrying InCommunicateThru.
		// The PN532 frame holds 255 bytes; 240 keeps FAST_READ to whole pages with room
		// for the D5 43 status header.
		Name: "acr122", ReadBinaryMax: 16, NativeMax: 240,
		wrap:   acr122Wrap,
		unwrap: acr122Unwrap,
	},
	{
		// PC/SC Part 3 transparent session (ACR1252U and the like), whose READ BINARY
		// also reads up to 60 pages at once.
		Name: "part3", ReadBinaryMax: 240, NativeMax: 240,
		start:  []byte{0xFF, 0xC2, 0x00, 0x00, 0x02, 0x81, 0x00},
		stop:   []byte{0xFF, 0xC2, 0x00, 0x00, 0x02, 0x82, 0x00},
		wrap:   part3Wrap,
		unwrap: part3Unwrap,
	},
}

// personalityNone is a reader with READ/UPDATE BINARY only.
var personalityNone = &personality{Name: "none", ReadBinaryMax: 16}

func acr122Wrap(cmd []byte) []byte {
	apdu := []byte{0xFF, 0x00, 0x00, 0x00, byte(len(cmd) + 2), 0xD4, 0x42}
	return append(apdu, cmd...)
}

func acr122Unwrap(r []byte) ([]byte, error) {
	body, sw, err := splitSW(r)
	if err != nil {
		return nil, err
	}
	if sw != swOK || len(body) < 3 || body[0] != 0xD5 || body[1] != 0x43 {
		return nil, errNotSpoken
	}
	// The low six bits of the PN532 status are its error code; 0 is success.
	if code := body[2] & 0x3F; code != 0 {
		return nil, &tagError{detail: fmt.Sprintf("the reader's chip reported error 0x%02X (the tag did not answer)", code)}
	}
	return body[3:], nil
}

func part3Wrap(cmd []byte) []byte {
	obj := berTLV(0x95, cmd)
	apdu := []byte{0xFF, 0xC2, 0x00, 0x01, byte(len(obj))}
	apdu = append(apdu, obj...)
	return append(apdu, 0x00)
}

func part3Unwrap(r []byte) ([]byte, error) {
	body, _, err := splitSW(r)
	if err != nil {
		return nil, err
	}
	// Every transparent-exchange answer opens with the generic status object C0; its
	// SW mirrors the outcome (64 01 when the tag stayed silent), so the SW alone does
	// not tell a reader that understood from one that did not.
	if len(body) < 5 || body[0] != 0xC0 || body[1] != 0x03 {
		return nil, errNotSpoken
	}
	var data []byte
	seen := false
	for len(body) > 0 {
		tag, val, rest, err := readBER(body)
		if err != nil {
			return nil, &tagError{detail: fmt.Sprintf("malformed transparent-session reply: %v", err)}
		}
		body = rest
		switch tag {
		case 0xC0: // generic error status: failing object, SW1, SW2
			if len(val) == 3 && (val[1] != 0x90 || val[2] != 0x00) {
				if val[1] == 0x64 {
					return nil, &tagError{detail: "the tag did not answer"}
				}
				return nil, &tagError{detail: fmt.Sprintf("the reader reported transparent-session error %02X %02X", val[1], val[2])}
			}
		case 0x96: // ICC status: 00 00 when the tag answered correctly
			if !allZero(val) {
				return nil, &tagError{detail: fmt.Sprintf("the tag answered with an error (status % X)", val)}
			}
		case 0x97:
			data, seen = val, true
		}
	}
	if !seen {
		return nil, &tagError{detail: "the reader returned no tag data"}
	}
	return data, nil
}

// berTLV encodes one BER-TLV object with a one-byte tag.
func berTLV(tag byte, val []byte) []byte {
	out := []byte{tag}
	switch {
	case len(val) < 0x80:
		out = append(out, byte(len(val)))
	case len(val) <= 0xFF:
		out = append(out, 0x81, byte(len(val)))
	default:
		out = append(out, 0x82, byte(len(val)>>8), byte(len(val)))
	}
	return append(out, val...)
}

// readBER splits one BER-TLV object with a one-byte tag off b.
func readBER(b []byte) (tag byte, val, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, fmt.Errorf("truncated object (%d bytes)", len(b))
	}
	tag, n, off := b[0], int(b[1]), 2
	switch b[1] {
	case 0x81:
		if len(b) < 3 {
			return 0, nil, nil, errors.New("truncated length")
		}
		n, off = int(b[2]), 3
	case 0x82:
		if len(b) < 4 {
			return 0, nil, nil, errors.New("truncated length")
		}
		n, off = int(binary.BigEndian.Uint16(b[2:4])), 4
	default:
		if n >= 0x80 {
			return 0, nil, nil, fmt.Errorf("unsupported length byte %02X", b[1])
		}
	}
	if len(b)-off < n {
		return 0, nil, nil, fmt.Errorf("object %02X claims %d bytes, %d present", tag, n, len(b)-off)
	}
	return tag, b[off : off+n], b[off+n:], nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func splitSW(r []byte) ([]byte, uint16, error) {
	if len(r) < 2 {
		return nil, 0, fmt.Errorf("%w: reply of %d bytes has no status word", ErrReaderFault, len(r))
	}
	n := len(r) - 2
	return r[:n], binary.BigEndian.Uint16(r[n:]), nil
}

// tagError is a tag that failed or did not answer a command it was sent.
type tagError struct {
	op     string
	detail string
	nak    byte // the tag's 4-bit NAK, when the reader passed it on (hasNAK)
	hasNAK bool
}

func (e *tagError) Error() string {
	if e.op == "" {
		return "tag error: " + e.detail
	}
	return e.op + ": " + e.detail
}

func (e *tagError) Is(target error) bool { return target == ErrDevice || target == ErrReaderFault }

// statusError is an APDU answered with a status word other than 90 00.
type statusError struct {
	op string
	sw uint16
}

func (e *statusError) Error() string {
	switch e.sw {
	case swFailed:
		return fmt.Sprintf("%s: the reader reported failure (SW 63 00): the tag did not answer or refused; keep it still on the reader, check it is not locked or password-protected, and retry", e.op)
	case swNotSupported:
		return fmt.Sprintf("%s: the reader does not support this command (SW 6A 81)", e.op)
	}
	return fmt.Sprintf("%s: the reader answered SW %02X %02X", e.op, byte(e.sw>>8), byte(e.sw))
}

func (e *statusError) Is(target error) bool {
	switch target {
	case ErrDevice:
		return true
	case ErrUnsupported:
		return e.sw == swNotSupported
	case ErrReaderFault:
		return e.sw != swNotSupported
	}
	return false
}

// link is one tag reached through its reader's personality. It counts on the caller
// for ordering: one goroutine at a time, like Card.
type link struct {
	card    Card
	p       *personality
	started bool // the personality's session is open
}

// transmit sends one APDU and insists on 90 00.
func (l *link) transmit(op string, apdu []byte) ([]byte, error) {
	r, err := l.card.Transmit(apdu)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	body, sw, err := splitSW(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if sw != swOK {
		return nil, &statusError{op: op, sw: sw}
	}
	return body, nil
}

// probe finds the reader's personality by sending cmd through each in turn; the
// reply (or the tag's refusal) to cmd comes back with it, so the probe costs nothing
// when cmd is a command the caller needed anyway.
func probe(card Card, cmd []byte) (*link, []byte, error) {
	for _, p := range personalities {
		l := &link{card: card, p: p}
		if p.start != nil {
			r, err := card.Transmit(p.start)
			if err != nil {
				return nil, nil, fmt.Errorf("open %s session: %w", p.Name, err)
			}
			if _, sw, err := splitSW(r); err != nil || sw != swOK {
				continue
			}
			l.started = true
		}
		r, err := card.Transmit(p.wrap(cmd))
		if err != nil {
			return nil, nil, fmt.Errorf("probe the reader: %w", err)
		}
		data, err := p.unwrap(r)
		if errors.Is(err, errNotSpoken) {
			if l.started {
				_, _ = card.Transmit(p.stop)
			}
			continue
		}
		return l, data, err
	}
	return &link{card: card, p: personalityNone}, nil, nil
}

// native sends one of the tag's own commands through the reader.
func (l *link) native(op string, cmd []byte) ([]byte, error) {
	if l.p.NativeMax == 0 {
		return nil, fmt.Errorf("%w: %s needs the tag's native commands, which this reader (personality %q) cannot pass through", ErrUnsupported, op, l.p.Name)
	}
	r, err := l.card.Transmit(l.p.wrap(cmd))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	data, err := l.p.unwrap(r)
	if errors.Is(err, errNotSpoken) {
		return nil, &statusError{op: op, sw: swOf(r)}
	}
	var te *tagError
	if errors.As(err, &te) {
		return nil, &tagError{op: op, detail: te.detail}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	// A Type 2 tag refuses with a 4-bit NAK, which readers pass on as one byte.
	if len(data) == 1 && data[0] != 0x0A {
		return nil, &tagError{op: op, detail: fmt.Sprintf("the tag refused the command (NAK %X)", data[0]), nak: data[0], hasNAK: true}
	}
	return data, nil
}

func swOf(r []byte) uint16 {
	if len(r) < 2 {
		return 0
	}
	return binary.BigEndian.Uint16(r[len(r)-2:])
}

// readBinary reads n bytes from page with PC/SC READ BINARY.
func (l *link) readBinary(page, n int) ([]byte, error) {
	op := fmt.Sprintf("read page %d", page)
	data, err := l.transmit(op, []byte{0xFF, 0xB0, 0x00, byte(page), byte(n)})
	if err != nil {
		return nil, err
	}
	if len(data) < n {
		return nil, fmt.Errorf("%w: %s: reader returned %d bytes, want %d", ErrReaderFault, op, len(data), n)
	}
	return data[:n], nil
}

// updateBinary writes one 4-byte page with PC/SC UPDATE BINARY.
func (l *link) updateBinary(page int, data []byte) error {
	apdu := append([]byte{0xFF, 0xD6, 0x00, byte(page), 0x04}, data[:4]...)
	_, err := l.transmit(fmt.Sprintf("write page %d", page), apdu)
	return err
}

// close ends the personality's session, if it opened one.
func (l *link) close() error {
	if !l.started {
		return nil
	}
	l.started = false
	_, err := l.transmit("end transparent session", l.p.stop)
	return err
}
