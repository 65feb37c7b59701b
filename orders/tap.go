package orders

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/tagpay/tagpay/events"
	"github.com/tagpay/tagpay/store"
)

// TapRequest is one tap as the payer's device sends it: the NFC tag payment request (the
// tag's UID and content), the order generation request it builds from the parsing reply
// (payer, amount, memo) and what pays (a card's nfc token on Device, a payment token, or
// the balance).
type TapRequest struct {
	UID            string `json:"uid"`
	Content        string `json:"content"`
	Payer          string `json:"payer"`
	Amount         string `json:"amount,omitempty"`
	Memo           string `json:"memo,omitempty"`
	Card           string `json:"card,omitempty"`
	PaymentToken   string `json:"payment_token,omitempty"`
	Device         string `json:"device,omitempty"`
	IdempotencyKey string `json:"-"`
}

// Receipt is a paid tap: each step of the patent's flow as the ledger recorded it.
type Receipt struct {
	Request  PaymentRequest `json:"request"`
	Reply    ParsingReply   `json:"reply"`
	Order    Order          `json:"order"`
	Transfer store.Transfer `json:"transfer"`
}

// Tap runs a whole tap in one durable transaction: the payment request is parsed, the
// order generated from the parsing reply and paid. Every step is checked before the
// first write, so a declined tap leaves the ledger exactly as it was: no reply, no
// order, no SUN counter consumed.
func (s *Service) Tap(ctx context.Context, req TapRequest) (Receipt, error) {
	var out Receipt
	err := s.db.Batch(ctx, func(tx *store.Tx) error {
		params, err := tapParams(tx, req)
		if err != nil {
			return err
		}
		// Only the order id is kept with the key: the receipt is rebuilt from the
		// records, so a retry costs a few bytes instead of a copy of the receipt.
		id, replayed, err := store.Idempotent(tx, req.IdempotencyKey, "tap", params, func() (string, error) {
			r, err := s.tap(tx, req)
			out = r
			return r.Order.ID, err
		})
		if err != nil || !replayed {
			return err
		}
		out, err = receiptOf(tx, id)
		return err
	})
	return out, err
}

func (s *Service) tap(tx *store.Tx, req TapRequest) (Receipt, error) {
	preq := PaymentRequest{UID: req.UID, Content: req.Content}
	p, err := s.parse(tx, preq)
	if err != nil {
		return Receipt{}, err
	}
	if err := tx.RequireOwner(req.Payer); err != nil {
		return Receipt{}, err
	}
	o, err := newOrder(tx, p.reply, &p.tag, OrderRequest{Reply: p.reply.ID, Payer: req.Payer, Amount: req.Amount, Memo: req.Memo})
	if err != nil {
		return Receipt{}, err
	}
	in, err := instrument(tx, o, req.Card, req.PaymentToken, req.Device)
	if err != nil {
		return Receipt{}, err
	}
	// The transfer checks funds before it writes: it is the first write of the tap.
	tr, err := pay(tx, &o, in)
	if err != nil {
		return Receipt{}, err
	}
	// The reply is written once, already used by the order it made.
	p.reply.Used = true
	if err := p.record(tx); err != nil {
		return Receipt{}, err
	}
	// The paid order is encoded once, for its event and for its record, which a ledger
	// file then keeps as a reference to the event's copy.
	raw, err := o.MarshalJSON()
	if err != nil {
		return Receipt{}, err
	}
	if err := tx.Emit(events.OrderPaid, o.ID, json.RawMessage(raw), o.Payer, o.Payee); err != nil {
		return Receipt{}, err
	}
	if err := insertOrderJSON(tx, o, raw); err != nil {
		return Receipt{}, err
	}
	// The order holds the amount and the instrument; the audit line links the records.
	detail := map[string]string{"reply": p.reply.ID, "transfer": tr.ID}
	if in.Token != "" {
		detail["token"] = in.Token
	}
	if err := tx.Audit("tap", o.ID, detail); err != nil {
		return Receipt{}, err
	}
	preq.UID = p.tag.UID // the request's UID as parse read it: the tag's
	return Receipt{Request: preq, Reply: p.reply, Order: o, Transfer: tr}, nil
}

// receiptOf rebuilds the receipt of the tap that paid order id.
func receiptOf(tx *store.Tx, id string) (Receipt, error) {
	o, err := loadOrder(tx, id)
	if err != nil {
		return Receipt{}, err
	}
	r, err := store.Load[ParsingReply](tx, store.BucketReplies, o.Reply, "reply")
	if err != nil {
		return Receipt{}, err
	}
	tr, err := tx.TransferByID(o.Transfer)
	if err != nil {
		return Receipt{}, err
	}
	t, err := store.Load[Tag](tx, store.BucketTags, o.Tag, "tag")
	if err != nil {
		return Receipt{}, err
	}
	return Receipt{Request: PaymentRequest{UID: t.UID, Content: t.Content}, Reply: r, Order: o, Transfer: tr}, nil
}

// tapParams are the parameters an idempotency key is held to, normalized so that the
// same tap typed another way ("5", "5.00", "5.00 EUR") is the same request.
func tapParams(tx *store.Tx, req TapRequest) (any, error) {
	if req.IdempotencyKey == "" {
		return nil, nil
	}
	uid, err := NormalizeUID(req.UID)
	if err != nil {
		uid = req.UID
	}
	amount := tx.NormalizeAmount(req.Payer, req.Amount)
	return struct {
		UID, Content, Payer, Amount, Memo, Card, PaymentToken, Device string
	}{uid, req.Content, req.Payer, amount, strings.TrimSpace(req.Memo), req.Card, req.PaymentToken, req.Device}, nil
}

// PreviewTap answers a payment request with the parsing reply a tap would get, and
// writes nothing: a terminal shows it for confirmation, then sends the tap. The reply
// is not stored and cannot be ordered; the tap checks everything again.
func (s *Service) PreviewTap(ctx context.Context, req PaymentRequest) (ParsingReply, error) {
	return read(s, ctx, func(tx *store.Tx) (ParsingReply, error) {
		p, err := s.parse(tx, req)
		if err != nil {
			return ParsingReply{}, err
		}
		r := p.reply
		r.ID = ""
		return r, nil
	})
}
