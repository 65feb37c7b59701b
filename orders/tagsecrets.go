package orders

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/store"
)

// Per-tag secrets are derived from master secrets of the ledger and the tag's UID, so
// that a tag set up part way is finished with the same keys when provisioned again, and
// no two tags share a key.
const (
	sunMasterSecret      = "sun_master"      // AN10922 diversification of 424 DNA keys
	passwordMasterSecret = "ntag_pwd_master" // NTAG21x PWD and PACK
)

// sunAID is the application identifier given to AN10922 diversification: the first
// three bytes of the NDEF application's DF name.
var sunAID = []byte{0xD2, 0x76, 0x00}

// TagSecrets are what a provisioning reader needs to set a tag up: the NTAG 424 DNA keys
// (key 0, the application master key, and the SUN keys) or the NTAG21x password. They
// go to the tag's merchant (or an admin) only, and are never printed or logged.
type TagSecrets struct {
	Tag      string `json:"tag"`
	UID      string `json:"uid"`
	AppKey   string `json:"app_key,omitempty"`  // 424 DNA key 0
	MetaKey  string `json:"meta_key,omitempty"` // 424 DNA SUN keys
	FileKey  string `json:"file_key,omitempty"`
	Password string `json:"password,omitempty"` // NTAG21x PWD, 4 bytes
	PACK     string `json:"pack,omitempty"`     // NTAG21x PACK, 2 bytes
}

// TagSecretsRequest names the tag.
type TagSecretsRequest struct {
	Tag string `json:"tag"` // id, ref or UID
}

// TagSecrets answers the secrets of a tag the actor's merchant owns. The SUN keys of a
// tag are given only while it is being set up (pending or failed); the password of a
// protected sticker always, so that its merchant can rewrite it.
func (s *Service) TagSecrets(ctx context.Context, req TagSecretsRequest) (TagSecrets, error) {
	// A write transaction: the first use of a master secret creates it.
	return write(s, ctx, "", "tag.secrets", nil, func(tx *store.Tx) (TagSecrets, error) {
		t, err := findTag(tx, req.Tag)
		if err != nil {
			return TagSecrets{}, err
		}
		if !tx.Actor().Owns(t.Merchant) {
			// Someone else's tag is answered like one that does not exist.
			return TagSecrets{}, store.Errorf(store.KindNotFound, "tag_not_found", "tag %q not found (give a tag id, reference or UID)", truncate(req.Tag, 64)).WithParam("tag")
		}
		out := TagSecrets{Tag: t.ID, UID: t.UID}
		if t.Kind != TagSUN {
			pwd, pack, err := tagPassword(tx, t.UID)
			if err != nil {
				return TagSecrets{}, err
			}
			out.Password, out.PACK = hex.EncodeToString(pwd), hex.EncodeToString(pack)
			return out, nil
		}
		if t.Status != TagPending && t.Status != TagFailed {
			return TagSecrets{}, store.Errorf(store.KindConflict, "tag_not_in_setup", "tag %s is %s; its keys are given only while it is set up", t.ID, t.Status).WithParam("tag")
		}
		var keys sunKeys
		ok, err := tx.GetSealed(store.BucketSUNKeys, t.ID, &keys)
		if err != nil {
			return TagSecrets{}, err
		}
		if !ok {
			return TagSecrets{}, store.Errorf(store.KindCorrupt, "ledger_corrupt", "SUN tag %s has no keys in the ledger", t.ID)
		}
		app, err := derivedSUNKey(tx, t.UID, "app")
		if err != nil {
			return TagSecrets{}, err
		}
		out.AppKey, out.MetaKey, out.FileKey = app, keys.MetaKey, keys.FileKey
		return out, nil
	})
}

// derivedSUNKey is one AES key of a 424 DNA, diversified (AN10922) from the ledger's SUN
// master secret over the UID, the application and the key's purpose.
func derivedSUNKey(tx *store.Tx, uid, purpose string) (string, error) {
	master, err := tx.Secret(sunMasterSecret)
	if err != nil {
		return "", err
	}
	raw, err := hex.DecodeString(uid)
	if err != nil {
		return "", store.Errorf(store.KindCorrupt, "ledger_corrupt", "tag UID %q is damaged", uid)
	}
	k := nfc.DiversifyAES128(master[:16], raw, sunAID, []byte("tagpay "+purpose))
	if k == nil {
		return "", store.Errorf(store.KindInternal, "diversification_failed", "cannot derive the %s key of tag %s", purpose, uid)
	}
	return strings.ToUpper(hex.EncodeToString(k)), nil
}

// tagPassword is the NTAG21x PWD and PACK of the sticker with uid.
func tagPassword(tx *store.Tx, uid string) (pwd, pack []byte, err error) {
	master, err := tx.Secret(passwordMasterSecret)
	if err != nil {
		return nil, nil, err
	}
	m := hmac.New(sha256.New, master)
	m.Write([]byte("tagpay ntag21x password\x00" + uid))
	sum := m.Sum(nil)
	return sum[:4], sum[4:6], nil
}
