package orders

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/tagpay/tagpay/events"
	"github.com/tagpay/tagpay/store"
)

// Index keys of BucketTagIndex. "ref:" entries never change; the "uid:" entry names the
// latest registration of a UID, which must be failed or revoked before the UID is
// registered again.
func refIndexKey(ref string) string { return "ref:" + ref }
func uidIndexKey(uid string) string { return "uid:" + uid }

const (
	maxLabel  = 100
	maxReason = 200
)

// live reports whether a registration still holds its UID.
func (t Tag) live() bool { return t.Status == TagPending || t.Status == TagActive }

// sunKeys are a SUN tag's AES keys, kept in their own bucket so that no Tag record,
// reply or audit event can ever carry them, and encrypted under the key file so that a
// copy of the ledger does not either.
type sunKeys struct {
	MetaKey string `json:"meta_key"`
	FileKey string `json:"file_key"`
}

// RegisterTag registers a tag to a merchant account the actor owns.
func (s *Service) RegisterTag(ctx context.Context, req RegisterRequest) (Tag, error) {
	return write(s, ctx, req.IdempotencyKey, "tag.register", req, func(tx *store.Tx) (Tag, error) {
		return s.registerTag(tx, req)
	})
}

func (s *Service) registerTag(tx *store.Tx, req RegisterRequest) (Tag, error) {
	uid, err := NormalizeUID(req.UID)
	if err != nil {
		return Tag{}, err
	}
	merchant, err := tx.Account(req.Merchant)
	if err != nil {
		return Tag{}, err
	}
	if merchant.Kind != store.AccountMerchant {
		return Tag{}, store.Errorf(store.KindInvalid, "invalid_merchant", "account %s is a %s account; tags are registered to merchant accounts", merchant.ID, merchant.Kind).WithParam("merchant")
	}
	base := strings.TrimSpace(req.BaseURL)
	if base == "" {
		base = s.cfg.BaseURL
	}
	if err := checkBaseURL(base); err != nil {
		return Tag{}, err
	}
	var amount *store.Money
	if strings.TrimSpace(req.Amount) != "" {
		m, err := store.ParseAmount(req.Amount, merchant.Currency)
		if err != nil {
			return Tag{}, err
		}
		amount = &m
	}
	label := strings.TrimSpace(req.Label)
	if err := checkText("label", label, maxLabel); err != nil {
		return Tag{}, err
	}
	kind := TagStatic
	var keys sunKeys
	if req.SUN {
		kind = TagSUN
		if len(uid) != 14 {
			return Tag{}, store.Errorf(store.KindInvalid, "invalid_uid", "a SUN tag (NTAG 424 DNA) has a 7-byte UID, %s is %d bytes", uid, len(uid)/2).WithParam("uid")
		}
		// Without keys, the tag's own are derived from the ledger's master secret.
		if req.MetaKey == "" {
			keys.MetaKey, err = derivedSUNKey(tx, uid, "meta")
		} else {
			keys.MetaKey, err = aesKey("meta_key", req.MetaKey)
		}
		if err != nil {
			return Tag{}, err
		}
		if req.FileKey == "" {
			keys.FileKey, err = derivedSUNKey(tx, uid, "file")
		} else {
			keys.FileKey, err = aesKey("file_key", req.FileKey)
		}
		if err != nil {
			return Tag{}, err
		}
	} else if req.MetaKey != "" || req.FileKey != "" {
		return Tag{}, store.Errorf(store.KindInvalid, "invalid_key", "SUN keys were given for a static tag; register it as a SUN tag or leave the keys out").WithParam("meta_key")
	}
	if prev, ok, err := tagByIndex(tx, uidIndexKey(uid)); err != nil {
		return Tag{}, err
	} else if ok && prev.live() {
		if tx.Actor().Owns(prev.Merchant) {
			return Tag{}, store.Errorf(store.KindConflict, "tag_already_registered", "tag UID %s is already registered as %s (%s); revoke or fail it first", uid, prev.ID, prev.Status).WithParam("uid")
		}
		// Another merchant's tag: say no more than that the UID is taken.
		return Tag{}, store.Errorf(store.KindConflict, "tag_already_registered", "tag UID %s is already registered", uid).WithParam("uid")
	}
	ref, err := freeRef(tx)
	if err != nil {
		return Tag{}, err
	}

	status := TagActive
	if req.Pending {
		status = TagPending
	}
	t := Tag{
		ID: store.NewID(store.PrefixTag), Ref: ref, UID: uid, Kind: kind, Merchant: merchant.ID,
		Label: label, Amount: amount, Currency: merchant.Currency, BaseURL: base,
		Status: status, CreatedAt: tx.Now(), UpdatedAt: tx.Now(),
	}
	if kind == TagSUN {
		t.Content = Content{Kind: TagSUN, BaseURL: base, Ref: ref}.Base()
		if err := tx.PutSealed(store.BucketSUNKeys, t.ID, keys); err != nil {
			return Tag{}, err
		}
	} else {
		key, err := tx.Secret(tagMACSecret)
		if err != nil {
			return Tag{}, err
		}
		t.Content = Content{Kind: TagStatic, BaseURL: base, Ref: ref, MAC: tagMAC(key, uid, ref)}.String()
	}
	if err := tx.Put(store.BucketTags, t.ID, t); err != nil {
		return Tag{}, err
	}
	if err := tx.PutRaw(store.BucketTagIndex, refIndexKey(ref), []byte(t.ID)); err != nil {
		return Tag{}, err
	}
	if err := tx.PutRaw(store.BucketTagIndex, uidIndexKey(uid), []byte(t.ID)); err != nil {
		return Tag{}, err
	}
	if err := tx.Emit(events.TagRegistered, t.ID, t, t.Merchant); err != nil {
		return Tag{}, err
	}
	return t, tx.Audit("tag.register", t.ID, map[string]string{
		"uid": uid, "ref": ref, "kind": string(kind), "merchant": merchant.ID, "status": string(status),
	})
}

// aesKey checks a 16-byte AES key given in hex and returns it in upper-case hex.
func aesKey(param, v string) (string, error) {
	raw, err := hex.DecodeString(strings.TrimSpace(v))
	if err != nil || len(raw) != 16 {
		// Never echo the value: it is a secret, even when malformed.
		return "", store.Errorf(store.KindInvalid, "invalid_key", "%s must be 16 bytes of hex (32 digits)", param).WithParam(param)
	}
	return strings.ToUpper(hex.EncodeToString(raw)), nil
}

// freeRef draws a tag reference not yet in use. With 50 random bits a collision is
// rare; a few draws make it practically impossible to fail.
func freeRef(tx *store.Tx) (string, error) {
	for range 8 {
		ref := newRef()
		if tx.GetRaw(store.BucketTagIndex, refIndexKey(ref)) == nil {
			return ref, nil
		}
	}
	return "", store.Errorf(store.KindInternal, "ref_exhausted", "could not draw an unused tag reference")
}

// tagByIndex follows an index entry to its tag.
func tagByIndex(tx *store.Tx, key string) (Tag, bool, error) {
	id := tx.GetRaw(store.BucketTagIndex, key)
	if id == nil {
		return Tag{}, false, nil
	}
	t, err := store.Load[Tag](tx, store.BucketTags, string(id), "tag")
	if err != nil {
		return Tag{}, false, fmt.Errorf("tag index %s: %w", key, err)
	}
	return t, true, nil
}

// findTag loads a tag named by its id, its reference or its UID (the latest
// registration of that UID).
func findTag(tx *store.Tx, name string) (Tag, error) {
	name = store.CanonicalID(strings.TrimSpace(name))
	if store.ValidID(name, store.PrefixTag) {
		return store.Load[Tag](tx, store.BucketTags, name, "tag")
	}
	// References are printed in upper case but read in either, like the ids.
	var key string
	if uid, err := NormalizeUID(name); err == nil {
		key = uidIndexKey(uid)
	} else if ref := strings.ToUpper(name); checkRef(ref) == nil {
		key = refIndexKey(ref)
	}
	if key != "" {
		t, ok, err := tagByIndex(tx, key)
		if err != nil || ok {
			return t, err
		}
	}
	return Tag{}, tagNotFound(name)
}

// findOwnedTag is findTag for a caller that must own the tag: another merchant's tag is
// not found, as if it did not exist, so that no caller learns which ids, references or
// UIDs others hold, nor the account behind them.
func findOwnedTag(tx *store.Tx, name string) (Tag, error) {
	t, err := findTag(tx, name)
	if err != nil {
		return Tag{}, err
	}
	if !tx.Actor().Owns(t.Merchant) {
		return Tag{}, tagNotFound(name)
	}
	return t, nil
}

func tagNotFound(name string) error {
	return store.Errorf(store.KindNotFound, "tag_not_found", "tag %q not found (give a tag id, reference or UID)", truncate(strings.TrimSpace(name), 64)).WithParam("tag")
}

// ConfirmTag finishes provisioning: a pending tag becomes active when the UID and
// content read back from it are exactly the registered ones. Otherwise the tag becomes
// failed (a half-written tag is never left as good) and an error says why.
func (s *Service) ConfirmTag(ctx context.Context, req ConfirmRequest) (Tag, error) {
	t, err := write(s, ctx, req.IdempotencyKey, "tag.confirm", req, func(tx *store.Tx) (Tag, error) {
		return s.confirmTag(tx, req)
	})
	if err == nil && t.Status == TagFailed {
		// The failed state is committed (and replayed as such); the caller still hears no.
		err = store.Errorf(store.KindDeclined, "readback_mismatch", "tag %s failed provisioning: %s", t.ID, t.Reason)
	}
	return t, err
}

func (s *Service) confirmTag(tx *store.Tx, req ConfirmRequest) (Tag, error) {
	t, err := findOwnedTag(tx, req.Tag)
	if err != nil {
		return Tag{}, err
	}
	if t.Status != TagPending {
		return Tag{}, store.Errorf(store.KindConflict, "tag_not_pending", "tag %s is %s; only a pending tag is confirmed", t.ID, t.Status).WithParam("tag")
	}
	uid, err := NormalizeUID(req.UID)
	if err != nil {
		return Tag{}, err
	}
	var problem string
	var counter *uint32
	switch {
	case uid != t.UID:
		problem = fmt.Sprintf("the UID read back is %s, not the registered %s", uid, t.UID)
	case t.Kind == TagStatic && req.Content != t.Content:
		problem = "the content read back differs from the registered content"
	case t.Kind == TagSUN:
		c, err := ParseContent(req.Content)
		if err == nil {
			var n uint32
			n, err = checkSUN(tx, t, c, req.Content)
			counter = &n
		}
		if err != nil {
			problem = "the SUN URL read back does not verify: " + err.Error()
		}
	}
	if problem != "" {
		t.Status, t.Reason = TagFailed, problem
	} else {
		t.Status, t.Reason = TagActive, ""
		if counter != nil {
			if err := putSUNCounter(tx, t.ID, *counter); err != nil {
				return Tag{}, err
			}
		}
	}
	t.UpdatedAt = tx.Now()
	if err := tx.Put(store.BucketTags, t.ID, t); err != nil {
		return Tag{}, err
	}
	detail := map[string]string{"status": string(t.Status)}
	if problem != "" {
		detail["reason"] = problem
	}
	if err := tx.Emit(tagEvent(t.Status), t.ID, t, t.Merchant); err != nil {
		return Tag{}, err
	}
	return t, tx.Audit("tag.confirm", t.ID, detail)
}

// FailTag marks a pending or active tag as failed: its provisioning went wrong and it
// must never be taken for good. Its UID may then be registered again.
func (s *Service) FailTag(ctx context.Context, req TagStateRequest) (Tag, error) {
	return write(s, ctx, req.IdempotencyKey, "tag.fail", req, func(tx *store.Tx) (Tag, error) {
		return changeTag(tx, req, TagFailed, "provisioning failed")
	})
}

// RevokeTag takes a pending or active tag out of service. Its UID may then be
// registered again.
func (s *Service) RevokeTag(ctx context.Context, req TagStateRequest) (Tag, error) {
	return write(s, ctx, req.IdempotencyKey, "tag.revoke", req, func(tx *store.Tx) (Tag, error) {
		return changeTag(tx, req, TagRevoked, "revoked")
	})
}

func changeTag(tx *store.Tx, req TagStateRequest, to TagStatus, defaultReason string) (Tag, error) {
	reason := strings.TrimSpace(req.Reason)
	if err := checkText("reason", reason, maxReason); err != nil {
		return Tag{}, err
	}
	if reason == "" {
		reason = defaultReason
	}
	t, err := findOwnedTag(tx, req.Tag)
	if err != nil {
		return Tag{}, err
	}
	if !t.live() {
		return Tag{}, store.Errorf(store.KindConflict, "tag_not_live", "tag %s is already %s; only a pending or active tag can become %s", t.ID, t.Status, to).WithParam("tag")
	}
	from := t.Status
	t.Status, t.Reason, t.UpdatedAt = to, reason, tx.Now()
	if err := tx.Put(store.BucketTags, t.ID, t); err != nil {
		return Tag{}, err
	}
	action := "tag.fail"
	if to == TagRevoked {
		action = "tag.revoke"
	}
	if err := tx.Emit(tagEvent(to), t.ID, t, t.Merchant); err != nil {
		return Tag{}, err
	}
	return t, tx.Audit(action, t.ID, map[string]string{"from": string(from), "reason": reason})
}

// ListTags lists the tags of the merchant accounts the actor owns (admins: all),
// oldest first.
func (s *Service) ListTags(ctx context.Context, f TagFilter) ([]Tag, error) {
	if err := store.CheckFilterID("merchant", f.Merchant, store.PrefixAccount); err != nil {
		return nil, err
	}
	return read(s, ctx, func(tx *store.Tx) ([]Tag, error) {
		actor := tx.Actor()
		out := []Tag{}
		err := store.Each(tx, store.BucketTags, "", false, func(_ string, t Tag) error {
			if actor.Owns(t.Merchant) && (f.Merchant == "" || f.Merchant == t.Merchant) {
				out = append(out, t)
			}
			return nil
		})
		return out, err
	})
}

// GetTag loads a tag by id, reference or UID.
func (s *Service) GetTag(ctx context.Context, refOrUID string) (Tag, error) {
	return read(s, ctx, func(tx *store.Tx) (Tag, error) {
		return findOwnedTag(tx, refOrUID)
	})
}
