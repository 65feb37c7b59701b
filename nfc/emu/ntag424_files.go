package emu

import (
	"bytes"
	"encoding/hex"
	"strings"
)

// One file of the NDEF application with its settings (NT4H2421Gx, file management);
// file n is ISO file E102+n.
type dnaFile struct {
	no   byte
	data []byte
	opt  byte    // FileOption: bit 6 SDM, bits 1–0 comm mode
	ar   [2]byte // access rights: RW‖Change, Read‖Write
	sdm  *sdmCfg // set when bit 6 of opt is
}

// Access condition nibbles besides key numbers.
const (
	accFree  = 0x0E
	accNever = 0x0F
)

func (f *dnaFile) readKey() byte   { return f.ar[1] >> 4 }
func (f *dnaFile) writeKey() byte  { return f.ar[1] & 0x0F }
func (f *dnaFile) rwKey() byte     { return f.ar[0] >> 4 }
func (f *dnaFile) changeKey() byte { return f.ar[0] & 0x0F }
func (f *dnaFile) commMode() byte  { return f.opt & 0x03 }

type sdmCfg struct {
	opts                                  byte
	ctrRet, meta, file                    byte
	uidOff, ctrOff, piccOff               int
	macInOff, encOff, encLen, macOff, lim int
}

const (
	optUID    = 0x80
	optCtr    = 0x40
	optLimit  = 0x20
	optENC    = 0x10
	optASCII  = 0x01
	optSDMBit = 0x40
)

// offsets lists the offset fields the options call for, in wire order.
func (s *sdmCfg) offsets() []*int {
	var f []*int
	switch {
	case s.meta == accFree:
		if s.opts&optUID != 0 {
			f = append(f, &s.uidOff)
		}
		if s.opts&optCtr != 0 {
			f = append(f, &s.ctrOff)
		}
	case s.meta <= 4:
		f = append(f, &s.piccOff)
	}
	if s.file != accNever {
		f = append(f, &s.macInOff)
		if s.opts&optENC != 0 {
			f = append(f, &s.encOff, &s.encLen)
		}
		f = append(f, &s.macOff)
	}
	if s.opts&optLimit != 0 {
		f = append(f, &s.lim)
	}
	return f
}

// settingsData is the ChangeFileSettings form: option, access rights, SDM part.
func (f *dnaFile) settingsData() []byte {
	out := []byte{f.opt, f.ar[0], f.ar[1]}
	if s := f.sdm; s != nil {
		out = append(out, s.opts, 0xF0|s.ctrRet, s.meta<<4|s.file)
		for _, p := range s.offsets() {
			out = append(out, byte(*p), byte(*p>>8), byte(*p>>16))
		}
	}
	return out
}

// fileSettings is the GetFileSettings answer.
func (f *dnaFile) fileSettings() []byte {
	d := f.settingsData()
	n := len(f.data)
	out := []byte{0x00, d[0], d[1], d[2], byte(n), byte(n >> 8), byte(n >> 16)}
	return append(out, d[3:]...)
}

// parseSettings checks ChangeFileSettings data for file f and returns the new
// option, access rights and SDM settings, or a native status.
func parseSettings(f *dnaFile, d []byte) (opt byte, ar [2]byte, sdm *sdmCfg, st byte) {
	if len(d) < 3 {
		return 0, ar, nil, st424LengthError
	}
	opt, ar = d[0], [2]byte{d[1], d[2]}
	if opt&^(optSDMBit|0x03) != 0 || opt&0x03 == 0x02 {
		return 0, ar, nil, st424ParamError
	}
	for _, nib := range []byte{ar[0] >> 4, ar[0] & 0x0F, ar[1] >> 4, ar[1] & 0x0F} {
		if nib > 4 && nib < accFree {
			return 0, ar, nil, st424ParamError
		}
	}
	d = d[3:]
	if opt&optSDMBit == 0 {
		if len(d) != 0 {
			return 0, ar, nil, st424LengthError
		}
		return opt, ar, nil, st424OK
	}
	if f.no != 2 {
		return 0, ar, nil, st424ParamError // only the NDEF file mirrors
	}
	if len(d) < 3 {
		return 0, ar, nil, st424LengthError
	}
	s := &sdmCfg{opts: d[0], ctrRet: d[1] & 0x0F, meta: d[2] >> 4, file: d[2] & 0x0F}
	switch {
	case s.opts&^(optUID|optCtr|optLimit|optENC|optASCII) != 0, s.opts&optASCII == 0, d[1]>>4 != 0x0F:
		return 0, ar, nil, st424ParamError
	case !validKeyRef(s.ctrRet), !validKeyRef(s.meta), s.file != accNever && s.file > 4:
		return 0, ar, nil, st424ParamError
	case s.meta == accNever && s.opts&(optUID|optCtr) != 0:
		return 0, ar, nil, st424ParamError
	case s.meta <= 4 && s.opts&(optUID|optCtr) == 0:
		return 0, ar, nil, st424ParamError
	case s.opts&optENC != 0 && (s.file == accNever || s.opts&(optUID|optCtr) != optUID|optCtr):
		return 0, ar, nil, st424ParamError
	}
	d = d[3:]
	fields := s.offsets()
	if len(d) != 3*len(fields) {
		return 0, ar, nil, st424LengthError
	}
	for i, p := range fields {
		*p = int(d[3*i]) | int(d[3*i+1])<<8 | int(d[3*i+2])<<16
	}
	if !s.fits(len(f.data)) {
		return 0, ar, nil, st424ParamError
	}
	return opt, ar, s, st424OK
}

func validKeyRef(k byte) bool { return k <= 4 || k == accFree || k == accNever }

// fits checks that every mirrored field lies inside the file, that none overlaps
// another, and that the MAC input and encrypted data lie before the MAC.
func (s *sdmCfg) fits(size int) bool {
	type span struct{ at, n int }
	var spans []span
	if s.meta == accFree {
		if s.opts&optUID != 0 {
			spans = append(spans, span{s.uidOff, 14})
		}
		if s.opts&optCtr != 0 {
			spans = append(spans, span{s.ctrOff, 6})
		}
	} else if s.meta <= 4 {
		spans = append(spans, span{s.piccOff, 32})
	}
	if s.file != accNever {
		if s.macInOff > s.macOff {
			return false
		}
		if s.opts&optENC != 0 {
			if s.encLen == 0 || s.encLen%32 != 0 || s.encOff < s.macInOff || s.encOff+s.encLen > s.macOff {
				return false
			}
			spans = append(spans, span{s.encOff, s.encLen})
		}
		spans = append(spans, span{s.macOff, 16})
	}
	if s.opts&optLimit != 0 && s.lim > 0xFFFFFF {
		return false
	}
	for i, a := range spans {
		if a.at < 0 || a.at+a.n > size {
			return false
		}
		for _, b := range spans[i+1:] {
			if a.at < b.at+b.n && b.at < a.at+a.n {
				return false
			}
		}
	}
	return true
}

// mirror is file 2 as one read shows it with SDM on: the stored template with the
// UID, counter, encrypted PICC and file data and the MAC written over it.
func (t *type4) mirror(f *dnaFile, ctr uint32) []byte {
	s := f.sdm
	out := bytes.Clone(f.data)
	put := func(at int, b []byte) { copy(out[at:], strings.ToUpper(hex.EncodeToString(b))) }
	ctrLE := []byte{byte(ctr), byte(ctr >> 8), byte(ctr >> 16)}
	var svUID, svCtr []byte
	if s.opts&optUID != 0 {
		svUID = t.uid
	}
	if s.opts&optCtr != 0 {
		svCtr = ctrLE
	}
	switch {
	case s.meta == accFree:
		if svUID != nil {
			put(s.uidOff, t.uid)
		}
		if svCtr != nil {
			put(s.ctrOff, []byte{byte(ctr >> 16), byte(ctr >> 8), byte(ctr)})
		}
	case s.meta <= 4:
		picc := make([]byte, 16)
		picc[0] = s.opts & (optUID | optCtr)
		rest := picc[1:]
		if svUID != nil {
			picc[0] |= byte(len(t.uid))
			rest = rest[copy(rest, t.uid):]
		}
		if svCtr != nil {
			rest = rest[copy(rest, ctrLE):]
		}
		t.random(rest)
		put(s.piccOff, cbcEncrypt(t.keys[s.meta][:], make([]byte, 16), picc))
	}
	if s.file == accNever {
		return out
	}
	k := t.keys[s.file][:]
	sv := func(l0, l1 byte) []byte {
		v := append(append([]byte{l0, l1, 0x00, 0x01, 0x00, 0x80}, svUID...), svCtr...)
		for len(v)%16 != 0 {
			v = append(v, 0)
		}
		return v
	}
	if s.opts&optENC != 0 {
		encKey := aesCMAC(k, sv(0xC3, 0x3C))
		iv := make([]byte, 16)
		copy(iv, ctrLE)
		aesBlock(encKey[:]).Encrypt(iv, iv)
		plain := f.data[s.encOff : s.encOff+s.encLen/2]
		put(s.encOff, cbcEncrypt(encKey[:], iv, plain))
	}
	macKey := aesCMAC(k, sv(0x3C, 0xC3))
	put(s.macOff, macT(aesCMAC(macKey[:], out[s.macInOff:s.macOff])))
	return out
}
