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
	// StatusSkip is a check that could not run because one it builds on gave nothing
	// to build on; DependsOn names that one.
	StatusSkip Status = "SKIP"
)

// Check is one line of `tag diagnose`.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	// DependsOn, for a skipped check, is the check whose result it needed.
	DependsOn string `json:"depends_on,omitempty"`
}

// Report is what Diagnose found: the tag's UID, once the tag was identified, and
// every check in the order they ran.
type Report struct {
	UID    HexBytes `json:"uid,omitempty"`
	Checks []Check  `json:"checks"`
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
// stops early only when no tag check can run (no reader, no tag, unusable tag); past
// that, a check that needs another's result is reported as skipped when that one gave
// nothing to build on, and every other check runs.
func Diagnose(ctx context.Context, bus Bus, opts DiagnoseOptions) []Check {
	return DiagnoseReport(ctx, bus, opts).Checks
}

// DiagnoseReport is Diagnose with the UID of the tag examined, for callers that
// examine tag after tag.
func DiagnoseReport(ctx context.Context, bus Bus, opts DiagnoseOptions) Report {
	var rep Report
	add := func(name string, st Status, format string, args ...any) {
		rep.Checks = append(rep.Checks, Check{Name: name, Status: st, Detail: fmt.Sprintf(format, args...)})
	}
	r, err := SelectReader(ctx, bus, opts.Reader)
	if err != nil {
		add(CheckReader, StatusFail, "%v", err)
		return rep
	}
	if !r.Present {
		add(CheckReader, StatusFail, "%q holds no tag; place one on it", r.Name)
		return rep
	}
	add(CheckReader, StatusPass, "%q holds a tag", r.Name)
	card, err := bus.Connect(ctx, r.Name)
	if err != nil {
		add(CheckATR, StatusFail, "cannot connect to the tag: %v", err)
		return rep
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
		return rep
	}
	defer t.Close()
	rep.UID = bytes.Clone(t.UID)
	if err != nil {
		add(CheckIC, StatusFail, "%s: %v", t.Name, err)
		return rep
	}
	rep.Checks = append(rep.Checks, DiagnoseTag(t, opts)...)
	return rep
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
	authTried bool   // a password was given
	authErr   error  // what presenting it gave
	gone      string // the check during which the tag left the reader
	hdr       []byte // Type 2 pages 0-3, once read
	cc4       *t4State
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
	d.gone = name
	return true
}

// step is one check, and the checks whose result it builds on. run adds the check's
// line and reports whether the checks that need it can build on its result, which is
// not the same as passing: a UID with wrong check bytes still gives the CC beside it.
type step struct {
	name  string
	needs []string
	run   func() (usable bool)
}

// runSteps runs each step whose dependencies gave something to build on, and reports
// the others as skipped, naming the dependency; once the tag has left, nothing more runs.
func (d *diagnosis) runSteps(steps []step) {
	usable := map[string]bool{}
	for _, s := range steps {
		if d.gone != "" {
			d.skip(s.name, d.gone, "not run: the tag left the reader during the %s check", d.gone)
			continue
		}
		dep := ""
		for _, n := range s.needs {
			if !usable[n] {
				dep = n
				break
			}
		}
		if dep != "" {
			d.skip(s.name, dep, "not run: it needs the %s check, which %s", dep, d.outcome(dep))
			continue
		}
		usable[s.name] = s.run()
	}
}

func (d *diagnosis) skip(name, dep, format string, args ...any) {
	d.out = append(d.out, Check{Name: name, Status: StatusSkip, Detail: fmt.Sprintf(format, args...), DependsOn: dep})
}

// outcome says in a few words why the named check left nothing to build on.
func (d *diagnosis) outcome(name string) string {
	for _, c := range d.out {
		if c.Name != name {
			continue
		}
		switch c.Status {
		case StatusFail:
			return "failed"
		case StatusSkip:
			return "was not run"
		default:
			return fmt.Sprintf("gave %s with nothing to go on", c.Status)
		}
	}
	return "was not run"
}

func (d *diagnosis) ic() {
	t := d.t
	switch {
	case t.Type == TypeUnknown && t.family == familyType2 && t.Version == nil && d.ccDamaged():
		// Without GET_VERSION only the CC's size tells these ICs apart.
		d.add(CheckIC, StatusWarn, "%s: IC not recognised: it gives no GET_VERSION through reader personality %q and its capability container is damaged; only generic NDEF access is possible", t.Name, t.Personality())
	case t.Type == TypeUnknown:
		d.add(CheckIC, StatusWarn, "%s: IC not recognised, only generic NDEF access is possible", t.Name)
	case t.Version == nil:
		d.add(CheckIC, StatusWarn, "%s, identified from its ATR and capability container (no GET_VERSION through reader personality %q)", t.Name, t.Personality())
	default:
		d.add(CheckIC, StatusPass, "%s (GET_VERSION % X) through reader personality %q", t.Name, t.Version, t.Personality())
	}
}

// ccDamaged reports whether the Type 2 CC read while identifying the tag is unusable.
func (d *diagnosis) ccDamaged() bool {
	cc, ok := d.t.mem.get(pageCC, 1)
	if !ok {
		return false
	}
	err := checkCC(cc)
	return err != nil && !errors.Is(err, ErrNoNDEF)
}

// type2 runs the Type 2 checks. The lock bytes, the password configuration and the
// signature are read on their own, so a damaged CC or message hides none of them.
func (d *diagnosis) type2() {
	d.runSteps([]step{
		{CheckUID, nil, d.uidType2},
		{CheckCC, []string{CheckUID}, func() bool { return d.ccType2(d.hdr[12:16]) }},
		{CheckNDEF, []string{CheckCC}, func() bool { d.ndefType2(d.hdr[12:16]); return true }},
		{CheckLock, nil, func() bool { d.lockType2(); return true }},
		{CheckPassword, nil, func() bool { d.passwordType2(); return true }},
		{CheckSignature, nil, func() bool { d.signature(); return true }},
	})
}

// uidType2 reads pages 0-3 and checks the UID's check bytes (ISO 14443-3: BCC0 = 88 ^
// UID0..2, BCC1 = UID3..6) and the manufacturer byte. It is usable once the pages are
// read, whatever the verdict: they hold the CC too.
func (d *diagnosis) uidType2() (usable bool) {
	hdr, err := d.t.read(0, 4)
	if err != nil {
		if !d.removed(CheckUID, err) {
			d.add(CheckUID, StatusFail, "cannot read pages 0-3: %v", err)
		}
		return false
	}
	d.hdr = hdr
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
	return true
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
func (d *diagnosis) ndefType2(cc []byte) {
	t := d.t
	size := t.reachableArea(cc)
	src := t.areaSource()
	s, err := scanTLVs(src, size)
	if err != nil {
		if d.removed(CheckNDEF, err) {
			return
		}
		d.add(CheckNDEF, d.unreadable(err), "%v", d.explain(err))
		return
	}
	if !s.found {
		d.add(CheckNDEF, StatusWarn, "no NDEF message on the tag (formatted but empty)")
		return
	}
	msg, err := src(s.offset+s.header, s.length)
	if err != nil {
		if d.removed(CheckNDEF, err) {
			return
		}
		d.add(CheckNDEF, d.unreadable(err), "%v", d.explain(err))
		return
	}
	if s.end() < size {
		next, err := src(s.end(), 1)
		if err != nil {
			if d.removed(CheckNDEF, err) {
				return
			}
			d.add(CheckNDEF, d.unreadable(err), "%v", d.explain(err))
			return
		}
		if next[0] != tlvTerminator {
			d.add(CheckNDEF, StatusFail, "damaged: the %d-byte NDEF TLV at byte %d is followed by %02X, not the terminator FE (an interrupted write); write the message again", s.length, s.offset, next[0])
			return
		}
	}
	d.message(msg)
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

func (d *diagnosis) lockType2() {
	st, err := d.t.lockState()
	if err != nil {
		if d.removed(CheckLock, err) {
			return
		}
		d.add(CheckLock, StatusWarn, "cannot read the lock bytes: %v", err)
		return
	}
	hdr, _ := d.t.mem.get(2, 2)
	switch st {
	case LockWritable:
		d.add(CheckLock, StatusPass, "writable (no lock bits set)")
	case LockReadOnly:
		d.add(CheckLock, StatusPass, "read-only: lock bits set, the content can no longer change")
	case LockUnknown:
		// The static lock bytes read, the dynamic ones did not: a password guards
		// reads from a page before them, so nothing can be said of the pages they lock.
		hint := "give the tag's password (--password, or --ledger-password) to read them"
		if d.authTried && d.authErr != nil {
			hint = "the password given was refused"
		}
		d.add(CheckLock, StatusWarn, "unknown: the tag is read-protected, so the dynamic lock bytes (page %d) and its configuration could not be read (static lock bytes %02X %02X); %s", d.t.dynLockPage(), hdr[2], hdr[3], hint)
	default:
		d.add(CheckLock, StatusWarn, "partially locked (static lock bytes %02X %02X, CC write access %X): some pages can no longer be written", hdr[2], hdr[3], hdr[7]&0x0F)
	}
}

func (d *diagnosis) passwordType2() {
	t := d.t
	if t.Type == TypeUltralightC && t.layout != nil {
		d.ultralightC()
		return
	}
	if t.cfg0Page() < 0 {
		d.add(CheckPassword, StatusPass, "%s has no password protection", t.Name)
		return
	}
	if d.authTried && d.authErr != nil {
		if d.removed(CheckPassword, d.authErr) {
			return
		}
		d.add(CheckPassword, StatusFail, "the password given was refused: %v", d.authErr)
		return
	}
	pw, err := t.passwordType2()
	if err != nil {
		if d.removed(CheckPassword, err) {
			return
		}
		d.add(CheckPassword, StatusWarn, "cannot read the configuration: %v", err)
		return
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
}

// ultralightC reports an Ultralight C's 3DES protection from AUTH0 and AUTH1, when
// they can be read.
func (d *diagnosis) ultralightC() {
	l := d.t.layout
	b, err := d.t.read(l.Auth0Page, 2)
	if err != nil {
		if d.removed(CheckPassword, err) {
			return
		}
		d.add(CheckPassword, StatusWarn, "cannot read AUTH0 (page %d): %v", l.Auth0Page, err)
		return
	}
	auth0, writesOnly := int(b[l.Auth0Byte]), b[4]&0x01 != 0
	if auth0 >= l.Pages {
		d.add(CheckPassword, StatusPass, "no 3DES protection (AUTH0 %02X past the last page)", auth0)
		return
	}
	what := "reads and writes"
	if writesOnly {
		what = "writes only"
	}
	d.add(CheckPassword, StatusWarn, "3DES-protected from page %d, %s; tagpay cannot authenticate with 3DES, so those pages stay out of its reach", auth0, what)
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

// type4 runs the Type 4 checks. An NTAG 424 DNA answers for its signature, its file
// settings and so its lock state without the CC; other Type 4 tags tell their lock
// state only in the CC.
func (d *diagnosis) type4(opts DiagnoseOptions) {
	t := d.t
	is424 := t.Type == TypeNTAG424DNA
	var msg []byte
	steps := []step{
		{CheckUID, nil, func() bool { d.uidType4(); return true }},
		{CheckCC, nil, d.ccType4},
		{CheckNDEF, []string{CheckCC}, func() bool {
			var err error
			if msg, err = t.readNDEFType4(); err != nil {
				if !d.removed(CheckNDEF, err) {
					d.add(CheckNDEF, d.unreadable(err), "%v", d.explain(err))
				}
				return false
			}
			d.message(msg)
			return true
		}},
	}
	if is424 {
		steps = append(steps,
			step{CheckLock, nil, func() bool { d.lockType4(); return true }},
			step{CheckSignature, nil, func() bool { d.signature(); return true }},
			step{CheckSDM, nil, func() bool { d.sdm(); return true }})
		if len(opts.MetaKey) > 0 && len(opts.FileKey) > 0 {
			steps = append(steps, step{CheckSUN, []string{CheckNDEF}, func() bool { d.sun(msg, opts); return true }})
		}
	} else {
		steps = append(steps, step{CheckLock, []string{CheckCC}, func() bool { d.lockType4(); return true }})
	}
	d.runSteps(steps)
}

func (d *diagnosis) uidType4() {
	t := d.t
	switch {
	case len(t.UID) == 0:
		d.add(CheckUID, StatusWarn, "the tag did not give its UID")
	case len(t.UID) == 7 && t.UID[0] == 0x04:
		d.add(CheckUID, StatusPass, "%X", t.UID)
	default:
		d.add(CheckUID, StatusWarn, "%X: not a 7-byte NXP UID (random ID enabled?)", t.UID)
	}
}

func (d *diagnosis) ccType4() (usable bool) {
	s, err := d.t.loadCC()
	if err != nil {
		if !d.removed(CheckCC, err) {
			d.add(CheckCC, StatusFail, "%v", err)
		}
		return false
	}
	d.cc4 = s
	d.add(CheckCC, StatusPass, "% X: NDEF file %04X of %d bytes, MLe %d, MLc %d", s.ccRaw, s.fileID, s.fileSize, s.mle, s.mlc)
	return true
}

// lockType4 reads the NDEF file's write access from the CC, or, on an NTAG 424 DNA
// whose CC is unusable, from the file's settings.
func (d *diagnosis) lockType4() {
	if s := d.cc4; s != nil {
		switch s.writeAcc {
		case t4AccessFree:
			d.add(CheckLock, StatusPass, "writable (NDEF file write access free)")
		case t4AccessNone:
			d.add(CheckLock, StatusPass, "read-only (NDEF file write access never)")
		default:
			d.add(CheckLock, StatusPass, "writing needs key %02X", s.writeAcc)
		}
		return
	}
	fs, err := d.t.GetFileSettings(File424NDEF)
	if err != nil {
		if !d.removed(CheckLock, err) {
			d.add(CheckLock, StatusWarn, "cannot read the NDEF file settings: %v", err)
		}
		return
	}
	a := fs.Access
	switch {
	case a.Write == AccessFree || a.ReadWrite == AccessFree:
		d.add(CheckLock, StatusPass, "writable (NDEF file settings: %s)", a)
	case a.Write == AccessNever && a.ReadWrite == AccessNever:
		d.add(CheckLock, StatusPass, "read-only (NDEF file settings: %s)", a)
	default:
		d.add(CheckLock, StatusPass, "writing needs a key (NDEF file settings: %s)", a)
	}
}

// sdm reports whether the NDEF file mirrors a SUN message, and what into it.
func (d *diagnosis) sdm() {
	fs, err := d.t.GetFileSettings(File424NDEF)
	if err != nil {
		if d.removed(CheckSDM, err) {
			return
		}
		d.add(CheckSDM, StatusWarn, "cannot read the NDEF file settings: %v", err)
		return
	}
	if fs.SDM == nil {
		d.add(CheckSDM, StatusWarn, "SDM off: the tag serves a fixed URL, no SUN message (NDEF file %s)", fs.Access)
		return
	}
	d.add(CheckSDM, StatusPass, "SDM on: %s; NDEF file %s", fs.SDM.Mirrors(), fs.Access)
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
