package emu

import (
	"fmt"

	"github.com/tagpay/tagpay/nfc"
)

// t2Layout is what the emulator needs to know of a Type 2 IC's memory map.
type t2Layout struct {
	pages      int    // pages in total, configuration included
	dynLock    int    // page of the dynamic lock bytes, -1 when the IC has none
	cfg0       int    // page of CFG0 (CFG1, PWD, PACK follow), -1 when the IC has none
	lockChunk  int    // pages covered by one dynamic lock bit
	version    []byte // GET_VERSION answer; nil when the IC does not know the command
	nfcCounter bool   // NTAG21x: counter 2 counts reads (NFC_CNT_EN)
	counters   bool   // Ultralight EV1: three counters moved by INCR_CNT
}

// type2Layout picks the memory map for an image. Ultralight EV1 comes in two sizes
// (MF0UL11, 20 pages; MF0UL21, 41 pages); the image's page count tells which.
func type2Layout(img *nfc.Image) (t2Layout, error) {
	switch img.Type {
	case nfc.TypeNTAG213:
		return t2Layout{pages: 45, dynLock: 40, cfg0: 41, lockChunk: 2, nfcCounter: true,
			version: []byte{0x00, 0x04, 0x04, 0x02, 0x01, 0x00, 0x0F, 0x03}}, nil
	case nfc.TypeNTAG215:
		return t2Layout{pages: 135, dynLock: 130, cfg0: 131, lockChunk: 16, nfcCounter: true,
			version: []byte{0x00, 0x04, 0x04, 0x02, 0x01, 0x00, 0x11, 0x03}}, nil
	case nfc.TypeNTAG216:
		return t2Layout{pages: 231, dynLock: 226, cfg0: 227, lockChunk: 16, nfcCounter: true,
			version: []byte{0x00, 0x04, 0x04, 0x02, 0x01, 0x00, 0x13, 0x03}}, nil
	case nfc.TypeUltralight:
		return t2Layout{pages: 16, dynLock: -1, cfg0: -1}, nil
	case nfc.TypeUltralightEV1:
		if len(img.Pages) > 20 {
			return t2Layout{pages: 41, dynLock: 36, cfg0: 37, lockChunk: 2, counters: true,
				version: []byte{0x00, 0x04, 0x03, 0x01, 0x01, 0x00, 0x0E, 0x03}}, nil
		}
		return t2Layout{pages: 20, dynLock: -1, cfg0: 16, counters: true,
			version: []byte{0x00, 0x04, 0x03, 0x01, 0x01, 0x00, 0x0B, 0x03}}, nil
	}
	return t2Layout{}, fmt.Errorf("emu: %q is not a Type 2 tag the emulator knows", img.Type)
}
