package nfc

import (
	"bytes"
	"crypto/rand"
	"fmt"

	"github.com/tagpay/tagpay/nfc/ndef"
)

// NewImage is a tag of type t fresh from the factory with ndefMsg written to it (see
// Layout.NewImage). For TypeUltralightEV1 it is the smaller MF0UL11; use
// LayoutByPages(TypeUltralightEV1, 41) and Layout.NewImage for MF0UL21. An NTAG 424 DNA
// image holds the UID, the NDEF message and the factory state (FactoryDNAState: keys
// zero, SDM off). A nil uid picks a random NXP UID.
func NewImage(t TagType, uid []byte, ndefMsg []byte) (*Image, error) {
	if t == TypeNTAG424DNA {
		uid, err := imageUID(uid)
		if err != nil {
			return nil, err
		}
		if err := checkNDEF(ndefMsg); err != nil {
			return nil, err
		}
		img := &Image{Type: t, UID: uid, NDEF: bytes.Clone(ndefMsg), DNA: FactoryDNAState()}
		if err := img.Validate(); err != nil {
			return nil, err
		}
		return img, nil
	}
	lay, ok := LayoutOf(t)
	if !ok {
		return nil, fmt.Errorf("new tag image: cannot make a %q image (want a Type 2 IC or ntag424dna)", t)
	}
	return lay.NewImage(uid, ndefMsg)
}

// NewImage is a tag of this IC in factory state with ndefMsg in an NDEF TLV from page
// 4 (03 00 FE when ndefMsg is empty): UID and check bytes in pages 0–2, the CC on page
// 3, lock bits clear, no password (AUTH0 past the last page, PWD FFFFFFFF, PACK 0000),
// the IC's GET_VERSION reply. The signature stays empty: only NXP can sign.
func (l Layout) NewImage(uid []byte, ndefMsg []byte) (*Image, error) {
	uid, err := imageUID(uid)
	if err != nil {
		return nil, err
	}
	if err := checkNDEF(ndefMsg); err != nil {
		return nil, err
	}
	tlv := NDEFTLV(ndefMsg)
	if len(tlv) > l.UserBytes() {
		return nil, fmt.Errorf("new tag image: NDEF message of %d bytes needs %d bytes of user memory, %s %s has %d",
			len(ndefMsg), len(tlv), article(l.Name), l.Name, l.UserBytes())
	}
	mem := make([]byte, l.Pages*4)
	bcc0, bcc1 := uidBCC(uid)
	copy(mem[0:], uid[:3])
	mem[3] = bcc0
	copy(mem[4:], uid[3:])
	mem[8], mem[9] = bcc1, 0x48 // 0x48: the internal byte NXP programs
	copy(mem[12:], l.CC[:])
	copy(mem[l.UserStart*4:], tlv)
	page := func(p int, b ...byte) {
		if p >= 0 {
			copy(mem[p*4:], b)
		}
	}
	switch l.Type {
	case TypeNTAG213, TypeNTAG215, TypeNTAG216:
		// NTAG21x data sheets: dynamic lock 00 00 00 BD, CFG0 04 00 00 FF (AUTH0 FF),
		// CFG1 00 05 00 00.
		page(l.DynLock, 0x00, 0x00, 0x00, 0xBD)
		page(l.CFG0, 0x04, 0x00, 0x00, 0xFF)
		page(l.CFG1, 0x00, 0x05, 0x00, 0x00)
	case TypeUltralightEV1, TypeNTAG210, TypeNTAG212:
		// MF0ULx1, NTAG210/212: CFG0 00 00 00 FF (AUTH0 FF), CFG1 00 05 00 00.
		page(l.CFG0, 0x00, 0x00, 0x00, 0xFF)
		page(l.CFG1, 0x00, 0x05, 0x00, 0x00)
		if l.Type == TypeNTAG212 {
			page(l.DynLock, 0x00, 0x00, 0x00, 0xBD)
		}
	case TypeNTAGI2CPlus1K:
		page(l.CFG0, 0x00, 0x00, 0x00, 0xFF) // AUTH0 FF: no protection
		page(l.CFG1, 0x00, 0x00, 0x00, 0x00)
	case TypeUltralightC:
		page(l.Auth0Page, 0x30) // AUTH0 = 0x30: past page 47, no protection
	}
	page(l.PWD, 0xFF, 0xFF, 0xFF, 0xFF)
	img := &Image{Type: l.Type, UID: uid, Version: bytes.Clone(l.Version)}
	for p := 0; p < l.Pages; p++ {
		img.Pages = append(img.Pages, HexBytes(bytes.Clone(mem[p*4:p*4+4])))
	}
	if err := img.Validate(); err != nil {
		return nil, err
	}
	return img, nil
}

// imageUID checks a given UID or makes a random one: NXP's manufacturer code 04 and
// six random bytes.
func imageUID(uid []byte) (HexBytes, error) {
	if uid == nil {
		uid = make([]byte, 7)
		if _, err := rand.Read(uid[1:]); err != nil {
			return nil, fmt.Errorf("new tag image: random UID: %w", err)
		}
		uid[0] = 0x04
		return uid, nil
	}
	if len(uid) != 7 {
		return nil, fmt.Errorf("new tag image: UID is %d bytes, want 7", len(uid))
	}
	return bytes.Clone(uid), nil
}

// checkNDEF refuses bytes that are not an NDEF message, so a typo cannot become a tag
// that phones ignore. Empty is fine: a formatted tag with no message.
func checkNDEF(msg []byte) error {
	if len(msg) == 0 {
		return nil
	}
	if _, err := ndef.Decode(msg); err != nil {
		return fmt.Errorf("new tag image: %w", err)
	}
	return nil
}
