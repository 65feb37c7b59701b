package orders

import (
	"context"

	"github.com/tagpay/tagpay/store"
)

// ParsePaymentRequest answers an NFC tag payment request (the UID and content a device
// read) with a parsing reply: who is paid and how much, valid for a short time and for
// one order.
// A rejected request writes nothing; every rejection is KindDeclined with a stable code.
func (s *Service) ParsePaymentRequest(ctx context.Context, req PaymentRequest) (ParsingReply, error) {
	return write(s, ctx, req.IdempotencyKey, "payment_request.parse", req, func(tx *store.Tx) (ParsingReply, error) {
		return s.parsePaymentRequest(tx, req)
	})
}

func (s *Service) parsePaymentRequest(tx *store.Tx, req PaymentRequest) (ParsingReply, error) {
	p, err := s.parse(tx, req)
	if err != nil {
		return ParsingReply{}, err
	}
	return p.reply, p.record(tx)
}

// parsed is a payment request that passed every check, not yet written: the reply and
// the SUN counter it consumes.
type parsed struct {
	reply   ParsingReply
	tag     Tag // as read: a tap's order step checks it without reading it again
	counter *uint32
}

// record writes the reply and the SUN counter it consumed.
func (p parsed) record(tx *store.Tx) error {
	if p.counter != nil {
		if err := putSUNCounter(tx, p.reply.Tag, *p.counter); err != nil {
			return err
		}
	}
	return tx.Put(store.BucketReplies, p.reply.ID, p.reply)
}

// parse runs every check of a payment request and writes nothing, so that a tap can
// check all of its steps before its first write and a preview can stop here.
func (s *Service) parse(tx *store.Tx, req PaymentRequest) (parsed, error) {
	uid, err := NormalizeUID(req.UID)
	if err != nil {
		return parsed{}, err
	}
	c, err := ParseContent(req.Content)
	if err != nil {
		return parsed{}, err
	}
	t, ok, err := tagByIndex(tx, refIndexKey(c.Ref))
	if err != nil {
		return parsed{}, err
	}
	if !ok {
		return parsed{}, declined("tag_not_registered", "tag not registered: no tag has reference %s", c.Ref)
	}
	// Authenticity first: a clone or an edited content hears nothing about the state of
	// the tag it imitates.
	if uid != t.UID {
		return parsed{}, declined("possible_clone", "content does not match this tag (possible clone): reference %s belongs to another UID than %s", t.Ref, uid)
	}
	var counter *uint32
	switch t.Kind {
	case TagStatic:
		if err := s.checkStatic(tx, t, c, req.Content); err != nil {
			return parsed{}, err
		}
	case TagSUN:
		n, err := checkSUN(tx, t, c, req.Content)
		if err != nil {
			return parsed{}, err
		}
		counter = &n
	default:
		return parsed{}, store.Errorf(store.KindCorrupt, "ledger_corrupt", "tag %s has unknown kind %q", t.ID, t.Kind)
	}
	if err := requireActive(t); err != nil {
		return parsed{}, err
	}
	merchant, err := tx.AccountUnchecked(t.Merchant)
	if err != nil {
		return parsed{}, err
	}
	now := s.now()
	r := ParsingReply{
		ID: tx.NewID(store.PrefixReply), Tag: t.ID, TagRef: t.Ref, Payee: merchant.ID,
		PayeeName: merchant.Name, Amount: t.Amount, Currency: t.Currency,
		Caller: tx.Actor().ID, ExpiresAt: now.Add(s.cfg.ReplyTTL), CreatedAt: now,
	}
	return parsed{reply: r, tag: t, counter: counter}, nil
}

// checkStatic checks a static tag's content: the MAC binds reference and UID under the
// ledger key, and the whole URL must be the registered one (the base is not under the
// MAC, so an edited host or scheme is caught here).
func (s *Service) checkStatic(tx *store.Tx, t Tag, c Content, raw string) error {
	if c.Kind != TagStatic {
		return declined("content_altered", "content altered (MAC check failed): tag %s is a static tag, the URL is a SUN URL", t.Ref)
	}
	key, err := tx.Secret(tagMACSecret)
	if err != nil {
		return err
	}
	if !macEqual(tagMAC(key, t.UID, t.Ref), c.MAC) {
		return declined("content_altered", "content altered (MAC check failed)")
	}
	if raw != t.Content {
		return declined("content_altered", "content altered (MAC check failed): the URL differs from the registered content of tag %s", t.Ref)
	}
	return nil
}

// requireActive refuses a tag that may not take payments.
func requireActive(t Tag) error {
	switch t.Status {
	case TagActive:
		return nil
	case TagRevoked:
		return declined("tag_revoked", "tag revoked: %s", t.Reason)
	default:
		if t.Reason != "" {
			return declined("tag_not_active", "tag not active: it is %s (%s)", t.Status, t.Reason)
		}
		return declined("tag_not_active", "tag not active: it is %s", t.Status)
	}
}

func declined(code, format string, args ...any) error {
	return store.Errorf(store.KindDeclined, code, format, args...)
}
