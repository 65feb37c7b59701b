package orders

import (
	"context"
	"strings"

	"github.com/tagpay/tagpay/events"
	"github.com/tagpay/tagpay/store"
)

const maxMemo = 140

// CreateOrder generates an order from a parsing reply: the payer (first account), the
// transaction information (amount, memo) and the payee (second account) the reply named.
// The reply is used up in the same transaction.
func (s *Service) CreateOrder(ctx context.Context, req OrderRequest) (Order, error) {
	params := func(tx *store.Tx) any {
		p := req
		p.Amount = tx.NormalizeAmount(req.Payer, req.Amount)
		return p
	}
	return write(s, ctx, req.IdempotencyKey, "order.create", params, func(tx *store.Tx) (Order, error) {
		return s.createOrder(tx, req)
	})
}

func (s *Service) createOrder(tx *store.Tx, req OrderRequest) (Order, error) {
	if !store.ValidID(req.Reply, store.PrefixReply) {
		return Order{}, replyNotFound(req.Reply)
	}
	r, err := store.Load[ParsingReply](tx, store.BucketReplies, req.Reply, "reply")
	if err != nil {
		return Order{}, err
	}
	// A reply is its caller's alone: another key hears that it does not exist.
	if r.Caller != "" && r.Caller != tx.Actor().ID {
		return Order{}, replyNotFound(req.Reply)
	}
	if r.Used {
		return Order{}, declined("reply_used", "parsing reply %s was already used for an order; read the tag again", r.ID)
	}
	if !s.now().Before(r.ExpiresAt) {
		return Order{}, declined("reply_expired", "parsing reply %s expired at %s; read the tag again", r.ID, r.ExpiresAt.Format("15:04:05 MST"))
	}
	o, err := newOrder(tx, r, nil, req)
	if err != nil {
		return Order{}, err
	}
	if err := recordOrder(tx, &r, o); err != nil {
		return Order{}, err
	}
	if err := tx.Emit(events.OrderCreated, o.ID, o, o.Payer, o.Payee); err != nil {
		return Order{}, err
	}
	return o, tx.Audit("order.create", o.ID, map[string]string{
		"reply": r.ID, "payer": o.Payer, "payee": o.Payee, "amount": o.Amount.String(),
	})
}

func replyNotFound(id string) error {
	return store.Errorf(store.KindNotFound, "reply_not_found", "parsing reply %q not found", id).WithParam("reply")
}

// newOrder is the order generation step: it checks the order generation request against
// the parsing reply (payer, amount, memo, the tag still active) and writes nothing.
// The tag is loaded to see whether it was revoked since the reply was given, unless the
// caller read it in this same transaction (a tap) and passes it as tag.
func newOrder(tx *store.Tx, r ParsingReply, tag *Tag, req OrderRequest) (Order, error) {
	payer, err := tx.Account(req.Payer)
	if err != nil {
		return Order{}, err
	}
	if payer.ID == r.Payee {
		return Order{}, declined("payer_is_payee", "the payer %s is the payee of this tag", payer.ID)
	}
	if payer.Kind != store.AccountPerson {
		return Order{}, store.Errorf(store.KindInvalid, "invalid_payer", "account %s is a %s account; orders are paid from person accounts", payer.ID, payer.Kind).WithParam("payer")
	}
	payee, err := tx.AccountUnchecked(r.Payee)
	if err != nil {
		return Order{}, err
	}
	if payer.Currency != payee.Currency {
		return Order{}, declined("currency_mismatch", "the payer account holds %s, the payee %s takes %s", payer.Currency, payee.ID, payee.Currency)
	}
	amount, err := orderAmount(req.Amount, r, payee.Currency)
	if err != nil {
		return Order{}, err
	}
	memo := strings.TrimSpace(req.Memo)
	if err := checkText("memo", memo, maxMemo); err != nil {
		return Order{}, err
	}
	if tag == nil {
		t, err := store.Load[Tag](tx, store.BucketTags, r.Tag, "tag")
		if err != nil {
			return Order{}, err
		}
		tag = &t
	}
	if err := requireActive(*tag); err != nil {
		return Order{}, err
	}
	return Order{
		ID: tx.NewID(store.PrefixOrder), Reply: r.ID, Tag: r.Tag, Payer: payer.ID,
		Payee: payee.ID, PayeeName: payee.Name, Amount: amount,
		Refunded: store.Money{Currency: amount.Currency}, Memo: memo, Status: OrderCreated,
		CreatedAt: tx.Now(),
	}, nil
}

// recordOrder uses up the reply and writes the order.
func recordOrder(tx *store.Tx, r *ParsingReply, o Order) error {
	r.Used = true
	if err := tx.Put(store.BucketReplies, r.ID, *r); err != nil {
		return err
	}
	return insertOrder(tx, o)
}

// orderAmount is the amount of a new order: the tag's fixed amount, or the payer's.
func orderAmount(text string, r ParsingReply, currency string) (store.Money, error) {
	if strings.TrimSpace(text) == "" {
		if r.Amount == nil {
			return store.Money{}, store.Errorf(store.KindInvalid, "amount_required", "this tag has no fixed amount; give the amount to pay").WithParam("amount")
		}
		return *r.Amount, nil
	}
	m, err := store.ParseAmount(text, currency)
	if err != nil {
		if store.CodeOf(err) == "currency_mismatch" {
			return store.Money{}, store.Wrap(store.KindDeclined, "currency_mismatch", err, "the payee takes %s", currency).WithParam("amount")
		}
		return store.Money{}, err
	}
	if r.Amount != nil && m != *r.Amount {
		return store.Money{}, store.Errorf(store.KindDeclined, "amount_mismatch", "this tag charges a fixed %s, not %s", r.Amount, m).WithParam("amount")
	}
	return m, nil
}

// loadOrder loads an order by id.
func loadOrder(tx *store.Tx, id string) (Order, error) {
	if !store.ValidID(id, store.PrefixOrder) {
		return Order{}, store.Errorf(store.KindNotFound, "order_not_found", "order %q not found", id).WithParam("order")
	}
	return store.Load[Order](tx, store.BucketOrders, id, "order")
}

// requireParty refuses unless the actor acts for the payer or the payee of o.
func requireParty(tx *store.Tx, o Order) error {
	a := tx.Actor()
	if a.Owns(o.Payer) || a.Owns(o.Payee) {
		return nil
	}
	return store.Errorf(store.KindForbidden, "forbidden", "this %s key may not see order %s", a.Role, o.ID)
}

// CancelOrder cancels an order that has not been paid.
func (s *Service) CancelOrder(ctx context.Context, req CancelRequest) (Order, error) {
	return write(s, ctx, req.IdempotencyKey, "order.cancel", req, func(tx *store.Tx) (Order, error) {
		o, err := loadOrder(tx, req.Order)
		if err != nil {
			return Order{}, err
		}
		if err := requireParty(tx, o); err != nil {
			return Order{}, err
		}
		if o.Status != OrderCreated {
			return Order{}, store.Errorf(store.KindConflict, "order_not_cancellable", "order %s is %s; only a created order can be cancelled", o.ID, o.Status).WithParam("order")
		}
		o.Status = OrderCancelled
		if err := putOrder(tx, o); err != nil {
			return Order{}, err
		}
		if err := tx.Emit(events.OrderCancelled, o.ID, o, o.Payer, o.Payee); err != nil {
			return Order{}, err
		}
		return o, tx.Audit("order.cancel", o.ID, nil)
	})
}

// ListOrders lists, newest first, the orders the actor pays or is paid by (admins: all).
// A payer, payee or tag filter is served from the order index, so a page costs the same
// however large the ledger grows.
func (s *Service) ListOrders(ctx context.Context, f OrderFilter) ([]Order, error) {
	if err := checkOrderFilter(f); err != nil {
		return nil, err
	}
	return read(s, ctx, func(tx *store.Tx) ([]Order, error) {
		actor := tx.Actor()
		out := []Order{}
		if f.Tag != "" && !store.ValidID(f.Tag, store.PrefixTag) {
			t, err := findTag(tx, f.Tag)
			if store.IsKind(err, store.KindNotFound) {
				return out, nil
			}
			if err != nil {
				return nil, err
			}
			f.Tag = t.ID
		}
		keep := func(o Order) error {
			switch {
			case !actor.Owns(o.Payer) && !actor.Owns(o.Payee):
			case f.Payer != "" && f.Payer != o.Payer:
			case f.Payee != "" && f.Payee != o.Payee:
			case f.Tag != "" && f.Tag != o.Tag:
			case f.Status != "" && f.Status != o.Status:
			default:
				out = append(out, o)
				if f.Limit > 0 && len(out) >= f.Limit {
					return store.ErrStop
				}
			}
			return nil
		}
		prefix := ""
		switch {
		case f.Payer != "":
			prefix = "payer:" + f.Payer + "/"
		case f.Payee != "":
			prefix = "payee:" + f.Payee + "/"
		case f.Tag != "":
			prefix = "tag:" + f.Tag + "/"
		default:
			return out, store.EachFrom(tx, store.BucketOrders, "", f.After, true, func(_ string, o Order) error { return keep(o) })
		}
		from := ""
		if f.After != "" {
			from = prefix + f.After
		}
		err := tx.ForEachFrom(store.BucketOrderIndex, prefix, from, true, func(k string, _ []byte) error {
			id := k[len(prefix):]
			o, err := loadOrder(tx, id)
			if err != nil {
				return err
			}
			return keep(o)
		})
		return out, err
	})
}

// checkOrderFilter refuses a filter that could match nothing by mistake.
func checkOrderFilter(f OrderFilter) error {
	switch f.Status {
	case "", OrderCreated, OrderPaid, OrderRefunded, OrderCancelled:
	default:
		return store.Errorf(store.KindInvalid, "invalid_status", "status %q is not one of created, paid, refunded, cancelled", f.Status).WithParam("status")
	}
	for _, c := range []struct{ param, value, prefix string }{
		{"payer", f.Payer, store.PrefixAccount}, {"payee", f.Payee, store.PrefixAccount}, {"after", f.After, store.PrefixOrder},
	} {
		if err := store.CheckFilterID(c.param, c.value, c.prefix); err != nil {
			return err
		}
	}
	return store.CheckLimit(f.Limit)
}

// GetOrder loads one order of the actor's.
func (s *Service) GetOrder(ctx context.Context, id string) (Order, error) {
	return read(s, ctx, func(tx *store.Tx) (Order, error) {
		o, err := loadOrder(tx, id)
		if err != nil {
			return Order{}, err
		}
		return o, requireParty(tx, o)
	})
}
