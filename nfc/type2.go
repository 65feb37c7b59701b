package nfc

import (
	"bytes"
	"errors"
	"fmt"
)

// Type 2 memory map facts shared by every IC (NFC Forum T2T).
const (
	pageSize      = 4
	pageCC        = 3
	pageUserStart = 4
	userOffset    = pageUserStart * pageSize // byte offset of the data area

	ccMagic         = 0xE1
	ccWriteReadOnly = 0x0F // CC byte 3: no write access
)

// Native Type 2 commands.
const (
	nativeFastRead = 0x3A
	nativeReadCnt  = 0x39
	nativePwdAuth  = 0x1B
)

// CFG1 ACCESS byte bits (NTAG21x, Ultralight EV1).
const (
	accessPROT       = 0x80
	accessNFCCntEn   = 0x10
	accessAuthLimMsk = 0x07 // AUTHLIM: failed PWD_AUTH attempts allowed, 0 = unlimited
)

// MaxAuthLimit is the largest AUTHLIM a tag takes: three bits.
const MaxAuthLimit = 7

// nakAuthLimit is the NAK of an IC whose AUTHLIM failed attempts are used up.
const nakAuthLimit = 0x04

// Factory password settings: PWD FFFFFFFF, PACK 0000.
var (
	factoryPWD  = []byte{0xFF, 0xFF, 0xFF, 0xFF}
	factoryPACK = []byte{0x00, 0x00}
)

// pageCache holds the pages of a Type 2 tag read so far, so that identification,
// reading and diagnosis never ask the tag for the same page twice.
type pageCache struct {
	data  []byte
	have  []bool
	total int // pages the IC has; 0 while unknown
}

func (c *pageCache) limit(total int) {
	c.total = total
	if len(c.have) > total {
		c.have = c.have[:total]
		c.data = c.data[:total*pageSize]
	}
}

func (c *pageCache) grow(pages int) {
	for len(c.have) < pages {
		c.have = append(c.have, false)
		c.data = append(c.data, 0, 0, 0, 0)
	}
}

// get returns pages [page, page+n) when all of them are cached.
func (c *pageCache) get(page, n int) ([]byte, bool) {
	if page < 0 || page+n > len(c.have) {
		return nil, false
	}
	for p := page; p < page+n; p++ {
		if !c.have[p] {
			return nil, false
		}
	}
	return c.data[page*pageSize : (page+n)*pageSize], true
}

func (c *pageCache) put(page int, b []byte) {
	for i := 0; i+pageSize <= len(b); i += pageSize {
		p := page + i/pageSize
		if c.total > 0 && p >= c.total {
			return // a READ past the end wraps around to page 0: not this page
		}
		c.grow(p + 1)
		copy(c.data[p*pageSize:], b[i:i+pageSize])
		c.have[p] = true
	}
}

func (c *pageCache) forget(pages ...int) {
	for _, p := range pages {
		if p >= 0 && p < len(c.have) {
			c.have[p] = false
		}
	}
}

// load makes pages [page, page+n) cached, reading the missing ones in as few
// exchanges as the reader and IC allow: FAST_READ of up to NativeMax bytes, or READ
// BINARY of ReadBinaryMax bytes.
func (c *pageCache) load(t *Tag, page, n int) error {
	end := page + n
	if c.total > 0 && end > c.total {
		end = c.total
	}
	for p := page; p < end; {
		if p < len(c.have) && c.have[p] {
			p++
			continue
		}
		last := end - 1
		for last > p && last < len(c.have) && c.have[last] {
			last--
		}
		var got []byte
		var err error
		if t.fastRead {
			// Never fewer than the four pages a plain READ returns for the same cost.
			count := min(max(last-p+1, 4), t.link.p.NativeMax/pageSize)
			if c.total > 0 {
				count = min(count, c.total-p)
			}
			got, err = t.link.native(fmt.Sprintf("read pages %d-%d", p, p+count-1),
				[]byte{nativeFastRead, byte(p), byte(p + count - 1)})
			if err == nil && len(got) != count*pageSize {
				err = fmt.Errorf("%w: read pages %d-%d: tag returned %d bytes, want %d", ErrReaderFault, p, p+count-1, len(got), count*pageSize)
			}
		} else {
			// Readers that read several pages per READ BINARY refuse to run past the
			// last page; the 16-byte read is the one that may wrap.
			n := 16
			if c.total > 0 {
				want := ((last-p+1)*pageSize + 15) / 16 * 16
				n = max(n, min(t.link.p.ReadBinaryMax, want, (c.total-p)*pageSize))
			}
			got, err = t.link.readBinary(p, n)
		}
		if err != nil {
			return err
		}
		c.put(p, got)
		p += len(got) / pageSize
	}
	return nil
}

// read returns pages [page, page+n), from the cache or the tag.
func (t *Tag) read(page, n int) ([]byte, error) {
	if b, ok := t.mem.get(page, n); ok {
		return b, nil
	}
	if err := t.mem.load(t, page, n); err != nil {
		return nil, err
	}
	b, ok := t.mem.get(page, n)
	if !ok {
		return nil, fmt.Errorf("%w: pages %d-%d are past the end of the tag's memory", ErrReaderFault, page, page+n-1)
	}
	return b, nil
}

// writePage writes one page and keeps the cache in step.
func (t *Tag) writePage(page int, data []byte) error {
	if err := t.link.updateBinary(page, data); err != nil {
		return err
	}
	t.mem.put(page, data)
	return nil
}

// cc returns the capability container (page 3).
func (t *Tag) cc() ([]byte, error) {
	return t.read(pageCC, 1)
}

// dataArea is the NDEF data area size the CC announces, in bytes.
func dataArea(cc []byte) int { return int(cc[2]) * 8 }

// reachableArea is the part of the CC's data area that READ and WRITE reach: all of
// it, except on ICs whose user memory runs past sector 0.
func (t *Tag) reachableArea(cc []byte) int {
	if t.layout != nil && t.layout.TotalUserBytes > 0 {
		return min(dataArea(cc), t.layout.UserBytes())
	}
	return dataArea(cc)
}

// checkCC tells whether cc describes an NDEF-formatted Type 2 tag.
func checkCC(cc []byte) error {
	if cc[0] != ccMagic {
		if allZero(cc) {
			return fmt.Errorf("%w: the tag is not NDEF formatted (capability container is blank)", ErrNoNDEF)
		}
		return fmt.Errorf("%w: capability container % X does not start with E1", ErrTagDamaged, cc)
	}
	if cc[1]>>4 != 1 {
		return fmt.Errorf("%w: capability container announces mapping version %d.%d, tagpay reads 1.x", ErrUnsupported, cc[1]>>4, cc[1]&0x0F)
	}
	if cc[2] == 0 {
		return fmt.Errorf("%w: capability container announces no data area", ErrTagDamaged)
	}
	return nil
}

// tlvScan is where the NDEF TLV sits in a Type 2 data area.
type tlvScan struct {
	found  bool
	offset int // of the TLV's T byte, from the start of the data area
	header int // T and L bytes: 2, or 4 with a three-byte length
	length int // of the NDEF message
}

func (s tlvScan) end() int { return s.offset + s.header + s.length }

// byteSource hands out data-area bytes, reading pages as they are needed.
type byteSource func(off, n int) ([]byte, error)

func (t *Tag) areaSource() byteSource {
	return func(off, n int) ([]byte, error) {
		first := pageUserStart + off/pageSize
		last := pageUserStart + (off+n-1)/pageSize
		b, err := t.read(first, last-first+1)
		if err != nil {
			return nil, err
		}
		skip := off % pageSize
		return b[skip : skip+n], nil
	}
}

// scanTLVs walks the TLV blocks of a data area of size bytes up to the NDEF TLV.
func scanTLVs(src byteSource, size int) (tlvScan, error) {
	for off := 0; off < size; {
		b, err := src(off, 1)
		if err != nil {
			return tlvScan{}, err
		}
		switch b[0] {
		case tlvNull:
			off++
			continue
		case tlvTerminator:
			return tlvScan{}, nil
		case tlvLockControl, tlvMemControl, tlvNDEF, tlvProprietary:
		default:
			return tlvScan{}, fmt.Errorf("%w: byte %d of the data area is %02X, not a TLV type", ErrTagDamaged, off, b[0])
		}
		if off+2 > size {
			return tlvScan{}, fmt.Errorf("%w: TLV %02X at byte %d has no length before the end of the data area", ErrTagDamaged, b[0], off)
		}
		l, err := src(off+1, 1)
		if err != nil {
			return tlvScan{}, err
		}
		s := tlvScan{offset: off, header: 2, length: int(l[0])}
		if l[0] == 0xFF {
			if off+4 > size {
				return tlvScan{}, fmt.Errorf("%w: TLV %02X at byte %d has a truncated three-byte length", ErrTagDamaged, b[0], off)
			}
			l3, err := src(off+2, 2)
			if err != nil {
				return tlvScan{}, err
			}
			s.header, s.length = 4, int(l3[0])<<8|int(l3[1])
		}
		if s.end() > size {
			return tlvScan{}, fmt.Errorf("%w: TLV %02X at byte %d claims %d bytes, past the end of the %d-byte data area", ErrTagDamaged, b[0], off, s.length, size)
		}
		if b[0] == tlvNDEF {
			s.found = true
			return s, nil
		}
		off = s.end() // lock control, memory control, proprietary: skip
	}
	return tlvScan{}, nil
}

// readNDEFType2 returns the NDEF message, reading only the pages its TLV covers.
func (t *Tag) readNDEFType2() ([]byte, error) {
	cc, err := t.cc()
	if err != nil {
		return nil, err
	}
	if err := checkCC(cc); err != nil {
		return nil, err
	}
	src := t.areaSource()
	s, err := scanTLVs(src, t.reachableArea(cc))
	if err != nil {
		return nil, err
	}
	if !s.found {
		return nil, fmt.Errorf("%w: the data area holds no NDEF TLV", ErrNoNDEF)
	}
	if s.length == 0 {
		return []byte{}, nil
	}
	msg, err := src(s.offset+s.header, s.length)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(msg), nil
}

// maxMessage is the largest message an area of size bytes holds as TLV + terminator:
// a one-byte length up to 254, a three-byte length (two more bytes) from 255 on.
func maxMessage(size int) int {
	if size-5 >= 0xFF {
		return min(size-5, 0xFFFE)
	}
	return max(min(size-3, 0xFE), 0)
}

// writeNDEFType2 writes msg so that a tag pulled away mid-write never shows a
// half-written message as complete: the first page goes out with length 0, then the
// rest, then the first page again with the real length (NFC Forum T2T, 6.4.2).
func (t *Tag) writeNDEFType2(msg []byte) error {
	cc, err := t.cc()
	if err != nil {
		return err
	}
	var format []byte // CC to write when the tag is blank
	if err := checkCC(cc); err != nil {
		if !errors.Is(err, ErrNoNDEF) || t.layout == nil {
			return err
		}
		format = bytes.Clone(t.layout.CC[:])
		cc = format
	}
	if cc[3] != 0x00 {
		return fmt.Errorf("%w: the capability container forbids writing (write access %X)", ErrReadOnly, cc[3]&0x0F)
	}
	area := t.reachableArea(cc)
	if limit := maxMessage(area); len(msg) > limit {
		return &TooLargeError{Size: len(msg), Max: limit, Tag: t.Name}
	}
	tlv := NDEFTLV(msg)
	for len(tlv)%pageSize != 0 {
		tlv = append(tlv, 0x00)
	}
	pages := len(tlv) / pageSize
	first := bytes.Clone(tlv[:pageSize])
	if len(msg) > 0 {
		if first[1] == 0xFF {
			first[2], first[3] = 0, 0
		} else {
			first[1] = 0
		}
	}

	var plan []int
	var data [][]byte
	if format != nil {
		plan, data = append(plan, pageCC), append(data, format)
	}
	plan, data = append(plan, pageUserStart), append(data, first)
	for i := 1; i < pages; i++ {
		plan, data = append(plan, pageUserStart+i), append(data, tlv[i*pageSize:(i+1)*pageSize])
	}
	if !bytes.Equal(first, tlv[:pageSize]) {
		plan, data = append(plan, pageUserStart), append(data, tlv[:pageSize])
	}

	// A password boundary inside the message would leave it torn: refuse before
	// writing anything, at the cost of reading the configuration pages.
	if err := t.checkWriteAccess(plan...); err != nil {
		if errors.Is(err, ErrTagRemoved) {
			return &TornWriteError{PagesPlanned: plan, Err: err}
		}
		return err
	}
	var done []int
	for i, p := range plan {
		if err := t.writePage(p, data[i]); err != nil {
			// A refusal (status word) means the page was not written; a lost answer
			// leaves it unknown.
			var refused *statusError
			inDoubt := !errors.As(err, &refused)
			if perr := t.protectedWrite(p, err); perr != nil {
				if len(done) == 0 {
					return perr
				}
				err, inDoubt = perr, false
			}
			torn := &TornWriteError{PagesWritten: done, PagesPlanned: plan, Err: err}
			if inDoubt {
				torn.PagesInDoubt = []int{p}
			}
			return torn
		}
		done = append(done, p)
	}

	// Read back from the tag itself, not from the cache the writes filled, in as few
	// exchanges as the reader allows.
	t.mem.forget(plan...)
	if err := t.mem.load(t, pageUserStart, pages); err != nil {
		if errors.Is(err, ErrTagRemoved) {
			return &TornWriteError{PagesWritten: done, PagesPlanned: plan, Verifying: true, Err: err}
		}
		return fmt.Errorf("read back after writing: %w", err)
	}
	got, err := t.readNDEFType2()
	if err != nil {
		if errors.Is(err, ErrTagRemoved) {
			return &TornWriteError{PagesWritten: done, PagesPlanned: plan, Verifying: true, Err: err}
		}
		return fmt.Errorf("read back after writing: %w", err)
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("%w: read back %d bytes that differ from the %d bytes written", ErrTagDamaged, len(got), len(msg))
	}
	return nil
}

// lockType2 makes the tag read-only for good: CC write access 0F, then the dynamic
// lock bits, then the static lock bits (which also freeze page 3, so they go last).
func (t *Tag) lockType2() error {
	cc, err := t.cc()
	if err != nil {
		return err
	}
	if err := checkCC(cc); err != nil {
		return fmt.Errorf("refusing to lock: %w", err)
	}
	if err := t.checkWriteAccess(2, pageCC, t.dynLockPage()); err != nil {
		return fmt.Errorf("refusing to lock: %w", err)
	}
	if cc[3] != ccWriteReadOnly {
		ro := bytes.Clone(cc)
		ro[3] = ccWriteReadOnly
		if err := t.writePage(pageCC, ro); err != nil {
			return fmt.Errorf("set the capability container read-only: %w", err)
		}
	}
	if dl := t.dynLockPage(); dl >= 0 {
		cur, err := t.read(dl, 1)
		if err != nil {
			return fmt.Errorf("read the dynamic lock bytes: %w", err)
		}
		if err := t.writePage(dl, []byte{0xFF, 0xFF, 0xFF, cur[3]}); err != nil {
			return fmt.Errorf("set the dynamic lock bits: %w", err)
		}
	}
	p2, err := t.read(2, 1)
	if err != nil {
		return err
	}
	if err := t.writePage(2, []byte{p2[0], p2[1], 0xFF, 0xFF}); err != nil {
		return fmt.Errorf("set the static lock bits: %w", err)
	}
	// The IC ORs lock bits in and may refuse some: trust only what reads back.
	t.mem.forget(2, pageCC, t.dynLockPage())
	st, err := t.lockState()
	if err != nil {
		return fmt.Errorf("read back the lock bits: %w", err)
	}
	if st != LockReadOnly {
		return fmt.Errorf("%w: after locking the tag reads back as %s", ErrTagDamaged, st)
	}
	return nil
}

// Lock states a tag reports.
const (
	LockWritable  = "writable"
	LockPartial   = "partially locked"
	LockReadOnly  = "read-only"
	LockUnknown   = "unknown"
	lockAllStatic = 0xFFFF
)

// lockState reads the static and dynamic lock bits and the CC write access.
func (t *Tag) lockState() (string, error) {
	hdr, err := t.read(2, 2)
	if err != nil {
		return LockUnknown, err
	}
	static := uint16(hdr[2]) | uint16(hdr[3])<<8
	ccRO := hdr[7] == ccWriteReadOnly
	dynAll, dynNone := true, true
	if dl := t.dynLockPage(); dl >= 0 {
		d, err := t.read(dl, 1)
		if errors.Is(err, ErrTagRemoved) {
			return LockUnknown, err
		}
		if err != nil {
			return LockUnknown, nil // read-protected by a password
		}
		dynAll = d[0] == 0xFF && d[1] == 0xFF && d[2] == 0xFF
		dynNone = d[0] == 0 && d[1] == 0 && d[2] == 0
	}
	switch {
	case static == lockAllStatic && dynAll:
		return LockReadOnly, nil
	case static == 0 && dynNone && !ccRO:
		return LockWritable, nil
	}
	return LockPartial, nil
}

func (t *Tag) signatureType2() ([]byte, error) {
	sig, err := t.link.native("read the originality signature", cmdReadSig)
	if err != nil {
		return nil, err
	}
	if len(sig) != 32 {
		return nil, fmt.Errorf("%w: originality signature has %d bytes, want 32", ErrReaderFault, len(sig))
	}
	return sig, nil
}

// totalPages is the IC's page count: from its layout, or the CC's data area.
func (t *Tag) totalPages() int {
	if t.layout != nil {
		return t.layout.Pages
	}
	if cc, ok := t.mem.get(pageCC, 1); ok && cc[0] == ccMagic {
		return pageUserStart + dataArea(cc)/pageSize
	}
	return pageUserStart
}

func (t *Tag) dynLockPage() int {
	if t.layout == nil {
		return -1
	}
	return t.layout.DynLock
}

func (t *Tag) cfg0Page() int {
	if t.layout == nil {
		return -1
	}
	return t.layout.CFG0
}
