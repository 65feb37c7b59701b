package orders

import (
	"context"

	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/events"
	"github.com/tagpay/tagpay/store"
)

// Instrument kinds.
const (
	InstrumentBalance = "balance"
	InstrumentToken   = "token"
)

// PayOrder is the payment step: one transfer from payer to payee, atomic with the order
// becoming paid. A card or token names the instrument (it must be the payer's active nfc
// token); the money always comes from the payer's balance. A declined payment changes
// nothing, and the order stays created so it can be paid after a top-up.
func (s *Service) PayOrder(ctx context.Context, req PayRequest) (Order, error) {
	return write(s, ctx, req.IdempotencyKey, "order.pay", req, func(tx *store.Tx) (Order, error) {
		return payOrder(tx, req)
	})
}

func payOrder(tx *store.Tx, req PayRequest) (Order, error) {
	o, err := loadOrder(tx, req.Order)
	if err != nil {
		return Order{}, err
	}
	if err := tx.RequireOwner(o.Payer); err != nil {
		return Order{}, err
	}
	if o.Status != OrderCreated {
		return Order{}, store.Errorf(store.KindConflict, "order_not_payable", "order %s is %s; only a created order can be paid", o.ID, o.Status).WithParam("order")
	}
	// The tag may have been revoked since the order was created.
	t, err := store.Load[Tag](tx, store.BucketTags, o.Tag, "tag")
	if err != nil {
		return Order{}, err
	}
	if err := requireActive(t); err != nil {
		return Order{}, err
	}
	in, err := instrument(tx, o, req.Card, req.PaymentToken, req.Device)
	if err != nil {
		return Order{}, err
	}
	tr, err := pay(tx, &o, in)
	if err != nil {
		return Order{}, err
	}
	if err := putOrder(tx, o); err != nil {
		return Order{}, err
	}
	if err := tx.Emit(events.OrderPaid, o.ID, o, o.Payer, o.Payee); err != nil {
		return Order{}, err
	}
	return o, tx.Audit("order.pay", o.ID, payDetail(tr, o, in))
}

// instrument resolves what pays order o: a card's nfc token on the paying device, a
// token, or else the payer's balance. It writes nothing.
func instrument(tx *store.Tx, o Order, card, token, device string) (Instrument, error) {
	if card == "" && token == "" {
		return Instrument{Kind: InstrumentBalance}, nil
	}
	tok, err := cards.ResolveToken(tx, cards.TokenQuery{Card: card, Token: token, Device: device, Account: o.Payer})
	if err != nil {
		return Instrument{}, err
	}
	return Instrument{Kind: InstrumentToken, Card: tok.Card, Token: tok.ID}, nil
}

// pay is the payment step: the transfer from payer to payee, which checks everything
// before it writes, and order o marked paid (the caller stores it).
func pay(tx *store.Tx, o *Order, in Instrument) (store.Transfer, error) {
	tr, err := tx.Transfer(store.TransferSpec{
		Kind: store.TransferPayment, From: o.Payer, To: o.Payee, Amount: o.Amount, Ref: o.ID, Memo: o.Memo,
	})
	if err != nil {
		return store.Transfer{}, err
	}
	now := tx.Now()
	o.Status, o.Transfer, o.PaidAt, o.Instrument = OrderPaid, tr.ID, &now, &in
	return tr, nil
}

func payDetail(tr store.Transfer, o Order, in Instrument) map[string]string {
	detail := map[string]string{"transfer": tr.ID, "amount": o.Amount.String(), "instrument": in.Kind}
	if in.Token != "" {
		detail["token"] = in.Token
	}
	return detail
}

// RefundOrder returns money of a paid order from the payee to the payer; the payee's
// owner (the merchant) or an admin may do it. An empty amount refunds what is left.
func (s *Service) RefundOrder(ctx context.Context, req RefundRequest) (Order, error) {
	params := func(tx *store.Tx) any {
		p := req
		if o, err := loadOrder(tx, req.Order); err == nil {
			p.Amount = tx.NormalizeAmount(o.Payee, req.Amount)
		}
		return p
	}
	return write(s, ctx, req.IdempotencyKey, "order.refund", params, func(tx *store.Tx) (Order, error) {
		return refundOrder(tx, req)
	})
}

func refundOrder(tx *store.Tx, req RefundRequest) (Order, error) {
	o, err := loadOrder(tx, req.Order)
	if err != nil {
		return Order{}, err
	}
	if err := tx.RequireOwner(o.Payee); err != nil {
		return Order{}, err
	}
	if o.Status != OrderPaid {
		return Order{}, store.Errorf(store.KindConflict, "order_not_refundable", "order %s is %s; only a paid order can be refunded", o.ID, o.Status).WithParam("order")
	}
	left := store.Money{Amount: o.Amount.Amount - o.Refunded.Amount, Currency: o.Amount.Currency}
	amount := left
	if req.Amount != "" {
		if amount, err = store.ParseAmount(req.Amount, o.Amount.Currency); err != nil {
			return Order{}, err
		}
		if amount.Amount > left.Amount {
			return Order{}, store.Errorf(store.KindDeclined, "refund_exceeds_payment", "a refund of %s exceeds the %s left to refund of the %s paid", amount, left, o.Amount).WithParam("amount")
		}
	}
	tr, err := tx.Transfer(store.TransferSpec{
		Kind: store.TransferRefund, From: o.Payee, To: o.Payer, Amount: amount, Ref: o.ID, Memo: "refund of " + o.ID,
	})
	if err != nil {
		return Order{}, err
	}
	o.Refunded.Amount += amount.Amount
	o.Refunded.Currency = o.Amount.Currency
	o.Refunds = append(o.Refunds, tr.ID)
	if o.Refunded.Amount == o.Amount.Amount {
		o.Status = OrderRefunded
	}
	if err := putOrder(tx, o); err != nil {
		return Order{}, err
	}
	if err := tx.Emit(events.OrderRefunded, o.ID, o, o.Payer, o.Payee); err != nil {
		return Order{}, err
	}
	return o, tx.Audit("order.refund", o.ID, map[string]string{
		"transfer": tr.ID, "amount": amount.String(), "refunded": o.Refunded.String(),
	})
}
