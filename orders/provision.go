package orders

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/nfc/ndef"
	"github.com/tagpay/tagpay/store"
)

// Registry is the part of a ledger that provisioning talks to. Service implements it,
// and so does every backend (local or remote), so that the same flow runs either way.
type Registry interface {
	RegisterTag(ctx context.Context, req RegisterRequest) (Tag, error)
	ConfirmTag(ctx context.Context, req ConfirmRequest) (Tag, error)
	FailTag(ctx context.Context, req TagStateRequest) (Tag, error)
	GetTag(ctx context.Context, refOrUID string) (Tag, error)
	TagSecrets(ctx context.Context, req TagSecretsRequest) (TagSecrets, error)
}

// ProvisionTarget is the tag on the reader, as provisioning needs it. The reader side
// (package nfc, through the command line's reader access) satisfies it.
type ProvisionTarget interface {
	// UID is the tag's UID in upper-case hex.
	UID() string
	// Writable says why the tag cannot take content (locked, read-only), or nil.
	Writable() error
	WriteNDEF(msg []byte) error
	Lock() error
	// ReadBack reads the UID and the URL again on a fresh connection, as a payer's
	// phone would, so that nothing cached from the write can answer.
	ReadBack(ctx context.Context) (uid, content string, err error)
}

// SUNTarget is a tag that can be set up for SUN (an NTAG 424 DNA).
type SUNTarget interface {
	// SetUpSUN writes the URL template, switches SDM on, changes the SUN keys and key 0
	// (last), and returns one SUN URL read back. Its error says which keys changed.
	SetUpSUN(s SUNSetup) (url string, err error)
}

// SUNSetup is what a SUN tag is given: the URL its SUN messages extend, and its keys.
type SUNSetup struct {
	URL                      string
	AppKey, MetaKey, FileKey []byte
}

// ProtectTarget is a tag whose writes a password can guard (NTAG21x).
type ProtectTarget interface {
	Protect(pwd, pack []byte) error
}

// ProvisionRequest is one tag to make.
type ProvisionRequest struct {
	Merchant, Amount, Label, BaseURL string
	Lock                             bool
	// SUN sets an NTAG 424 DNA up for SUN, with its own keys; MetaKey and FileKey (hex,
	// for QA) choose the two SUN keys instead of the derived ones. Key 0 is always the
	// tag's own derived key, so that no one else can reconfigure it.
	SUN              bool
	MetaKey, FileKey string
	// Protect guards a sticker's writes with its own password, derived in the ledger.
	Protect bool
	// IdempotencyKey, when set, keys each ledger step of this tag (with the UID), so
	// that a batch run again never registers a tag twice.
	IdempotencyKey string
}

// Outcomes of provisioning one tag.
const (
	ProvisionActive  = "active"  // registered, written, read back, confirmed
	ProvisionFailed  = "failed"  // registered, then marked failed in the ledger
	ProvisionRefused = "refused" // never registered: the ledger or the tag said no first
	ProvisionStuck   = "error"   // failed, and marking it failed failed too: act on it
)

// Provisioned is the outcome of one tag.
type Provisioned struct {
	UID       string `json:"uid"`
	Tag       string `json:"tag,omitempty"` // registration id
	Ref       string `json:"ref,omitempty"`
	Content   string `json:"content,omitempty"`
	Status    string `json:"status"`
	Locked    bool   `json:"locked"`
	Protected bool   `json:"protected,omitempty"`
	Reason    string `json:"reason,omitempty"`
	// Err is what went wrong, with its kind, for the caller's exit code.
	Err error `json:"-"`
}

// Provision takes one tag through the provisioning flow: register it pending, write the
// content the ledger gives it, lock it if asked, read it back and confirm what was read,
// which makes it active. From the moment it is registered, any failure marks it failed
// in the ledger (even when ctx is cancelled), so a tag that does not hold its content
// is never left pending or looking good.
func Provision(ctx context.Context, reg Registry, tag ProvisionTarget, req ProvisionRequest) Provisioned {
	uid := tag.UID()
	r := Provisioned{UID: uid}
	key := func(step string) string {
		if req.IdempotencyKey == "" {
			return ""
		}
		return req.IdempotencyKey + "." + uid + "." + step
	}
	// A tag that cannot be written is refused before the ledger hears of it.
	if err := tag.Writable(); err != nil {
		r.Status, r.Reason, r.Err = ProvisionRefused, err.Error(), err
		return r
	}
	if req.SUN && req.Lock {
		r.Status, r.Err = ProvisionRefused, errors.New("a SUN tag is not locked: its keys guard it")
		r.Reason = r.Err.Error()
		return r
	}
	t, err := reg.RegisterTag(ctx, RegisterRequest{
		UID: uid, Merchant: req.Merchant, Amount: req.Amount, Label: req.Label, BaseURL: req.BaseURL,
		SUN: req.SUN, MetaKey: req.MetaKey, FileKey: req.FileKey,
		Pending: true, IdempotencyKey: key("register"),
	})
	if err != nil {
		err = keyClash(err, uid)
		r.Status, r.Reason, r.Err = ProvisionRefused, err.Error(), err
		return r
	}
	r.Tag, r.Ref, r.Content = t.ID, t.Ref, t.Content
	if t.Status == TagActive {
		// A run again with the same key: this tag was finished before.
		r.Status = ProvisionActive
		return r
	}
	fail := func(err error) Provisioned {
		r.Err, r.Status, r.Reason = err, ProvisionFailed, err.Error()
		_, ferr := reg.FailTag(context.WithoutCancel(ctx), TagStateRequest{Tag: t.ID, Reason: truncateReason(err.Error()), IdempotencyKey: key("fail")})
		// ConfirmTag marks the tag failed itself when it declines the read-back.
		if ferr != nil && statusOf(ctx, reg, t.ID) != TagFailed {
			r.Status = ProvisionStuck
			r.Reason += fmt.Sprintf("; marking it failed in the ledger failed too (%v): run tagpay tag revoke %s", ferr, t.Ref)
		}
		return r
	}
	var secrets TagSecrets
	if req.SUN || req.Protect {
		if secrets, err = reg.TagSecrets(ctx, TagSecretsRequest{Tag: t.ID}); err != nil {
			return fail(fmt.Errorf("fetching the tag's keys: %w", err))
		}
	}
	var uidRead, content string
	if req.SUN {
		st, ok := tag.(SUNTarget)
		if !ok {
			return fail(fmt.Errorf("%w: this tag cannot be set up for SUN (it is not an NTAG 424 DNA)", nfc.ErrUnsupported))
		}
		setup := SUNSetup{URL: t.Content}
		for _, k := range []struct {
			dst *[]byte
			hex string
		}{{&setup.AppKey, secrets.AppKey}, {&setup.MetaKey, secrets.MetaKey}, {&setup.FileKey, secrets.FileKey}} {
			if *k.dst, err = hex.DecodeString(k.hex); err != nil || len(*k.dst) != 16 {
				return fail(fmt.Errorf("the ledger gave a damaged key for tag %s", t.ID))
			}
		}
		if content, err = st.SetUpSUN(setup); err != nil {
			return fail(err)
		}
		uidRead = uid
	} else {
		msg, err := ndef.Encode(ndef.Message{ndef.NewURI(t.Content)})
		if err != nil {
			return fail(fmt.Errorf("encoding the content: %w", err))
		}
		if err := tag.WriteNDEF(msg); err != nil {
			return fail(err)
		}
		if req.Protect {
			pt, ok := tag.(ProtectTarget)
			pwd, err1 := hex.DecodeString(secrets.Password)
			pack, err2 := hex.DecodeString(secrets.PACK)
			switch {
			case !ok:
				return fail(fmt.Errorf("%w: this tag has no password protection", nfc.ErrUnsupported))
			case err1 != nil || err2 != nil || len(pwd) != 4 || len(pack) != 2:
				return fail(fmt.Errorf("the ledger gave a damaged password for tag %s", t.ID))
			}
			if err := pt.Protect(pwd, pack); err != nil {
				return fail(fmt.Errorf("protecting: %w", err))
			}
			r.Protected = true
		}
		if req.Lock {
			if err := tag.Lock(); err != nil {
				return fail(fmt.Errorf("locking: %w", err))
			}
			r.Locked = true
		}
		if uidRead, content, err = tag.ReadBack(ctx); err != nil {
			return fail(fmt.Errorf("reading back: %w", err))
		}
	}
	confirmed, err := reg.ConfirmTag(ctx, ConfirmRequest{Tag: t.ID, UID: uidRead, Content: content, IdempotencyKey: key("confirm")})
	if err != nil {
		return fail(err)
	}
	if confirmed.Status != TagActive {
		r.Err = store.Errorf(store.KindDeclined, "read_back_mismatch", "%s", confirmed.Reason)
		r.Status, r.Reason = string(confirmed.Status), confirmed.Reason
		return r
	}
	r.Status = string(confirmed.Status)
	return r
}

// keyClash rewords a clash of the idempotency key derived for one step of one tag, so
// that the message tells what happened in the caller's words instead of showing the
// derived key, which the caller never typed.
func keyClash(err error, uid string) error {
	if store.CodeOf(err) != "idempotency_key_reused" {
		return err
	}
	return store.Errorf(store.KindConflict, "idempotency_key_reused",
		"tag %s was already provisioned under this idempotency key with other settings (merchant, amount, label or protection); use another key to provision it again", uid).WithParam("idempotency_key")
}

// statusOf is the ledger's status of a tag, or "" when it cannot be asked.
func statusOf(ctx context.Context, reg Registry, id string) TagStatus {
	t, err := reg.GetTag(context.WithoutCancel(ctx), id)
	if err != nil {
		return ""
	}
	return t.Status
}

// truncateReason keeps a failure reason within what a tag stores (maxReason), cut on a
// character boundary.
func truncateReason(s string) string {
	if len(s) <= maxReason {
		return s
	}
	cut := maxReason - len("…")
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
