package cards

import (
	"time"

	"github.com/tagpay/tagpay/store"
)

// TokenQuery names the token a payment is made with: Token (an id or a number), or else
// Card, whose active nfc token on Device pays. Account is the payer.
type TokenQuery struct {
	Card    string
	Token   string
	Device  string
	Account string
}

// ResolveToken finds the token that pays, for the orders package, inside its payment
// transaction. Every refusal is KindDeclined with a message a payer can act on: a token
// that is not active gives code token_<state> and says why, e.g. "token deleted (card
// migrated to another device)"; an expired token gives token_expired.
//
// The caller has already checked that the actor may act for q.Account.
func ResolveToken(tx *store.Tx, q TokenQuery) (Token, error) {
	if q.Account == "" {
		return Token{}, store.Errorf(store.KindInvalid, "account_required", "a token payment needs the payer account").WithParam("account")
	}
	// A tap pays from the device in hand: a token bound to a device pays only there.
	if q.Device == "" {
		return Token{}, store.Errorf(store.KindInvalid, "device_required", "paying with a card or a payment token needs the device paying").WithParam("device")
	}
	var t Token
	switch {
	case q.Token != "":
		found := false
		var err error
		t, found, err = lookupToken(tx, q.Token)
		if err != nil {
			return Token{}, err
		}
		// Someone else's token is answered exactly like one that does not exist, so
		// that token numbers cannot be probed.
		if !found || t.Account != q.Account {
			return Token{}, declined("token_not_found", "token %s is not known", truncate(q.Token, 40))
		}
	case q.Card != "":
		var err error
		t, err = nfcTokenOn(tx, q.Card, q.Device, q.Account)
		if err != nil {
			return Token{}, err
		}
	default:
		return Token{}, store.Errorf(store.KindInvalid, "instrument_required", "name a payment token or a card to pay with").WithParam("payment_token")
	}
	if t.Status != TokenActive {
		return Token{}, declined("token_"+string(t.Status), "token %s (%s)", t.Status, reasonText(t.Reason))
	}
	if t.Function != FunctionNFC {
		return Token{}, declined("token_not_nfc", "token %s is a %s token; a tap pays only with an nfc token", t.ID, t.Function)
	}
	if !tx.Now().Before(t.ExpiresAt) {
		return Token{}, declined("token_expired", "token expired on %s", t.ExpiresAt.Format(time.DateOnly))
	}
	// After the state: an old token tried on the new device is best told it was deleted.
	if q.Card != "" && t.Card != q.Card {
		return Token{}, declined("token_card_mismatch", "token %s does not belong to card %s", t.ID, q.Card)
	}
	if t.Device != q.Device {
		return Token{}, declined("token_wrong_device", "token %s is bound to another device than %s", t.ID, q.Device)
	}
	c, err := loadCard(tx, t.Card)
	if err != nil {
		return Token{}, err
	}
	if c.Status != CardActive {
		return Token{}, declined("card_"+string(c.Status), "card %s is %s", c.ID, c.Status)
	}
	return t, nil
}

// nfcTokenOn is the card's nfc token on device: the active one, or else the latest one,
// whose state then explains the decline (a migrated card's old device finds its deleted
// token and says so).
func nfcTokenOn(tx *store.Tx, card, device, account string) (Token, error) {
	if !store.ValidID(card, store.PrefixCard) {
		return Token{}, declined("card_not_found", "card %s is not known", card)
	}
	var c cardRecord
	found, err := tx.Get(store.BucketCards, card, &c)
	if err != nil {
		return Token{}, err
	}
	// Someone else's card is answered like one that does not exist.
	if !found || c.Account != account {
		return Token{}, declined("card_not_found", "card %s is not known", card)
	}
	toks, err := cardTokens(tx, c)
	if err != nil {
		return Token{}, err
	}
	var latest *Token
	for i := len(toks) - 1; i >= 0; i-- {
		t := toks[i]
		if t.Device != device || t.Function != FunctionNFC {
			continue
		}
		if t.Status == TokenActive {
			return t, nil
		}
		if latest == nil {
			latest = &toks[i]
		}
	}
	if latest != nil {
		return *latest, nil
	}
	return Token{}, declined("no_nfc_token", "card %s has no nfc token on device %s; activate nfc on that device first", card, device)
}

func declined(code, format string, args ...any) error {
	return store.Errorf(store.KindDeclined, code, format, args...)
}
