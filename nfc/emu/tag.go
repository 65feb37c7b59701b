// Package emu emulates NFC tags and the PC/SC readers that hold them, so that the
// reader code of package nfc can be tested without hardware: in memory through NewBus,
// or inside a real pcscd through the vpcd driver with ServeVPCD.
//
// Tags follow their datasheets closely enough to catch reader bugs: NTAG203, NTAG210/212,
// NTAG213/215/216, NTAG I2C (sector 0), MIFARE Ultralight (EV1, C) with lock bits, OTP
// bits, password protection (PWD_AUTH, AUTHLIM; not the Ultralight C's 3DES) and the
// NFC counter; NTAG 424 DNA with its NDEF application and SUN mirroring. Readers answer the
// PC/SC pseudo-APDUs themselves, the way an ACR122U or a PC/SC Part 3 reader does.
package emu

import (
	"fmt"
	"sync"

	"github.com/tagpay/tagpay/nfc"
)

// Tag is one emulated tag. It is safe for concurrent use, and keeps its memory across
// insertions, as a real tag does.
type Tag struct {
	mu sync.Mutex
	t2 *type2 // exactly one of t2 and t4 is set
	t4 *type4
}

// NewTag builds the tag an image describes; the model follows img.Type. Type 2 pages
// missing from the image read as zero, except pages 0-2 which are built from the UID
// when absent.
func NewTag(img *nfc.Image) (*Tag, error) {
	if img == nil {
		return nil, fmt.Errorf("emu: no image")
	}
	if img.Type == nfc.TypeNTAG424DNA {
		t4, err := newType4(img)
		if err != nil {
			return nil, err
		}
		return &Tag{t4: t4}, nil
	}
	t2, err := newType2(img)
	if err != nil {
		return nil, err
	}
	return &Tag{t2: t2}, nil
}

// Image returns a copy of the tag's current memory, counters included.
func (t *Tag) Image() *nfc.Image {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.t4 != nil {
		return t.t4.image()
	}
	return t.t2.image()
}

func (t *Tag) uid() []byte {
	if t.t4 != nil {
		return t.t4.uid
	}
	return t.t2.uid
}

// powerOn resets what the IC forgets when the field drops.
func (t *Tag) powerOn() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.t4 != nil {
		t.t4.powerOn()
	} else {
		t.t2.powerOn()
	}
}

// atr is the answer to reset a PC/SC reader builds for this tag (PC/SC Part 3,
// 3.1.3.2.3): storage cards carry the RID of PC/SC, the standard (03, ISO 14443A-3)
// and the card name; ISO 14443-4 cards carry their historical bytes.
func (t *Tag) atr() []byte {
	if t.t4 != nil {
		return withTCK([]byte{0x3B, 0x81, 0x80, 0x01, 0x80})
	}
	name := byte(0x03) // MIFARE Ultralight, also reported for NTAG21x
	switch t.t2.kind {
	case nfc.TypeUltralightEV1:
		name = 0x3D
	case nfc.TypeUltralightC:
		name = 0x3A
	}
	return withTCK([]byte{0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06,
		0x03, 0x00, name, 0x00, 0x00, 0x00, 0x00})
}

// withTCK appends the check byte: XOR of every byte after TS.
func withTCK(atr []byte) []byte {
	var tck byte
	for _, b := range atr[1:] {
		tck ^= b
	}
	return append(atr, tck)
}
