package nfc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tagpay/tagpay/nfc/ndef"
)

// Status is a diagnosis verdict.
type Status string

const (
	StatusPass Status = "PASS"
	StatusWarn Status = "WARN" // works, but something deserves a look
	StatusFail Status = "FAIL" // broken, damaged or not genuine
)

// Check is one line of `tag diagnose`.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
}

// Names of the checks, in the order Diagnose runs them.
const (
	CheckReader    = "reader"
	CheckATR       = "atr"
	CheckIC        = "ic"
	CheckUID       = "uid"
	CheckCC        = "capability container"
	CheckNDEF      = "ndef"
	CheckLock      = "lock"
	CheckPassword  = "password"
	CheckSignature = "originality signature"
	CheckSDM       = "sdm"
	CheckSUN       = "sun"
)

// DiagnoseOptions choose the reader and give the keys some checks need.
type DiagnoseOptions struct {
	Reader string // as SelectReader takes it
	// MetaKey and FileKey (16 bytes each) let an NTAG 424 DNA's SUN URL be checked.
	MetaKey, FileKey []byte
	// Password (4 bytes), when given, is presented with PWD_AUTH before the checks,
	// so that a read-protected tag can be examined whole.
	Password []byte
}

// Diagnose examines the reader and the tag on it, check by check, and says what a
// field engineer needs to know: is the tag readable, genuine, intact, locked? It
// stops early only when later checks cannot run (no reader, no tag, unusable tag).
func Diagnose(ctx context.Context, bus Bus, opts DiagnoseOptions) []Check {
	var out []Check
	add := func(name string, st Status, format string, args ...any) {
		out = append(out, Check{Name: name, Status: st, Detail: fmt.Sprintf(format, args...)})
	}
	r, err := SelectReader(ctx, bus, opts.Reader)
	if err != nil {
		add(CheckReader, StatusFail, "%v", err)
		return out
	}
	if !r.Present {
		add(CheckReader, StatusFail, "%q holds no tag; place one on it", r.Name)
		return out
	}
	add(CheckReader, StatusPass, "%q holds a tag", r.Name)
	card, err := bus.Connect(ctx, r.Name)
	if err != nil {
		add(CheckATR, StatusFail, "cannot connect to the tag: %v", err)
		return out
	}
	atr, err := ParseATR(card.ATR())
	if err != nil {
		add(CheckATR, StatusFail, "% X: %v", card.ATR(), err)
	} else {
		add(CheckATR, StatusPass, "% X: %s", card.ATR(), describeATR(atr))
	}
	t, err := Open(card)
	if t == nil {
		_ = card.Close()
		add(CheckIC, StatusFail, "%v", err)
		return out
	}
	defer t.Close()
	if err != nil {
		add(CheckIC, StatusFail, "%s: %v", t.Name, err)
		return out
	}
	return append(out, DiagnoseTag(t, opts)...)
}

func describeATR(a ATRInfo) string {
	if a.Storage {
		std := fmt.Sprintf("standard %02X", a.Standard)
		if a.Standard == ssISO14443A3 {
			std = "ISO 14443A-3"
		}
		return fmt.Sprintf("storage card, %s, %s", std, a.Name())
	}
	return fmt.Sprintf("ISO 14443-4 card, historical bytes % X", []byte(a.Historical))
}

// DiagnoseTag runs the checks from the IC on, for a tag already open.
func DiagnoseTag(t *Tag, opts DiagnoseOptions) []Check {
	d := &diagnosis{t: t}
	d.ic()
	if len(opts.Password) > 0 && t.family == familyType2 {
		d.authErr = t.Authenticate(opts.Password, nil)
		d.authTried = true
	}
	if t.family == familyType4 {
		d.type4(opts)
	} else {
		d.type2()
	}
	return d.out
}

type diagnosis struct {
	t         *Tag
	out       []Check
	authTried bool  // a password was given
	authErr   error // what presenting it gave
}

func (d *diagnosis) add(name string, st Status, format string, args ...any) {
	d.out = append(d.out, Check{Name: name, Status: st, Detail: fmt.Sprintf(format, args...)})
}

// removed reports (once) that the tag left, which ends the diagnosis.
func (d *diagnosis) removed(name string, err error) bool {
	if !errors.Is(err, ErrTagRemoved) {
		return false
	}
	d.add(name, StatusFail, "%v", err)
	return true
}

func (d *diagnosis) ic() {
	t := d.t
	switch {
	case t.Type == TypeUnknown:
		d.add(CheckIC, StatusWarn, "%s: IC not recognised, only generic NDEF access is possible", t.Name)
	case t.Version == nil:
		d.add(CheckIC, StatusWarn, "%s, identified from its ATR and capability container (no GET_VERSION through reader personality %q)", t.Name, t.Personality())
	default:
		d.add(CheckIC, StatusPass, "%s (GET_VERSION % X) through reader personality %q", t.Name, t.Version, t.Personality())
	}
}

func (d *diagnosis) type2() {
	t := d.t
	hdr, err := t.read(0, 4)
	if err != nil {
		d.add(CheckUID, StatusFail, "cannot read pages 0-3: %v", err)
		return
	}
	d.uidType2(hdr)
	cc := hdr[12:16]
	if !d.ccType2(cc) {
		return
	}
	if d.ndefType2(cc) {
		return
	}
	if d.lockType2() {
		return
	}
	if d.passwordType2() {
		return
	}
	d.signature()
}

// uidType2 checks the UID's check bytes (ISO 14443-3: BCC0 = 88 ^ UID0..2, BCC1 =
// UID3..6) and the manufacturer byte.
func (d *diagnosis) uidType2(hdr []byte) {
	uid := d.t.UID
	bcc0 := 0x88 ^ hdr[0] ^ hdr[1] ^ hdr[2]
	bcc1 := hdr[4] ^ hdr[5] ^ hdr[6] ^ hdr[7]
	switch {
	case hdr[3] != bcc0:
		d.add(CheckUID, StatusFail, "%X: check byte BCC0 is %02X, should be %02X (UID pages altered: a clone or a damaged tag)", uid, hdr[3], bcc0)
	case hdr[8] != bcc1:
		d.add(CheckUID, StatusFail, "%X: check byte BCC1 is %02X, should be %02X (UID pages altered: a clone or a damaged tag)", uid, hdr[8], bcc1)
	case uid[0] != 0x04:
		d.add(CheckUID, StatusWarn, "%X: check bytes correct, but manufacturer byte %02X is not NXP (04)", uid, uid[0])
	default:
		d.add(CheckUID, StatusPass, "%X, check bytes BCC0 %02X and BCC1 %02X correct", uid, bcc0, bcc1)
	}
}

// ccType2 reports whether later checks can rely on the CC.
func (d *diagnosis) ccType2(cc []byte) bool {
	t := d.t
	if err := checkCC(cc); err != nil {
		st := StatusFail
		if errors.Is(err, ErrNoNDEF) {
			st = StatusWarn
		}
		d.add(CheckCC, st, "% X: %v", cc, err)
		return false
	}
	size := dataArea(cc)
	access := "writable"
	switch {
	case cc[3] == ccWriteReadOnly:
		access = "read-only"
	case cc[3] != 0:
		access = fmt.Sprintf("write access %X", cc[3]&0x0F)
	}
	switch {
	case t.layout == nil:
		d.add(CheckCC, StatusWarn, "% X: %d-byte data area, %s; IC size unknown, cannot cross-check", cc, size, access)
	case size > t.layout.AllUserBytes():
		d.add(CheckCC, StatusFail, "% X: announces %d bytes but an %s has %d: writers will run past user memory", cc, size, t.Name, t.layout.AllUserBytes())
	case cc[2] != t.layout.CC[2]:
		d.add(CheckCC, StatusWarn, "% X: announces %d bytes, an %s has %d", cc, size, t.Name, t.layout.AllUserBytes())
	case t.layout.TotalUserBytes > 0:
		d.add(CheckCC, StatusPass, "% X: %d-byte data area matches the %s, %s; tagpay reaches the %d bytes in sector 0", cc, size, t.Name, access, t.layout.UserBytes())
	default:
		d.add(CheckCC, StatusPass, "% X: %d-byte data area matches the %s, %s", cc, size, t.Name, access)
	}
	return true
}

// ndefType2 reads the NDEF TLV, its message and the byte after it. A write torn part
// way leaves a length running past the message, or no terminator after it.
func (d *diagnosis) ndefType2(cc []byte) (stop bool) {
	t := d.t
	size := t.reachableArea(cc)
	src := t.areaSource()
	s, err := scanTLVs(src, size)
	if err != nil {
		if d.removed(CheckNDEF, err) {
			return true
		}
		d.add(CheckNDEF, d.unreadable(err), "%v", d.explain(err))
		return false
	}
	if !s.found {
		d.add(CheckNDEF, StatusWarn, "no NDEF message on the tag (formatted but empty)")
		return false
	}
	msg, err := src(s.offset+s.header, s.length)
	if err != nil {
		if d.removed(CheckNDEF, err) {
			return true
		}
		d.add(CheckNDEF, d.unreadable(err), "%v", d.explain(err))
		return false
	}
	if s.end() < size {
		next, err := src(s.end(), 1)
		if err != nil {
			if d.removed(CheckNDEF, err) {
				return true
			}
			d.add(CheckNDEF, d.unreadable(err), "%v", d.explain(err))
			return false
		}
		if next[0] != tlvTerminator {
			d.add(CheckNDEF, StatusFail, "damaged: the %d-byte NDEF TLV at byte %d is followed by %02X, not the terminator FE (an interrupted write); write the message again", s.length, s.offset, next[0])
			return false
		}
	}
	d.message(msg)
	return false
}

// message judges a complete NDEF message.
func (d *diagnosis) message(msg []byte) {
	if len(msg) == 0 {
		d.add(CheckNDEF, StatusWarn, "empty NDEF message")
		return
	}
	m, err := ndef.Decode(msg)
	if err != nil {
		d.add(CheckNDEF, StatusFail, "damaged: the %d-byte NDEF message is malformed (%v); an interrupted write leaves this, write the message again", len(msg), err)
		return
	}
	var kinds []string
	for _, r := range ndef.Describe(m) {
		switch {
		case r.URI != "":
			kinds = append(kinds, "URI "+r.URI)
		case r.Text != "":
			kinds = append(kinds, fmt.Sprintf("text %q", r.Text))
		default:
			kinds = append(kinds, r.TNF+" "+r.Type)
		}
	}
	d.add(CheckNDEF, StatusPass, "%d bytes, %d record(s): %s", len(msg), len(m), strings.Join(kinds, "; "))
}

// unreadable grades a read failure: damage is a FAIL, a reader refusal (often a
// read-protected page) a WARN.
func (d *diagnosis) unreadable(err error) Status {
	if errors.Is(err, ErrTagDamaged) {
		return StatusFail
	}
	return StatusWarn
}

func (d *diagnosis) explain(err error) string {
	if errors.Is(err, ErrTagDamaged) {
		return fmt.Sprintf("damaged: %v; an interrupted write leaves this, write the message again", err)
	}
	return fmt.Sprintf("cannot read the message (%v); the pages may be read-protected by a password", err)
}

func (d *diagnosis) lockType2() (stop bool) {
	st, err := d.t.lockState()
	if err != nil {
		if d.removed(CheckLock, err) {
			return true
		}
		d.add(CheckLock, StatusWarn, "cannot read the lock bytes: %v", err)
		return false
	}
	hdr, _ := d.t.mem.get(2, 2)
	switch st {
	case LockWritable:
		d.add(CheckLock, StatusPass, "writable (no lock bits set)")
	case LockReadOnly:
		d.add(CheckLock, StatusPass, "read-only: lock bits set, the content can no longer change")
	default:
		d.add(CheckLock, StatusWarn, "partially locked (static lock bytes %02X %02X, CC write access %X): some pages can no longer be written", hdr[2], hdr[3], hdr[7]&0x0F)
	}
	return false
}

func (d *diagnosis) passwordType2() (stop bool) {
	t := d.t
	if t.Type == TypeUltralightC && t.layout != nil {
		return d.ultralightC()
	}
	if t.cfg0Page() < 0 {
		d.add(CheckPassword, StatusPass, "%s has no password protection", t.Name)
		return false
	}
	if d.authTried && d.authErr != nil {
		if d.removed(CheckPassword, d.authErr) {
			return true
		}
		d.add(CheckPassword, StatusFail, "the password given was refused: %v", d.authErr)
		return false
	}
	pw, err := t.passwordType2()
	if err != nil {
		if d.removed(CheckPassword, err) {
			return true
		}
		d.add(CheckPassword, StatusWarn, "cannot read the configuration: %v", err)
		return false
	}
	limit := ""
	if pw.Enabled && pw.AuthLimit > 0 {
		limit = fmt.Sprintf(", blocked for good after %d failed attempts", pw.AuthLimit)
	}
	if d.authTried {
		limit += "; the password given was accepted"
	}
	switch {
	case !pw.Enabled:
		d.add(CheckPassword, StatusPass, "no password protection (AUTH0 past the last page)")
	case !pw.Readable:
		d.add(CheckPassword, StatusPass, "password protected: configuration pages are read-protected")
	case pw.ReadProtect:
		d.add(CheckPassword, StatusPass, "password protected from page %d, reads and writes%s", pw.FromPage, limit)
	default:
		d.add(CheckPassword, StatusPass, "password protected from page %d, writes only%s", pw.FromPage, limit)
	}
	return false
}

// ultralightC reports an Ultralight C's 3DES protection from AUTH0 and AUTH1, when
// they can be read.
func (d *diagnosis) ultralightC() (stop bool) {
	l := d.t.layout
	b, err := d.t.read(l.Auth0Page, 2)
	if err != nil {
		if d.removed(CheckPassword, err) {
			return true
		}
		d.add(CheckPassword, StatusWarn, "cannot read AUTH0 (page %d): %v", l.Auth0Page, err)
		return false
	}
	auth0, writesOnly := int(b[l.Auth0Byte]), b[4]&0x01 != 0
	if auth0 >= l.Pages {
		d.add(CheckPassword, StatusPass, "no 3DES protection (AUTH0 %02X past the last page)", auth0)
		return false
	}
	what := "reads and writes"
	if writesOnly {
		what = "writes only"
	}
	d.add(CheckPassword, StatusWarn, "3DES-protected from page %d, %s; tagpay cannot authenticate with 3DES, so those pages stay out of its reach", auth0, what)
	return false
}

// signature checks NXP's originality signature over the UID.
func (d *diagnosis) signature() {
	t := d.t
	sig, err := t.Signature()
	if err != nil {
		if errors.Is(err, ErrUnsupported) {
			d.add(CheckSignature, StatusWarn, "not checked: %v", err)
			return
		}
		d.add(CheckSignature, StatusWarn, "cannot read the signature: %v", err)
		return
	}
	ok, err := VerifyOriginality(t.Type, t.UID, sig)
	switch {
	case err != nil:
		d.add(CheckSignature, StatusWarn, "not checked: %v", err)
	case !ok:
		d.add(CheckSignature, StatusFail, "does not verify against NXP's key for UID %X: not a genuine NXP tag (possible clone)", t.UID)
	default:
		d.add(CheckSignature, StatusPass, "genuine NXP %s (signature verifies for UID %X)", t.Name, t.UID)
	}
}

func (d *diagnosis) type4(opts DiagnoseOptions) {
	t := d.t
	switch {
	case len(t.UID) == 0:
		d.add(CheckUID, StatusWarn, "the tag did not give its UID")
	case len(t.UID) == 7 && t.UID[0] == 0x04:
		d.add(CheckUID, StatusPass, "%X", t.UID)
	default:
		d.add(CheckUID, StatusWarn, "%X: not a 7-byte NXP UID (random ID enabled?)", t.UID)
	}
	s, err := t.loadCC()
	if err != nil {
		if d.removed(CheckCC, err) {
			return
		}
		d.add(CheckCC, StatusFail, "%v", err)
		return
	}
	d.add(CheckCC, StatusPass, "% X: NDEF file %04X of %d bytes, MLe %d, MLc %d", s.ccRaw, s.fileID, s.fileSize, s.mle, s.mlc)
	msg, err := t.readNDEFType4()
	if err != nil {
		if d.removed(CheckNDEF, err) {
			return
		}
		d.add(CheckNDEF, d.unreadable(err), "%v", d.explain(err))
	} else {
		d.message(msg)
	}
	switch {
	case s.writeAcc == t4AccessFree:
		d.add(CheckLock, StatusPass, "writable (NDEF file write access free)")
	case s.writeAcc == t4AccessNone:
		d.add(CheckLock, StatusPass, "read-only (NDEF file write access never)")
	default:
		d.add(CheckLock, StatusPass, "writing needs key %02X", s.writeAcc)
	}
	if t.Type == TypeNTAG424DNA {
		d.signature()
		if d.sdm() {
			return
		}
	}
	if t.Type == TypeNTAG424DNA && len(opts.MetaKey) > 0 && len(opts.FileKey) > 0 && err == nil {
		d.sun(msg, opts)
	}
}

// sdm reports whether the NDEF file mirrors a SUN message, and what into it.
func (d *diagnosis) sdm() (stop bool) {
	fs, err := d.t.GetFileSettings(File424NDEF)
	if err != nil {
		if d.removed(CheckSDM, err) {
			return true
		}
		d.add(CheckSDM, StatusWarn, "cannot read the NDEF file settings: %v", err)
		return false
	}
	if fs.SDM == nil {
		d.add(CheckSDM, StatusWarn, "SDM off: the tag serves a fixed URL, no SUN message (NDEF file %s)", fs.Access)
		return false
	}
	d.add(CheckSDM, StatusPass, "SDM on: %s; NDEF file %s", fs.SDM.Mirrors(), fs.Access)
	return false
}

func (d *diagnosis) sun(msg []byte, opts DiagnoseOptions) {
	m, err := ndef.Decode(msg)
	if err != nil {
		d.add(CheckSUN, StatusFail, "no readable NDEF message to check")
		return
	}
	url, ok := ndef.FirstURI(m)
	if !ok {
		d.add(CheckSUN, StatusFail, "the NDEF message holds no URI")
		return
	}
	res, err := VerifySUN(url, opts.MetaKey, opts.FileKey)
	switch {
	case errors.Is(err, ErrNotSUN):
		d.add(CheckSUN, StatusWarn, "%s carries no SUN message (SUN mirroring off?)", url)
	case err != nil:
		d.add(CheckSUN, StatusFail, "%s: %v", url, err)
	case !res.Valid:
		d.add(CheckSUN, StatusFail, "MAC does not verify with the given keys (wrong keys, or a forged URL)")
	case len(d.t.UID) > 0 && !bytes.Equal(res.UID, d.t.UID):
		d.add(CheckSUN, StatusFail, "the URL names UID %X but the tag is %X (URL copied from another tag)", res.UID, d.t.UID)
	default:
		d.add(CheckSUN, StatusPass, "MAC valid, UID %X, read counter %d", res.UID, res.Counter)
	}
}
