package emu

import (
	"fmt"

	"github.com/tagpay/tagpay/nfc"
)

// t2Layout is what the emulator needs to know of a Type 2 IC's memory map: the data
// sheet facts of nfc.Layout plus the behaviour only an emulator cares about.
type t2Layout struct {
	pages                 int
	dynLock               int // -1 when the IC has none
	cfg0, cfg1, pwd, pack int // -1 when the IC has none
	lockChunk             int // pages covered by one dynamic lock bit
	version               []byte
	nfcCounter            bool // NTAG21x: counter 2 counts reads (NFC_CNT_EN)
	counters              bool // Ultralight EV1: three counters moved by INCR_CNT
}

// type2Layout picks the memory map for an image. Ultralight EV1 comes in two sizes
// (MF0UL11, 20 pages; MF0UL21, 41 pages); the image's page count tells which.
func type2Layout(img *nfc.Image) (t2Layout, error) {
	switch img.Type {
	case nfc.TypeNTAG213, nfc.TypeNTAG215, nfc.TypeNTAG216, nfc.TypeUltralight, nfc.TypeUltralightEV1:
	default:
		return t2Layout{}, fmt.Errorf("emu: cannot emulate a %q tag (want ntag213, ntag215, ntag216, ultralight, ultralight_ev1 or ntag424dna)", img.Type)
	}
	l, ok := nfc.LayoutOf(img.Type)
	if !ok {
		return t2Layout{}, fmt.Errorf("emu: no memory map for %q", img.Type)
	}
	if len(img.Pages) > l.Pages {
		if bigger, ok := nfc.LayoutByPages(img.Type, len(img.Pages)); ok {
			l = bigger
		}
	}
	lay := t2Layout{
		pages: l.Pages, dynLock: l.DynLock,
		cfg0: l.CFG0, cfg1: l.CFG1, pwd: l.PWD, pack: l.PACK,
		lockChunk:  2,
		version:    l.Version,
		nfcCounter: img.Type != nfc.TypeUltralight && img.Type != nfc.TypeUltralightEV1,
		counters:   img.Type == nfc.TypeUltralightEV1,
	}
	// NTAG215/216 dynamic lock bits each cover 16 pages; NTAG213 and MF0UL21 use 2.
	if img.Type == nfc.TypeNTAG215 || img.Type == nfc.TypeNTAG216 {
		lay.lockChunk = 16
	}
	return lay, nil
}
