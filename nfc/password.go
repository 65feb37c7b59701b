package nfc

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrPasswordProtected marks a write (or read) refused because the tag guards the
// pages with its PWD_AUTH password and none was presented. It matches ErrDevice.
var ErrPasswordProtected error = deviceError("tag is password-protected")

// PasswordInfo is a tag's password protection as its configuration pages show it.
type PasswordInfo struct {
	Supported   bool `json:"supported"`
	Enabled     bool `json:"enabled"`
	FromPage    int  `json:"from_page,omitempty"`  // AUTH0: first protected page
	ReadProtect bool `json:"read_protect"`         // PROT: reads need the password too
	AuthLimit   int  `json:"auth_limit,omitempty"` // AUTHLIM: failed attempts allowed, 0 = unlimited
	Readable    bool `json:"readable"`             // the configuration pages could be read
}

// Password reads the tag's password protection: AUTH0, PROT and AUTHLIM.
func (t *Tag) Password() (PasswordInfo, error) {
	if err := t.usable(); err != nil {
		return PasswordInfo{}, err
	}
	if t.family != familyType2 {
		return PasswordInfo{}, nil
	}
	return t.passwordType2()
}

func (t *Tag) passwordType2() (PasswordInfo, error) {
	cfg0 := t.cfg0Page()
	if cfg0 < 0 {
		return PasswordInfo{}, nil
	}
	info := PasswordInfo{Supported: true}
	cfg, err := t.read(cfg0, 2)
	if err != nil {
		if errors.Is(err, ErrTagRemoved) {
			return info, err
		}
		// Unreadable configuration means reading is password-protected before it.
		info.Enabled, info.ReadProtect = true, true
		return info, nil
	}
	info.Readable = true
	auth0 := int(cfg[3])
	info.FromPage = auth0
	info.Enabled = auth0 < t.totalPages()
	info.ReadProtect = info.Enabled && cfg[4]&accessPROT != 0
	info.AuthLimit = int(cfg[4] & accessAuthLimMsk)
	if !info.Enabled {
		info.FromPage = 0
	}
	return info, nil
}

// PasswordConfig sets NTAG21x / Ultralight EV1 password protection.
type PasswordConfig struct {
	Password []byte // PWD, 4 bytes
	PACK     []byte // password acknowledge the tag answers with, 2 bytes
	// FromPage is AUTH0, the first protected page; 0 or less turns protection off.
	FromPage    int
	ReadProtect bool // PROT: reads need the password too, not only writes
	// AuthLimit is AUTHLIM, the failed PWD_AUTH attempts the tag allows before it
	// blocks the password for good (0 = unlimited, at most MaxAuthLimit).
	AuthLimit int
}

// errUltralightC explains why an Ultralight C's protection is out of reach.
var errUltralightC = fmt.Errorf("%w: a MIFARE Ultralight C guards its pages with 3DES authentication, which tagpay does not support (only NTAG21x and Ultralight EV1 PWD_AUTH passwords)", ErrUnsupported)

func (t *Tag) setPasswordType2(cfg PasswordConfig) error {
	if t.Type == TypeUltralightC {
		return errUltralightC
	}
	cfg0 := t.cfg0Page()
	if cfg0 < 0 {
		return fmt.Errorf("%w: %s has no password protection", ErrUnsupported, t.Name)
	}
	if len(cfg.Password) != 4 || len(cfg.PACK) != 2 {
		return fmt.Errorf("password must be 4 bytes and PACK 2 bytes, got %d and %d", len(cfg.Password), len(cfg.PACK))
	}
	if cfg.AuthLimit < 0 || cfg.AuthLimit > MaxAuthLimit {
		return fmt.Errorf("the limit of failed password attempts must be 0 (none) to %d, got %d", MaxAuthLimit, cfg.AuthLimit)
	}
	auth0 := 0xFF
	if cfg.FromPage > 0 {
		if cfg.FromPage >= t.totalPages() {
			return fmt.Errorf("protection cannot start at page %d: %s has pages 0-%d", cfg.FromPage, t.Name, t.totalPages()-1)
		}
		if cfg.FromPage < pageUserStart {
			return fmt.Errorf("protection cannot start at page %d: pages 0-3 hold the UID, lock bits and capability container, which readers must reach", cfg.FromPage)
		}
		auth0 = cfg.FromPage
	}
	if err := t.checkWriteAccess(cfg0, cfg0+1, cfg0+2, cfg0+3); err != nil {
		return err
	}
	cur, err := t.read(cfg0, 2)
	if err != nil {
		return fmt.Errorf("read the configuration pages: %w", err)
	}
	c0, c1 := bytes.Clone(cur[0:4]), bytes.Clone(cur[4:8])
	c0[3] = byte(auth0)
	c1[0] &^= accessPROT | accessAuthLimMsk
	if cfg.ReadProtect {
		c1[0] |= accessPROT
	}
	c1[0] |= byte(cfg.AuthLimit)
	// AUTH0 last: protection starts only once the password is in place.
	steps := []cfgWrite{
		{cfg0 + 2, cfg.Password, "password"},
		{cfg0 + 3, []byte{cfg.PACK[0], cfg.PACK[1], 0, 0}, "PACK"},
		{cfg0 + 1, c1, "CFG1 (ACCESS)"},
		{cfg0, c0, "CFG0 (AUTH0)"},
	}
	if err := t.writeConfig(steps); err != nil {
		return err
	}
	if auth0 != 0xFF {
		// PWD cannot be read back; presenting it is the only proof it landed, and
		// it opens the configuration pages again when reads are protected too.
		if err := t.authenticateType2(cfg.Password, cfg.PACK); err != nil {
			return fmt.Errorf("protection is set but the new password does not verify: %w", err)
		}
	}
	return t.verifyConfig(c0[3], c1[0])
}

// RemovePassword turns password protection off (AUTH0 past the last page, PROT and
// AUTHLIM cleared) and puts the factory password FFFFFFFF and PACK 0000 back. A
// protected tag needs Authenticate first.
func (t *Tag) RemovePassword() error {
	if err := t.usable(); err != nil {
		return err
	}
	if t.family != familyType2 || t.cfg0Page() < 0 {
		return fmt.Errorf("%w: %s has no PWD_AUTH password", ErrUnsupported, t.Name)
	}
	return t.Exclusive(func() error {
		cfg0 := t.cfg0Page()
		if err := t.checkWriteAccess(cfg0, cfg0+1, cfg0+2, cfg0+3); err != nil {
			return err
		}
		cur, err := t.read(cfg0, 2)
		if err != nil {
			return fmt.Errorf("read the configuration pages: %w", err)
		}
		c0, c1 := bytes.Clone(cur[0:4]), bytes.Clone(cur[4:8])
		c0[3] = 0xFF
		c1[0] &^= accessPROT | accessAuthLimMsk
		// AUTH0 first: once it is off, a write torn after it leaves an open tag.
		steps := []cfgWrite{
			{cfg0, c0, "CFG0 (AUTH0)"},
			{cfg0 + 1, c1, "CFG1 (ACCESS)"},
			{cfg0 + 2, factoryPWD, "password"},
			{cfg0 + 3, []byte{factoryPACK[0], factoryPACK[1], 0, 0}, "PACK"},
		}
		if err := t.writeConfig(steps); err != nil {
			return err
		}
		return t.verifyConfig(c0[3], c1[0])
	})
}

type cfgWrite struct {
	page int
	data []byte
	what string
}

func (t *Tag) writeConfig(steps []cfgWrite) error {
	for _, s := range steps {
		if err := t.writePage(s.page, s.data); err != nil {
			return fmt.Errorf("write %s (page %d): %w", s.what, s.page, err)
		}
	}
	// PWD and PACK read back as zeros: keep them out of the cache.
	cfg0 := t.cfg0Page()
	t.mem.forget(cfg0, cfg0+1, cfg0+2, cfg0+3)
	return nil
}

// verifyConfig reads CFG0 and CFG1 back from the tag and compares AUTH0 and the
// ACCESS bits that protection uses.
func (t *Tag) verifyConfig(auth0, access byte) error {
	cfg, err := t.read(t.cfg0Page(), 2)
	if err != nil {
		return fmt.Errorf("read back the configuration: %w", err)
	}
	const mask = accessPROT | accessAuthLimMsk
	if cfg[3] != auth0 || cfg[4]&mask != access&mask {
		return fmt.Errorf("%w: configuration reads back AUTH0 %02X ACCESS %02X, written %02X and %02X (CFGLCK set?)", ErrTagDamaged, cfg[3], cfg[4], auth0, access)
	}
	return nil
}

// authenticateType2 presents the password (PWD_AUTH) and checks the PACK.
func (t *Tag) authenticateType2(pwd, pack []byte) error {
	if t.Type == TypeUltralightC {
		return errUltralightC
	}
	if t.cfg0Page() < 0 {
		return fmt.Errorf("%w: %s has no password", ErrUnsupported, t.Name)
	}
	if len(pwd) != 4 {
		return fmt.Errorf("password must be 4 bytes, got %d", len(pwd))
	}
	if len(pack) != 0 && len(pack) != 2 {
		return fmt.Errorf("PACK must be 2 bytes, got %d", len(pack))
	}
	t.authed = false
	got, err := t.link.native("authenticate with the password", append([]byte{nativePwdAuth}, pwd...))
	// A NAK sends the IC back to idle, and a READ it answered before may have rolled
	// over: pages cached so far are no longer trusted either way.
	t.mem = pageCache{total: t.mem.total}
	if err != nil {
		var te *tagError
		if errors.As(err, &te) {
			if te.hasNAK && te.nak == nakAuthLimit {
				return fmt.Errorf("%w: the tag has blocked its password after too many failed attempts (AUTHLIM); its protected pages can never be written again", ErrAuth)
			}
			return fmt.Errorf("%w (each failed attempt counts towards the tag's limit, when it has one)", ErrAuth)
		}
		return err
	}
	if len(got) != 2 {
		return fmt.Errorf("%w: the tag answered PWD_AUTH with %d bytes, a PACK has 2", ErrReaderFault, len(got))
	}
	if len(pack) > 0 && !bytes.Equal(got, pack) {
		return fmt.Errorf("%w: the tag answered PACK %X, expected %X (not the tag the password belongs to?)", ErrAuth, got, pack)
	}
	t.authed = true
	return nil
}

// forgetAuth ends the tag's authenticated state: the IC forgets PWD_AUTH when it
// NAKs a command, here a READ of a page no Type 2 IC has.
func (t *Tag) forgetAuth() {
	t.authed = false
	if t.link == nil {
		return
	}
	if t.link.p.NativeMax > 0 {
		_, _ = t.link.native("end the authentication", []byte{0x30, 0xFF})
		return
	}
	_, _ = t.link.readBinary(0xFF, 16)
}

// checkWriteAccess refuses, before anything is written, writes to pages the tag
// guards with its password when none was presented in this session.
func (t *Tag) checkWriteAccess(pages ...int) error {
	if t.authed || t.cfg0Page() < 0 {
		return nil
	}
	from, readsToo, err := t.protectedFrom()
	if err != nil || from < 0 {
		return err
	}
	for _, p := range pages {
		if p >= from {
			return protectedError(from, readsToo, fmt.Sprintf("writing page %d", p))
		}
	}
	return nil
}

func protectedError(from int, readsToo bool, what string) error {
	reads := ""
	if readsToo {
		reads = " (reads too)"
	}
	return fmt.Errorf("%w from page %d%s: %s needs its password", ErrPasswordProtected, from, reads, what)
}

// protectedFrom is the first page the tag's password guards, and whether it guards
// reads too; -1 when nothing is guarded, or when the tag answers too badly to tell
// (a failing reader must not pass for a protected tag). Its error is a removal.
func (t *Tag) protectedFrom() (int, bool, error) {
	pw, err := t.passwordType2()
	switch {
	case err != nil:
		return -1, false, err
	case !pw.Enabled:
		return -1, false, nil
	case pw.Readable:
		return pw.FromPage, pw.ReadProtect, nil
	}
	// The configuration is unreadable: reads are guarded too, from a page found by
	// probing, provided the tag still answers below it (page 3 never is guarded).
	if ok, err := t.probePage(pageCC); !ok {
		return -1, false, err
	}
	limit, err := t.readableLimit()
	if err != nil || limit >= t.totalPages() {
		return -1, false, err
	}
	return limit, true, nil
}

// refusal tells a command the tag or reader refused from a lost exchange.
func refusal(err error) bool {
	var refused *statusError
	var te *tagError
	return errors.As(err, &refused) || errors.As(err, &te)
}

// protectedWrite explains a write of page p that the tag refused with err: when the
// page lies in the password-protected area and no password was presented, the
// returned error says so; otherwise it is nil.
func (t *Tag) protectedWrite(p int, err error) error {
	if t.authed || t.cfg0Page() < 0 || !refusal(err) {
		return nil
	}
	t.mem.forget(t.cfg0Page(), t.cfg0Page()+1)
	from, readsToo, ferr := t.protectedFrom()
	if ferr != nil || from < 0 || p < from {
		return nil
	}
	return protectedError(from, readsToo, fmt.Sprintf("writing page %d", p))
}

// protectedRead explains a read the tag refused with err: when a password guards
// reads and none was presented, the returned error says from which page; otherwise
// it is nil.
func (t *Tag) protectedRead(err error) error {
	if t.authed || t.cfg0Page() < 0 || !refusal(err) {
		return nil
	}
	from, readsToo, ferr := t.protectedFrom()
	if ferr != nil || from < 0 || !readsToo {
		return nil
	}
	return protectedError(from, true, "reading its NDEF message")
}

// dumpType2 reads every page into an image. Pages a password keeps from being read
// are left as zeros and listed in Unreadable, so a read-protected tag still gives
// what it shows.
func (t *Tag) dumpType2() (*Image, error) {
	total := t.totalPages()
	limit := total
	if _, err := t.read(0, total); err != nil {
		if errors.Is(err, ErrTagRemoved) || t.cfg0Page() < 0 {
			return nil, fmt.Errorf("read pages 0-%d: %w", total-1, err)
		}
		l, lerr := t.readableLimit()
		if lerr != nil {
			return nil, lerr
		}
		if l >= total {
			return nil, fmt.Errorf("read pages 0-%d: %w", total-1, err)
		}
		limit = l
		// Reads that crossed the limit rolled over to page 0: drop what they cached.
		t.mem = pageCache{total: t.mem.total}
		if err := t.readExact(0, limit); err != nil {
			return nil, fmt.Errorf("read pages 0-%d: %w", limit-1, err)
		}
	}
	img := &Image{Type: t.Type, UID: bytes.Clone(t.UID), Version: bytes.Clone(t.Version)}
	b, _ := t.mem.get(0, limit)
	for p := range total {
		if p >= limit {
			img.Pages = append(img.Pages, make(HexBytes, pageSize))
			img.Unreadable = append(img.Unreadable, p)
			continue
		}
		img.Pages = append(img.Pages, bytes.Clone(b[p*pageSize:(p+1)*pageSize]))
	}
	if limit < total {
		t.mem.forget(pagesFrom(limit, total)...)
	}
	if t.link.p.NativeMax > 0 && t.Version != nil {
		if sig, err := t.signatureType2(); err == nil {
			img.Signature = sig
		} else if errors.Is(err, ErrTagRemoved) {
			return nil, err
		}
		if cfg0 := t.cfg0Page(); cfg0 >= 0 && cfg0+1 < limit && t.Type != TypeUltralightEV1 && b[(cfg0+1)*pageSize]&accessNFCCntEn != 0 {
			if c, err := t.link.native("read the NFC counter", []byte{nativeReadCnt, 0x02}); err == nil && len(c) == 3 {
				img.Counter = uint32(c[0]) | uint32(c[1])<<8 | uint32(c[2])<<16
			}
		}
	}
	return img, nil
}

func pagesFrom(from, to int) []int {
	out := make([]int, 0, to-from)
	for p := from; p < to; p++ {
		out = append(out, p)
	}
	return out
}

// readableLimit finds the first page a password keeps from being read: AUTH0 when
// the configuration shows it, else by probing (reads fail from AUTH0 on, and pages
// 0-3 always read).
func (t *Tag) readableLimit() (int, error) {
	total := t.totalPages()
	pw, err := t.passwordType2()
	if err != nil {
		return 0, err
	}
	if pw.Readable {
		if t.authed || !pw.ReadProtect {
			return total, nil
		}
		return pw.FromPage, nil
	}
	lo, hi := pageCC, total // lo reads, hi is taken not to
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		ok, err := t.probePage(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}

// probePage tells whether page p can be read, with a read that never rolls over.
func (t *Tag) probePage(p int) (bool, error) {
	var err error
	if t.fastRead {
		_, err = t.link.native(fmt.Sprintf("read page %d", p), []byte{nativeFastRead, byte(p), byte(p)})
	} else {
		_, err = t.link.readBinary(p, 16)
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrTagRemoved):
		return false, err
	}
	return false, nil
}

// readExact caches pages [from, to) without asking for any page at or past to,
// which a read-protected tag would refuse.
func (t *Tag) readExact(from, to int) error {
	for p := from; p < to; {
		var got []byte
		var err error
		if t.fastRead {
			n := min(to-p, t.link.p.NativeMax/pageSize)
			got, err = t.link.native(fmt.Sprintf("read pages %d-%d", p, p+n-1), []byte{nativeFastRead, byte(p), byte(p + n - 1)})
			if err == nil && len(got) != n*pageSize {
				err = fmt.Errorf("%w: read pages %d-%d: tag returned %d bytes, want %d", ErrReaderFault, p, p+n-1, len(got), n*pageSize)
			}
		} else {
			got, err = t.link.readBinary(p, 16)
			got = got[:min(len(got), (to-p)*pageSize)]
		}
		if err != nil {
			return err
		}
		t.mem.put(p, got)
		p += len(got) / pageSize
	}
	return nil
}
