package emu

import (
	"fmt"
	"strings"

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
	// ulcAuth: Ultralight C, whose AUTH0 is page 42 byte 0 and AUTH1 (bit 0 set:
	// writes only) page 43 byte 0, with the 3DES key in pages 44-47, never readable.
	// Its 3DES authentication is not emulated, so its protected pages stay shut.
	ulcAuth bool
}

// Ultralight C configuration pages.
const (
	ulcAuth0Page = 42
	ulcAuth1Page = 43
	ulcKeyPage   = 44
)

// type2Layout picks the memory map for an image. Ultralight EV1 comes in two sizes
// (MF0UL11, 20 pages; MF0UL21, 41 pages); the image's page count tells which.
func type2Layout(img *nfc.Image) (t2Layout, error) {
	l, ok := nfc.LayoutOf(img.Type)
	if !ok {
		return t2Layout{}, fmt.Errorf("emu: cannot emulate a %q tag (want one of %s)", img.Type, strings.Join(nfc.TypeNames(), ", "))
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
		nfcCounter: img.Type == nfc.TypeNTAG213 || img.Type == nfc.TypeNTAG215 || img.Type == nfc.TypeNTAG216,
		counters:   img.Type == nfc.TypeUltralightEV1,
		ulcAuth:    img.Type == nfc.TypeUltralightC,
	}
	// Pages one dynamic lock bit covers: 16 on NTAG215/216 and the NTAG I2C, 4 on the
	// NTAG203 and Ultralight C, 2 on NTAG212/213 and MF0UL21.
	switch img.Type {
	case nfc.TypeNTAG215, nfc.TypeNTAG216, nfc.TypeNTAGI2C1K, nfc.TypeNTAGI2CPlus1K:
		lay.lockChunk = 16
	case nfc.TypeNTAG203, nfc.TypeUltralightC:
		lay.lockChunk = 4
	}
	return lay, nil
}
