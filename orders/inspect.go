package orders

import (
	"context"
	"fmt"

	"github.com/tagpay/tagpay/store"
)

// Inspection is what the ledger knows of a tag a field engineer holds: whether it is
// registered (to a merchant the actor may see), its status, and whether the content it
// carries is the one registered for it.
type Inspection struct {
	Registered   bool      `json:"registered"`
	Tag          string    `json:"tag,omitempty"`
	Ref          string    `json:"ref,omitempty"`
	Kind         TagKind   `json:"kind,omitempty"`
	Status       TagStatus `json:"status,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	Merchant     string    `json:"merchant,omitempty"`
	MerchantName string    `json:"merchant_name,omitempty"`
	// ContentOK says the content verifies for this tag (MAC, or SUN with a fresh
	// counter); ContentDetail says how, or why not.
	ContentOK     bool   `json:"content_ok"`
	ContentDetail string `json:"content_detail"`
	// Clone says the content belongs to another registered tag.
	Clone bool `json:"clone,omitempty"`
}

// InspectTag checks a tag's UID and content against the ledger and writes nothing: no
// SUN counter is consumed. A tag of a merchant the actor may not see is reported as not
// registered.
func (s *Service) InspectTag(ctx context.Context, req PaymentRequest) (Inspection, error) {
	return read(s, ctx, func(tx *store.Tx) (Inspection, error) {
		uid, err := NormalizeUID(req.UID)
		if err != nil {
			return Inspection{}, err
		}
		t, ok, err := tagByIndex(tx, uidIndexKey(uid))
		if err != nil {
			return Inspection{}, err
		}
		c, cerr := ParseContent(req.Content)
		if !ok && cerr == nil {
			// Not registered under its UID: perhaps a copy of another tag's content.
			if byRef, found, err := tagByIndex(tx, refIndexKey(c.Ref)); err != nil {
				return Inspection{}, err
			} else if found && tx.Actor().Owns(byRef.Merchant) {
				return Inspection{Clone: true, ContentDetail: fmt.Sprintf("content does not match this tag (possible clone): reference %s belongs to another UID", byRef.Ref)}, nil
			}
		}
		if !ok || !tx.Actor().Owns(t.Merchant) {
			return Inspection{ContentDetail: "tag not registered"}, nil
		}
		in := Inspection{Registered: true, Tag: t.ID, Ref: t.Ref, Kind: t.Kind, Status: t.Status, Reason: t.Reason, Merchant: t.Merchant}
		if m, err := tx.AccountUnchecked(t.Merchant); err == nil {
			in.MerchantName = m.Name
		}
		switch {
		case req.Content == "":
			in.ContentDetail = "the tag carries no URL"
		case cerr != nil:
			in.ContentDetail = cerr.Error()
		case c.Ref != t.Ref:
			in.ContentDetail = fmt.Sprintf("content does not match this tag: it names reference %s, the tag is registered as %s", c.Ref, t.Ref)
		case t.Kind == TagSUN:
			n, err := checkSUN(tx, t, c, req.Content)
			if err != nil {
				in.ContentDetail = err.Error()
			} else {
				in.ContentOK, in.ContentDetail = true, fmt.Sprintf("SUN message verified, read counter %d is newer than any seen", n)
			}
		default:
			if err := s.checkStatic(tx, t, c, req.Content); err != nil {
				in.ContentDetail = err.Error()
			} else {
				in.ContentOK, in.ContentDetail = true, "content is the registered one (MAC verified)"
			}
		}
		return in, nil
	})
}
