package nfc

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
)

// pcscRID is the registered application provider of PC/SC; a contactless storage
// card's ATR carries it followed by the standard and card name (PC/SC Part 3).
var pcscRID = []byte{0xA0, 0x00, 0x00, 0x03, 0x06}

// Standards (SS) of PC/SC Part 3 storage-card ATRs.
const (
	ssISO14443A3 = 0x03
)

// ATRInfo is what an ATR says about the tag behind it.
type ATRInfo struct {
	Raw        HexBytes `json:"raw"`
	Historical HexBytes `json:"historical"`
	// Storage is a PC/SC Part 3 storage card (memory tag behind READ/UPDATE BINARY);
	// Standard and CardName come from its historical bytes.
	Storage  bool   `json:"storage"`
	Standard byte   `json:"standard,omitempty"`
	CardName uint16 `json:"card_name,omitempty"`
	// ISO14443_4 is a processor card (ISO 14443-4) that speaks APDUs itself.
	ISO14443_4 bool `json:"iso14443_4"`
}

// Name is a readable name of what the ATR announces.
func (a ATRInfo) Name() string {
	if !a.Storage {
		if a.ISO14443_4 {
			return "ISO 14443-4 card"
		}
		return "unknown card"
	}
	if n, ok := cardNames[a.CardName]; ok {
		return n.name
	}
	return fmt.Sprintf("storage card %04X", a.CardName)
}

// cardNames are the PC/SC Part 3 card names tagpay recognises.
var cardNames = map[uint16]struct {
	name    string
	classic bool
}{
	0x0001: {"MIFARE Classic 1K", true},
	0x0002: {"MIFARE Classic 4K", true},
	0x0003: {"MIFARE Ultralight / NTAG", false},
	0x0026: {"MIFARE Mini", true},
	0x003A: {"MIFARE Ultralight C", false},
	0x003D: {"MIFARE Ultralight EV1", false},
}

// ParseATR decodes an ATR (ISO 7816-3) and its historical bytes as PC/SC Part 3
// lays them out for contactless cards.
func ParseATR(atr []byte) (ATRInfo, error) {
	info := ATRInfo{Raw: bytes.Clone(atr)}
	if len(atr) < 2 {
		return info, fmt.Errorf("ATR of %d bytes is too short", len(atr))
	}
	if atr[0] != 0x3B && atr[0] != 0x3F {
		return info, fmt.Errorf("ATR starts with %02X, want 3B or 3F", atr[0])
	}
	k := int(atr[1] & 0x0F)
	y := atr[1] >> 4
	i := 2
	needTCK := false
	for {
		// TAi, TBi, TCi are present when bits 1, 2, 3 of Y are set; TDi (bit 4) chains on.
		i += int(y&1) + int(y>>1&1) + int(y>>2&1)
		if y&8 == 0 {
			break
		}
		if i >= len(atr) {
			return info, fmt.Errorf("ATR ends inside its interface bytes (%d bytes)", len(atr))
		}
		td := atr[i]
		i++
		if td&0x0F != 0 {
			needTCK = true
		}
		y = td >> 4
	}
	if i > len(atr) {
		return info, fmt.Errorf("ATR ends inside its interface bytes (%d bytes)", len(atr))
	}
	if len(atr) < i+k {
		return info, fmt.Errorf("ATR announces %d historical bytes, has %d", k, len(atr)-i)
	}
	info.Historical = bytes.Clone(atr[i : i+k])
	rest := atr[i+k:]
	switch {
	case needTCK && len(rest) != 1:
		return info, fmt.Errorf("ATR needs one check byte after its historical bytes, has %d", len(rest))
	case !needTCK && len(rest) != 0:
		return info, fmt.Errorf("ATR has %d stray bytes after its historical bytes", len(rest))
	}
	if needTCK {
		var x byte
		for _, b := range atr[1:] {
			x ^= b
		}
		if x != 0 {
			return info, fmt.Errorf("ATR check byte %02X is wrong", atr[len(atr)-1])
		}
	}
	h := info.Historical
	// 80 4F len RID(5) SS NN NN RFU(4): the storage-card layout of PC/SC Part 3.
	if len(h) >= 11 && h[0] == 0x80 && h[1] == 0x4F && int(h[2]) >= 8 && len(h) >= 3+int(h[2]) && bytes.Equal(h[3:8], pcscRID) {
		info.Storage = true
		info.Standard = h[8]
		info.CardName = uint16(h[9])<<8 | uint16(h[10])
		return info, nil
	}
	info.ISO14443_4 = true
	return info, nil
}

// layoutByVersion finds the IC a GET_VERSION reply names. Byte 1 is the vendor (04
// NXP), byte 2 the product type (03 Ultralight, 04 NTAG), byte 3 the subtype (05 for
// NTAG I2C), bytes 4-5 the version (NTAG I2C plus is 02 02), byte 6 the memory size.
// An exact match of bytes 2-6 wins; otherwise type and size decide, since subtype
// and version vary between production variants of the same IC (NTAG213 TT, NTAG213F).
// The NTAG I2C family needs the exact match: an NTAG I2C 1K has an NTAG216's size.
func layoutByVersion(v []byte) (Layout, bool) {
	if len(v) != 8 || v[1] != 0x04 {
		return Layout{}, false
	}
	for _, l := range Layouts() {
		if len(l.Version) == 8 && bytes.Equal(l.Version[2:7], v[2:7]) {
			return l, true
		}
	}
	if v[3] == subtypeNTAGI2C {
		return Layout{}, false
	}
	for _, l := range Layouts() {
		if len(l.Version) == 8 && l.Version[3] != subtypeNTAGI2C && l.Version[2] == v[2] && l.Version[6] == v[6] {
			return l, true
		}
	}
	return Layout{}, false
}

// subtypeNTAGI2C is GET_VERSION byte 3 of the NTAG I2C family.
const subtypeNTAGI2C = 0x05

// layoutsByCC lists the ICs a Type 2 tag that did not answer GET_VERSION may be, from
// its ATR card name and the data-area size in its CC, smallest first. asked says
// GET_VERSION went out through a native channel and met silence: that rules out every
// IC that answers it, and leaves the NTAG203, MIFARE Ultralight and Ultralight C.
// Several candidates of different sizes are told apart by probing their last page.
func layoutsByCC(atr ATRInfo, cc []byte, asked bool) []Layout {
	if atr.CardName == 0x003A {
		l, _ := LayoutOf(TypeUltralightC)
		return []Layout{l}
	}
	if len(cc) != 4 || cc[0] != ccMagic {
		return nil
	}
	var out []Layout
	for _, l := range Layouts() {
		if l.CC[2] != cc[2] || l.Type == TypeUltralightEV1 || (asked && l.Version != nil) {
			continue
		}
		if slices.ContainsFunc(out, func(o Layout) bool { return o.Pages == l.Pages }) {
			continue // same size: the first listed, the commoner, stands for both
		}
		out = append(out, l)
	}
	slices.SortStableFunc(out, func(a, b Layout) int { return a.Pages - b.Pages })
	return out
}

// layoutByCC is the IC when layoutsByCC leaves exactly one, or the smallest
// otherwise (what a reader that cannot probe must assume).
func layoutByCC(atr ATRInfo, cc []byte, asked bool) (Layout, bool) {
	ls := layoutsByCC(atr, cc, asked)
	if len(ls) == 0 {
		return Layout{}, false
	}
	if !asked && len(ls) > 1 {
		// Without a native channel an NTAG213 and an Ultralight C look alike; the
		// NTAG213 is by far the commoner.
		for _, l := range ls {
			if l.Type == TypeNTAG213 {
				return l, true
			}
		}
	}
	return ls[0], true
}

// probeLayout picks among candidates of different sizes, smallest first: the first
// whose page count is where reads stop.
func (t *Tag) probeLayout(cands []Layout) (Layout, error) {
	for _, l := range cands[:len(cands)-1] {
		ok, err := t.probePage(l.Pages)
		if err != nil {
			return Layout{}, err
		}
		if !ok {
			return l, nil
		}
	}
	return cands[len(cands)-1], nil
}

// native Type 2 commands.
var (
	cmdGetVersion = []byte{0x60}
	cmdReadSig    = []byte{0x3C, 0x00}
)

// Type 4 commands.
var (
	apduSelectNDEFApp = []byte{0x00, 0xA4, 0x04, 0x00, 0x07, 0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x01, 0x00}
	apduGetVersion424 = []byte{0x90, 0x60, 0x00, 0x00, 0x00}
	apduMoreFrames    = []byte{0x90, 0xAF, 0x00, 0x00, 0x00}
	apduGetUID        = []byte{0xFF, 0xCA, 0x00, 0x00, 0x00}
)

// identify finds what t's card is: ATR first, then GET_VERSION through whatever
// channel the reader offers. It fills t's identity and returns an error matching
// ErrUnsupported for tags tagpay cannot work with.
func (t *Tag) identify() error {
	atr, err := ParseATR(t.card.ATR())
	t.atr = atr
	if err != nil {
		t.Type, t.Name = TypeUnknown, "unknown"
		return fmt.Errorf("%w: cannot read the ATR % X: %v", ErrUnsupported, t.card.ATR(), err)
	}
	switch {
	case atr.Storage && cardNames[atr.CardName].classic:
		t.Type, t.Name = TypeMifareClassic, atr.Name()
		return fmt.Errorf("%w: %s is not an NFC Forum tag (it needs MIFARE Classic keys); use an NTAG21x or NTAG 424 DNA tag", ErrUnsupported, t.Name)
	case atr.Storage && atr.Standard == ssISO14443A3:
		return t.identifyType2()
	case atr.Storage:
		t.Type, t.Name = TypeUnknown, atr.Name()
		return fmt.Errorf("%w: %s (standard %02X) is not an ISO 14443A tag", ErrUnsupported, t.Name, atr.Standard)
	default:
		return t.identifyType4()
	}
}

func (t *Tag) identifyType2() error {
	l, version, err := probe(t.card, cmdGetVersion)
	var te *tagError
	if err != nil && !errors.As(err, &te) {
		return fmt.Errorf("identify the tag: %w", err)
	}
	t.link = l
	t.family = familyType2
	var lay Layout
	known := false
	if len(version) == 8 {
		t.Version = bytes.Clone(version)
		lay, known = layoutByVersion(version)
		// Every IC that answers GET_VERSION also knows FAST_READ and READ_SIG.
		t.fastRead = l.p.NativeMax > 0
	}
	if known {
		t.layout = &lay
		t.mem.limit(lay.Pages)
	}
	// The header pages give the UID and the CC; with a multi-page read the same
	// exchange also brings the start of the NDEF TLV.
	first := t.firstReadPages()
	err = t.mem.load(t, 0, first)
	if err != nil && first > 4 && !errors.Is(err, ErrTagRemoved) {
		// User pages may be read-protected by a password; the header never is.
		err = t.mem.load(t, 0, 4)
	}
	if err != nil {
		return fmt.Errorf("read the tag header: %w", err)
	}
	hdr, _ := t.mem.get(0, 4)
	t.UID = append(append([]byte{}, hdr[0:3]...), hdr[4:8]...)
	if !known && t.Version == nil {
		cands := layoutsByCC(t.atr, hdr[12:16], l.p.NativeMax > 0)
		switch {
		case len(cands) == 1:
			lay, known = cands[0], true
		case len(cands) > 1:
			if lay, err = t.probeLayout(cands); err != nil {
				return fmt.Errorf("identify the tag: %w", err)
			}
			known = true
		}
	}
	switch {
	case known:
		t.layout = &lay
		t.mem.limit(lay.Pages)
		t.Type, t.Name = lay.Type, lay.Name
	case t.Version != nil:
		t.Type, t.Name = TypeUnknown, fmt.Sprintf("Type 2 tag (GET_VERSION % X)", t.Version)
	default:
		t.Type, t.Name = TypeUnknown, "Type 2 tag"
	}
	return nil
}

// firstReadPages is how many pages from page 0 the first read asks for. One
// exchange of 24 pages carries the header and 80 bytes of NDEF TLV, a payment URL
// whole; a reader limited to 16 bytes per read, or an IC of unknown size, gets the
// header alone.
func (t *Tag) firstReadPages() int {
	if t.layout == nil || (!t.fastRead && t.link.p.ReadBinaryMax < 96) {
		return 4 // the IC's size is unknown yet: stay inside the smallest
	}
	return min(24, t.layout.Pages)
}

func (t *Tag) identifyType4() error {
	t.link = &link{card: t.card, p: personalityNone}
	t.family = familyType4
	if _, err := t.link.transmit("select the NDEF application", apduSelectNDEFApp); err != nil {
		t.Type, t.Name = TypeUnknown, t.atr.Name()
		if errors.Is(err, ErrTagRemoved) {
			return err
		}
		return fmt.Errorf("%w: %s without an NFC Forum NDEF application: %v", ErrUnsupported, t.Name, err)
	}
	t.t4App = true
	t.Type, t.Name = TypeUnknown, "NFC Forum Type 4 tag"
	// GET_VERSION of the NTAG 424 DNA comes in three frames; the last holds the UID.
	v1, err := t.link.transmit4("get version", apduGetVersion424)
	if err == nil && len(v1) == 7 && v1[0] == 0x04 && v1[1] == 0x04 && v1[3] == 0x30 {
		v2, err2 := t.link.transmit4("get version (2/3)", apduMoreFrames)
		v3, err3 := t.link.transmit4("get version (3/3)", apduMoreFrames)
		if err2 == nil && err3 == nil && len(v2) == 7 && len(v3) >= 7 {
			t.Type, t.Name = TypeNTAG424DNA, "NTAG 424 DNA"
			t.Version = append(bytes.Clone(v1), v2...)
			t.UID = bytes.Clone(v3[:7])
			return nil
		}
	}
	if uid, err := t.link.transmit("get UID", apduGetUID); err == nil {
		t.UID = uid
	}
	return nil
}

// transmit4 sends a native ISO-wrapped DESFire command: 91 00 and 91 AF (more
// frames follow) are its success words.
func (l *link) transmit4(op string, apdu []byte) ([]byte, error) {
	r, err := l.card.Transmit(apdu)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	body, sw, err := splitSW(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if sw != 0x9100 && sw != 0x91AF && sw != swOK {
		return nil, &statusError{op: op, sw: sw}
	}
	return body, nil
}
