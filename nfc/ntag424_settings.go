package nfc

import (
	"errors"
	"fmt"
	"strings"
)

// CommMode is how an NTAG 424 DNA command's data travels once authenticated: in
// clear, in clear with a MAC, or encrypted and MACed.
type CommMode byte

const (
	CommPlain CommMode = 0x00
	CommMAC   CommMode = 0x01
	CommFull  CommMode = 0x03
)

func (m CommMode) String() string {
	switch m {
	case CommPlain:
		return "plain"
	case CommMAC:
		return "MAC"
	case CommFull:
		return "full"
	}
	return fmt.Sprintf("comm mode %d", byte(m))
}

// Access condition values besides key numbers 0–4.
const (
	AccessFree  byte = 0x0E
	AccessNever byte = 0x0F
)

// AccessRights are a file's four access conditions: a key number 0–4, AccessFree or
// AccessNever each.
type AccessRights struct {
	Read, Write, ReadWrite, Change byte
}

// bytes is the wire form: RW‖Change, then Read‖Write.
func (a AccessRights) bytes() [2]byte {
	return [2]byte{a.ReadWrite<<4 | a.Change&0x0F, a.Read<<4 | a.Write&0x0F}
}

func accessOf(b0, b1 byte) AccessRights {
	return AccessRights{Read: b1 >> 4, Write: b1 & 0x0F, ReadWrite: b0 >> 4, Change: b0 & 0x0F}
}

func (a AccessRights) String() string {
	k := func(v byte) string {
		switch v {
		case AccessFree:
			return "free"
		case AccessNever:
			return "never"
		}
		return fmt.Sprintf("key %d", v)
	}
	return fmt.Sprintf("read %s, write %s, read-write %s, change %s", k(a.Read), k(a.Write), k(a.ReadWrite), k(a.Change))
}

// FileSettings are what GetFileSettings reports for one file of the NDEF application.
type FileSettings struct {
	FileType byte // 00: standard data file
	CommMode CommMode
	Access   AccessRights
	Size     int
	SDM      *SDMSettings // nil when Secure Dynamic Messaging is off
}

// SDMSettings say what an NTAG 424 DNA mirrors into its NDEF file on each read. Key
// fields hold a key number 0–4, AccessFree or AccessNever; offsets are byte positions
// in the file (an offset the options do not call for is ignored).
type SDMSettings struct {
	MirrorUID         bool
	MirrorReadCounter bool
	ReadCounterLimit  bool
	EncFileData       bool
	// CtrRetKey guards GetFileCounters; MetaReadKey encrypts the PICC data (AccessFree:
	// UID and counter in clear, AccessNever: neither mirrored); FileReadKey makes the
	// MAC and encrypts file data (AccessNever: no MAC).
	CtrRetKey, MetaReadKey, FileReadKey byte

	UIDOffset, ReadCtrOffset, PICCDataOffset int
	MACInputOffset, ENCOffset, ENCLength     int
	MACOffset, ReadCtrLimit                  int
}

// SDMOptions bits.
const (
	sdmUID      = 0x80
	sdmCounter  = 0x40
	sdmCtrLimit = 0x20
	sdmENC      = 0x10
	sdmASCII    = 0x01
	fileOptSDM  = 0x40
)

func (s *SDMSettings) options() byte {
	o := byte(sdmASCII)
	if s.MirrorUID {
		o |= sdmUID
	}
	if s.MirrorReadCounter {
		o |= sdmCounter
	}
	if s.ReadCounterLimit {
		o |= sdmCtrLimit
	}
	if s.EncFileData {
		o |= sdmENC
	}
	return o
}

// offsetFields lists, in wire order, the offsets the options call for.
func (s *SDMSettings) offsetFields() []*int {
	var f []*int
	if s.MetaReadKey == AccessFree {
		if s.MirrorUID {
			f = append(f, &s.UIDOffset)
		}
		if s.MirrorReadCounter {
			f = append(f, &s.ReadCtrOffset)
		}
	} else if s.MetaReadKey <= 4 {
		f = append(f, &s.PICCDataOffset)
	}
	if s.FileReadKey != AccessNever {
		f = append(f, &s.MACInputOffset)
		if s.EncFileData {
			f = append(f, &s.ENCOffset, &s.ENCLength)
		}
		f = append(f, &s.MACOffset)
	}
	if s.ReadCounterLimit {
		f = append(f, &s.ReadCtrLimit)
	}
	return f
}

// changeData is the ChangeFileSettings command data (before encryption).
func (fs FileSettings) changeData() []byte {
	opt := byte(fs.CommMode) & 0x03
	if fs.SDM != nil {
		opt |= fileOptSDM
	}
	ar := fs.Access.bytes()
	out := []byte{opt, ar[0], ar[1]}
	if s := fs.SDM; s != nil {
		out = append(out, s.options(), 0xF0|s.CtrRetKey&0x0F, s.MetaReadKey<<4|s.FileReadKey&0x0F)
		for _, p := range s.offsetFields() {
			out = append(out, le24(*p)...)
		}
	}
	return out
}

// Bytes is the GetFileSettings form of the settings, as an image stores them.
func (fs FileSettings) Bytes() []byte {
	ch := fs.changeData()
	out := []byte{fs.FileType, ch[0], ch[1], ch[2]}
	out = append(out, le24(fs.Size)...)
	return append(out, ch[3:]...)
}

func le24(v int) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16)} }

func getLE24(b []byte) int { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 }

// ParseFileSettings reads a GetFileSettings answer.
func ParseFileSettings(b []byte) (FileSettings, error) {
	var fs FileSettings
	if len(b) < 7 {
		return fs, fmt.Errorf("%w: file settings of %d bytes, want at least 7", ErrTagDamaged, len(b))
	}
	fs.FileType = b[0]
	opt := b[1]
	if opt&^(fileOptSDM|0x03) != 0 || opt&0x03 == 0x02 {
		return fs, fmt.Errorf("%w: file option %02X has unknown bits", ErrTagDamaged, opt)
	}
	fs.CommMode = CommMode(opt & 0x03)
	fs.Access = accessOf(b[2], b[3])
	fs.Size = getLE24(b[4:7])
	rest := b[7:]
	if opt&fileOptSDM == 0 {
		if len(rest) != 0 {
			return fs, fmt.Errorf("%w: %d bytes after file settings without SDM", ErrTagDamaged, len(rest))
		}
		return fs, nil
	}
	if len(rest) < 3 {
		return fs, fmt.Errorf("%w: SDM settings of %d bytes, want at least 3", ErrTagDamaged, len(rest))
	}
	o := rest[0]
	if o&^(sdmUID|sdmCounter|sdmCtrLimit|sdmENC|sdmASCII) != 0 {
		return fs, fmt.Errorf("%w: SDM options %02X have unknown bits", ErrTagDamaged, o)
	}
	s := &SDMSettings{
		MirrorUID: o&sdmUID != 0, MirrorReadCounter: o&sdmCounter != 0,
		ReadCounterLimit: o&sdmCtrLimit != 0, EncFileData: o&sdmENC != 0,
		CtrRetKey: rest[1] & 0x0F, MetaReadKey: rest[2] >> 4, FileReadKey: rest[2] & 0x0F,
	}
	rest = rest[3:]
	fields := s.offsetFields()
	if len(rest) != 3*len(fields) {
		return fs, fmt.Errorf("%w: SDM settings carry %d offset bytes, the options call for %d", ErrTagDamaged, len(rest), 3*len(fields))
	}
	for i, p := range fields {
		*p = getLE24(rest[3*i:])
	}
	fs.SDM = s
	return fs, nil
}

// Mirrors says in words what the tag mirrors into each read.
func (s *SDMSettings) Mirrors() string {
	var parts []string
	switch {
	case s.MetaReadKey == AccessFree:
		var what []string
		if s.MirrorUID {
			what = append(what, fmt.Sprintf("UID at %d", s.UIDOffset))
		}
		if s.MirrorReadCounter {
			what = append(what, fmt.Sprintf("read counter at %d", s.ReadCtrOffset))
		}
		if len(what) == 0 {
			what = append(what, "nothing")
		}
		parts = append(parts, "plain "+strings.Join(what, " and "))
	case s.MetaReadKey <= 4:
		var what []string
		if s.MirrorUID {
			what = append(what, "UID")
		}
		if s.MirrorReadCounter {
			what = append(what, "read counter")
		}
		parts = append(parts, fmt.Sprintf("PICC data (%s) encrypted with key %d at %d", strings.Join(what, " and "), s.MetaReadKey, s.PICCDataOffset))
	}
	if s.FileReadKey != AccessNever {
		if s.EncFileData {
			parts = append(parts, fmt.Sprintf("file data encrypted at %d (%d characters)", s.ENCOffset, s.ENCLength))
		}
		parts = append(parts, fmt.Sprintf("MAC with key %d at %d over the text from %d", s.FileReadKey, s.MACOffset, s.MACInputOffset))
	}
	if s.ReadCounterLimit {
		parts = append(parts, fmt.Sprintf("read counter limit %d", s.ReadCtrLimit))
	}
	return strings.Join(parts, "; ")
}

func keyRef(k byte) bool { return k <= 4 || k == AccessFree || k == AccessNever }

// Check refuses settings an NTAG 424 DNA would refuse: access conditions other than
// keys 0–4, free or never; SDM options that contradict each other; mirrored fields
// outside the file or overlapping; a MAC input or encrypted data that does not end
// before the MAC.
func (fs FileSettings) Check() error {
	a := fs.Access
	for _, k := range []byte{a.Read, a.Write, a.ReadWrite, a.Change} {
		if !keyRef(k) {
			return fmt.Errorf("access condition %X: want a key 0–4, E (free) or F (never)", k)
		}
	}
	s := fs.SDM
	if s == nil {
		return nil
	}
	mirrorsMeta := s.MirrorUID || s.MirrorReadCounter
	switch {
	case !keyRef(s.CtrRetKey) || !keyRef(s.MetaReadKey) || (s.FileReadKey > 4 && s.FileReadKey != AccessNever):
		return fmt.Errorf("SDM keys: counter %X, meta %X, file %X are not key references", s.CtrRetKey, s.MetaReadKey, s.FileReadKey)
	case s.MetaReadKey == AccessNever && mirrorsMeta:
		return errors.New("SDM mirrors the UID or counter but its meta read access is never")
	case s.MetaReadKey <= 4 && !mirrorsMeta:
		return errors.New("SDM encrypts PICC data holding neither UID nor counter")
	case s.EncFileData && (s.FileReadKey == AccessNever || !s.MirrorUID || !s.MirrorReadCounter):
		return errors.New("SDM encrypted file data needs a file read key and both UID and counter mirrored")
	case s.ReadCounterLimit && s.ReadCtrLimit > 0xFFFFFF:
		return fmt.Errorf("SDM read counter limit %d does not fit 3 bytes", s.ReadCtrLimit)
	}
	type span struct {
		name  string
		at, n int
	}
	var spans []span
	switch {
	case s.MetaReadKey == AccessFree:
		if s.MirrorUID {
			spans = append(spans, span{"UID", s.UIDOffset, 14})
		}
		if s.MirrorReadCounter {
			spans = append(spans, span{"read counter", s.ReadCtrOffset, 6})
		}
	case s.MetaReadKey <= 4:
		spans = append(spans, span{"PICC data", s.PICCDataOffset, 32})
	}
	if s.FileReadKey != AccessNever {
		if s.MACInputOffset > s.MACOffset {
			return fmt.Errorf("SDM MAC input starts at %d, after the MAC at %d", s.MACInputOffset, s.MACOffset)
		}
		if s.EncFileData {
			if s.ENCLength == 0 || s.ENCLength%32 != 0 || s.ENCOffset < s.MACInputOffset || s.ENCOffset+s.ENCLength > s.MACOffset {
				return fmt.Errorf("SDM encrypted data of %d characters at %d must be a multiple of 32 inside the MAC input (%d to %d)", s.ENCLength, s.ENCOffset, s.MACInputOffset, s.MACOffset)
			}
			spans = append(spans, span{"encrypted data", s.ENCOffset, s.ENCLength})
		}
		spans = append(spans, span{"MAC", s.MACOffset, 16})
	}
	for i, x := range spans {
		if x.at < 0 || x.at+x.n > fs.Size {
			return fmt.Errorf("SDM %s at %d runs past the %d-byte file", x.name, x.at, fs.Size)
		}
		for _, y := range spans[i+1:] {
			if x.at < y.at+y.n && y.at < x.at+x.n {
				return fmt.Errorf("SDM %s at %d overlaps the %s at %d", x.name, x.at, y.name, y.at)
			}
		}
	}
	return nil
}
