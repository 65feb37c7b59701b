package nfc

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrSUNPlan marks a SUN plan refused before anything was sent to the tag.
var ErrSUNPlan = errors.New("invalid SUN provisioning plan")

// SUNPlan is how ProvisionSUN sets up an NTAG 424 DNA for SUN.
type SUNPlan struct {
	// URL is the URL template (see NewSUNTemplate): placeholders {picc}, {uid}, {ctr},
	// {enc}, {mac}, or none for the usual "?e=…&c=…".
	URL      string
	Plain    bool   // mirror UID and counter in clear instead of encrypted PICC data
	FileData []byte // mirrored encrypted at {enc}, when set
	// MetaKey (unused when Plain) and FileKey are the SDM keys, stored as keys
	// MetaKeyNo and FileKeyNo (0 means the defaults, 1 and 2). They may share a
	// number only when they are equal.
	MetaKey, FileKey     []byte
	MetaKeyNo, FileKeyNo byte
	AppMasterKey         []byte // the new key 0, changed last
	// OldKeys are the keys the tag holds now, by number; nil entries are the factory
	// key (zero).
	OldKeys [5][]byte
	// KeyVersion is given to every key changed (0 means 1).
	KeyVersion byte
}

// SUNProvisioned is what a successful ProvisionSUN did and read back.
type SUNProvisioned struct {
	UID         []byte       // from GetCardUID
	URL         string       // the SUN URL read back after the set-up
	SUN         SUNResult    // that URL verified with the plan's keys
	Settings    FileSettings // file 2 as the tag reports it
	KeysChanged []byte       // keys this run changed
	KeysAlready []byte       // keys this run found already at their target
}

// ErrProvision marks a ProvisionSUN that stopped part way; see ProvisionError.
var ErrProvision = errors.New("SUN provisioning interrupted")

// ProvisionError is a ProvisionSUN that stopped part way. It names which keys hold
// their new value, so the tag's keys are never a guess: running ProvisionSUN again
// with the same plan finishes the job. It matches ErrDevice and ErrProvision, and
// unwraps to the failure.
type ProvisionError struct {
	Step        string // what was under way
	KeysChanged []byte // keys now at their target (changed by this run or found so)
	KeysInDoubt []byte // ChangeKey sent, answer lost: old or new
	KeysOld     []byte // keys still at their old value
	NDEFWritten bool   // the URL template was written
	SDMEnabled  bool   // the file settings with SDM were accepted
	Err         error
}

func keyList(keys []byte) string {
	if len(keys) == 0 {
		return "none"
	}
	var s []string
	for _, k := range keys {
		s = append(s, fmt.Sprint(k))
	}
	return strings.Join(s, ", ")
}

func (e *ProvisionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "SUN set-up stopped while trying to %s: keys changed: %s", e.Step, keyList(e.KeysChanged))
	if len(e.KeysInDoubt) > 0 {
		fmt.Fprintf(&b, "; in doubt (old or new): %s", keyList(e.KeysInDoubt))
	}
	fmt.Fprintf(&b, "; still old: %s; URL template %s, SDM %s; run the set-up again with the same keys to finish",
		keyList(e.KeysOld), written(e.NDEFWritten), enabled(e.SDMEnabled))
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func written(ok bool) string {
	if ok {
		return "written"
	}
	return "not written"
}

func enabled(ok bool) string {
	if ok {
		return "on"
	}
	return "not set"
}

func (e *ProvisionError) Unwrap() error { return e.Err }
func (e *ProvisionError) Is(target error) bool {
	return target == ErrDevice || target == ErrProvision
}

// provisioning is one run of ProvisionSUN.
type provisioning struct {
	t       *Tag
	plan    SUNPlan
	tpl     *SUNTemplate
	old     [5][]byte
	target  map[byte][]byte // keys to change: number → new value
	key0    []byte          // the value of key 0 that authenticated
	version byte
	res     SUNProvisioned
	state   map[byte]string // "new", "doubt"
	written bool
	sdm     bool
}

func (p *provisioning) fail(step string, err error) error {
	e := &ProvisionError{Step: step, NDEFWritten: p.written, SDMEnabled: p.sdm, Err: err}
	for _, k := range p.keys() {
		switch p.state[k] {
		case "new":
			e.KeysChanged = append(e.KeysChanged, k)
		case "doubt":
			e.KeysInDoubt = append(e.KeysInDoubt, k)
		default:
			e.KeysOld = append(e.KeysOld, k)
		}
	}
	return e
}

// keys are the numbers the plan changes, in order.
func (p *provisioning) keys() []byte {
	var ks []byte
	for k := range p.target {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func checkPlan(plan SUNPlan) (*provisioning, error) {
	p := &provisioning{plan: plan, target: map[byte][]byte{}, state: map[byte]string{}, version: plan.KeyVersion}
	if p.version == 0 {
		p.version = 1
	}
	if plan.MetaKeyNo == 0 {
		plan.MetaKeyNo = 1
	}
	if plan.FileKeyNo == 0 {
		plan.FileKeyNo = 2
	}
	for i, k := range plan.OldKeys {
		switch len(k) {
		case 0:
			p.old[i] = make([]byte, 16)
		case 16:
			p.old[i] = bytes.Clone(k)
		default:
			return nil, fmt.Errorf("%w: old key %d is %d bytes, want 16", ErrSUNPlan, i, len(k))
		}
	}
	want := func(no byte, key []byte, name string) error {
		if len(key) != 16 {
			return fmt.Errorf("%w: %s is %d bytes, want 16 (AES-128)", ErrSUNPlan, name, len(key))
		}
		if no > 4 {
			return fmt.Errorf("%w: %s number %d; an NTAG 424 DNA has keys 0–4", ErrSUNPlan, name, no)
		}
		if prev, ok := p.target[no]; ok && !bytes.Equal(prev, key) {
			return fmt.Errorf("%w: key %d is asked to hold two different values", ErrSUNPlan, no)
		}
		p.target[no] = bytes.Clone(key)
		return nil
	}
	if err := want(0, plan.AppMasterKey, "app master key"); err != nil {
		return nil, err
	}
	if err := want(plan.FileKeyNo, plan.FileKey, "file key"); err != nil {
		return nil, err
	}
	if !plan.Plain {
		if err := want(plan.MetaKeyNo, plan.MetaKey, "meta key"); err != nil {
			return nil, err
		}
	}
	tpl, err := NewSUNTemplate(plan.URL, SUNTemplateOptions{MetaKeyNo: plan.MetaKeyNo, FileKeyNo: plan.FileKeyNo, Plain: plan.Plain, FileData: plan.FileData})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSUNPlan, err)
	}
	p.plan, p.tpl = plan, tpl
	return p, nil
}

// ProvisionSUN sets an NTAG 424 DNA up to produce SUN URLs: authenticate with key 0
// (the old key, else the target, for a tag set up before), write the URL template,
// switch SDM on for the NDEF file (free reading, writing with key 0 only), change the
// SDM keys, change key 0 last, then read one SUN URL back as a phone would and
// verify it with the plan's keys.
//
// A tag that leaves or fails part way gives a *ProvisionError naming the keys already
// changed. Running ProvisionSUN again with the same plan finishes the set-up: a key
// that refuses its old value (the tag checks it) is tried with its target.
func ProvisionSUN(t *Tag, plan SUNPlan) (*SUNProvisioned, error) {
	p, err := checkPlan(plan)
	if err != nil {
		return nil, err
	}
	if err := t.need424(); err != nil {
		return nil, err
	}
	p.t = t
	if err := t.SelectDNAApp(); err != nil {
		return nil, p.fail("select the NDEF application", err)
	}
	if err := p.authKey0(); err != nil {
		return nil, err
	}
	uid, err := t.GetCardUID()
	if err != nil {
		return nil, p.fail("read the card UID", err)
	}
	p.res.UID = uid
	if err := p.writeTemplate(); err != nil {
		return nil, err
	}
	fs, _ := FactoryFileSettings424(File424NDEF)
	fs.Access = AccessRights{Read: AccessFree, Write: 0, ReadWrite: 0, Change: 0}
	sdm := p.tpl.SDM
	fs.SDM = &sdm
	if err := t.ChangeFileSettings(File424NDEF, fs); err != nil {
		return nil, p.fail("switch SDM on for the NDEF file", err)
	}
	p.sdm = true
	for _, k := range p.keys() {
		if k == 0 {
			continue
		}
		if err := p.changeKey(k); err != nil {
			return nil, err
		}
	}
	if p.state[0] != "new" {
		if err := p.changeKey0(); err != nil {
			return nil, err
		}
	}
	return p.verify()
}

// authKey0 opens the session with key 0: its old value, or its target when an
// earlier run changed it already.
func (p *provisioning) authKey0() error {
	t := p.t
	err := t.AuthenticateEV2First(0, p.old[0])
	if err == nil {
		p.key0 = p.old[0]
		if bytes.Equal(p.old[0], p.target[0]) {
			p.state[0] = "new"
			p.res.KeysAlready = append(p.res.KeysAlready, 0)
		}
		return nil
	}
	if !errors.Is(err, ErrAuth) || bytes.Equal(p.old[0], p.target[0]) {
		return p.fail("authenticate with key 0", err)
	}
	if err2 := t.AuthenticateEV2First(0, p.target[0]); err2 != nil {
		if errors.Is(err2, ErrAuth) {
			return p.fail("authenticate with key 0", fmt.Errorf("%w: key 0 is neither the old key nor the new one", ErrAuth))
		}
		return p.fail("authenticate with key 0", err2)
	}
	p.key0 = p.target[0]
	p.state[0] = "new"
	p.res.KeysAlready = append(p.res.KeysAlready, 0)
	return nil
}

// writeTemplate writes the URL template as T4T does: NLEN 0 with the message, then
// NLEN, so a torn write leaves an empty file rather than a truncated URL.
func (p *provisioning) writeTemplate() error {
	t := p.t
	fs, err := t.GetFileSettings(File424NDEF)
	if err != nil {
		return p.fail("read the NDEF file settings", err)
	}
	mode := fs.DataMode(true)
	body := append([]byte{0, 0}, p.tpl.File[2:]...)
	if err := t.WriteData(File424NDEF, 0, body, mode); err != nil {
		return p.fail("write the URL template", err)
	}
	if err := t.WriteData(File424NDEF, 0, p.tpl.File[:2], mode); err != nil {
		return p.fail("write the URL template's length", err)
	}
	p.written = true
	return nil
}

// changeKey moves key k from its old value to its target. A tag refusing the old
// value with an integrity error holds something else: after re-authenticating, the
// target is tried as the old value, which succeeds when an earlier run set it.
func (p *provisioning) changeKey(k byte) error {
	t := p.t
	step := fmt.Sprintf("change key %d", k)
	if bytes.Equal(p.old[k], p.target[k]) {
		p.state[k] = "new"
		return nil
	}
	err := t.ChangeKey(k, p.old[k], p.target[k], p.version)
	if err == nil {
		p.state[k] = "new"
		p.res.KeysChanged = append(p.res.KeysChanged, k)
		return nil
	}
	var se *DNAStatusError
	if !errors.As(err, &se) {
		p.state[k] = "doubt"
		return p.fail(step, err)
	}
	if se.Status != St424Integrity {
		return p.fail(step, err)
	}
	if err := t.AuthenticateEV2First(0, p.key0); err != nil {
		return p.fail("authenticate with key 0 again", err)
	}
	if err := t.ChangeKey(k, p.target[k], p.target[k], p.version); err != nil {
		var se *DNAStatusError
		if errors.As(err, &se) && se.Status == St424Integrity {
			return p.fail(step, fmt.Errorf("%w: key %d is neither the old key nor the new one", ErrAuth, k))
		}
		if se == nil {
			p.state[k] = "doubt"
		}
		return p.fail(step, err)
	}
	p.state[k] = "new"
	p.res.KeysAlready = append(p.res.KeysAlready, k)
	return nil
}

func (p *provisioning) changeKey0() error {
	err := p.t.ChangeKey(0, nil, p.target[0], p.version)
	if err != nil {
		var se *DNAStatusError
		if !errors.As(err, &se) {
			p.state[0] = "doubt"
		}
		return p.fail("change key 0", err)
	}
	p.state[0] = "new"
	p.res.KeysChanged = append(p.res.KeysChanged, 0)
	return nil
}

// verify reads one SUN URL as a phone would and checks it with the plan's keys.
func (p *provisioning) verify() (*SUNProvisioned, error) {
	t := p.t
	url, err := t.ReadSUNURL()
	if err != nil {
		return nil, p.fail("read a SUN URL back", err)
	}
	res, err := VerifySUN(url, p.plan.MetaKey, p.plan.FileKey)
	switch {
	case err != nil:
		return nil, p.fail("verify the SUN URL read back", fmt.Errorf("%w: %s: %v", ErrTagDamaged, url, err))
	case !res.Valid:
		return nil, p.fail("verify the SUN URL read back", fmt.Errorf("%w: %s: the MAC does not verify with the planned file key", ErrTagDamaged, url))
	case !bytes.Equal(res.UID, p.res.UID):
		return nil, p.fail("verify the SUN URL read back", fmt.Errorf("%w: the URL names UID %X, the tag is %X", ErrTagDamaged, res.UID, p.res.UID))
	}
	fs, err := t.GetFileSettings(File424NDEF)
	if err != nil {
		return nil, p.fail("read the NDEF file settings back", err)
	}
	p.res.URL, p.res.SUN, p.res.Settings = url, res, fs
	out := p.res
	return &out, nil
}
