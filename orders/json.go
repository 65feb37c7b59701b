package orders

import "github.com/tagpay/tagpay/store"

// Every tap writes an order and a reply and encodes the order again for its event, on
// the one goroutine that holds the ledger's write transaction: they are encoded by hand
// (store.JSONObject), field for field what encoding/json writes for their tags
// (TestOrderJSONMatchesEncodingJSON).

// MarshalJSON writes the order as the API shows it.
func (o Order) MarshalJSON() ([]byte, error) {
	w := store.NewJSONObject(512)
	w.Str("id", o.ID)
	w.Str("reply", o.Reply)
	w.Str("tag", o.Tag)
	w.Str("payer", o.Payer)
	w.Str("payee", o.Payee)
	w.Str("payee_name", o.PayeeName)
	if err := w.Money("amount", o.Amount); err != nil {
		return nil, err
	}
	if err := w.Money("refunded", o.Refunded); err != nil {
		return nil, err
	}
	w.StrOmit("memo", o.Memo)
	w.Str("status", string(o.Status))
	w.StrOmit("reason", o.Reason)
	if in := o.Instrument; in != nil {
		iw := store.NewJSONObject(96)
		iw.Str("kind", in.Kind)
		iw.StrOmit("card", in.Card)
		iw.StrOmit("token", in.Token)
		w.Raw("instrument", iw.Bytes())
	}
	w.StrOmit("transfer", o.Transfer)
	if len(o.Refunds) > 0 {
		w.Strs("refunds", o.Refunds)
	}
	if err := w.Time("created_at", o.CreatedAt); err != nil {
		return nil, err
	}
	if o.PaidAt != nil {
		if err := w.Time("paid_at", *o.PaidAt); err != nil {
			return nil, err
		}
	}
	return w.Bytes(), nil
}

// MarshalJSON writes the parsing reply as the API shows it.
func (r ParsingReply) MarshalJSON() ([]byte, error) {
	w := store.NewJSONObject(384)
	w.Str("id", r.ID)
	w.Str("tag", r.Tag)
	w.Str("tag_ref", r.TagRef)
	w.Str("payee", r.Payee)
	w.Str("payee_name", r.PayeeName)
	if r.Amount != nil {
		if err := w.Money("amount", *r.Amount); err != nil {
			return nil, err
		}
	}
	w.Str("currency", r.Currency)
	w.StrOmit("caller", r.Caller)
	if err := w.Time("expires_at", r.ExpiresAt); err != nil {
		return nil, err
	}
	w.Bool("used", r.Used)
	if err := w.Time("created_at", r.CreatedAt); err != nil {
		return nil, err
	}
	return w.Bytes(), nil
}
