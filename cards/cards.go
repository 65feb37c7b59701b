package cards

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/tagpay/tagpay/store"
)

// cardRecord is a card as stored: the public Card plus what never leaves the ledger (the
// keyed hash of the PAN) and the ids of every token ever issued to the card, so that a
// payment finds the card's tokens without walking the whole token bucket.
type cardRecord struct {
	Card
	PANHash string   `json:"pan_hash,omitempty"`
	Tokens  []string `json:"tokens,omitempty"`
}

// panSecret names the secret of the key file that keys PAN hashes. It is kept outside
// the ledger: a card's hash and last four digits leave about 10^5 Luhn-valid candidates,
// which the hash key would check in a second, so a copy of the ledger must not hold it.
const panSecret = store.SecretPANHash

// addCardParams is what identifies an AddCard request for idempotency: the PAN appears
// only as its keyed hash, so no unkeyed digest of it is ever stored.
type addCardParams struct {
	Account string `json:"account"`
	Label   string `json:"label"`
	Device  string `json:"device"`
	PANHash string `json:"pan_hash,omitempty"`
}

// AddCard binds a new card to a device on which the account is logged in now. A PAN is
// optional; when given it must be 12 to 19 digits and Luhn-valid, and only its last four
// digits and a keyed hash are kept.
func (s *Service) AddCard(ctx context.Context, req AddCardRequest) (Card, error) {
	var out Card
	// Card numbers are printed and read out in groups: "4111 1111 1111 1111" is one.
	req.PAN = strings.ReplaceAll(req.PAN, " ", "")
	err := s.db.Batch(ctx, func(tx *store.Tx) error {
		if err := checkPAN(req.PAN); err != nil {
			return err
		}
		params := addCardParams{Account: req.Account, Label: req.Label, Device: req.Device}
		if req.PAN != "" {
			// Every rule that can refuse the request without the key file has run before
			// the hash needs it.
			h, err := panHash(tx, req.PAN)
			if err != nil {
				return err
			}
			params.PANHash = h
		}
		c, _, err := store.Idempotent(tx, req.IdempotencyKey, "card.add", params, func() (Card, error) {
			return s.addCard(tx, req, params.PANHash)
		})
		out = c
		return err
	})
	return out, err
}

func (s *Service) addCard(tx *store.Tx, req AddCardRequest, hash string) (Card, error) {
	acct, err := personAccount(tx, req.Account)
	if err != nil {
		return Card{}, err
	}
	if err := checkDeviceID(req.Device, "device"); err != nil {
		return Card{}, err
	}
	label, err := cleanName(req.Label, "label")
	if err != nil {
		return Card{}, err
	}
	in, err := loggedInNow(tx, acct.ID, req.Device)
	if err != nil {
		return Card{}, err
	}
	if !in {
		return Card{}, store.Errorf(store.KindConflict, "not_logged_in", "account %s is not logged in on device %s; log in there before adding a card", acct.ID, req.Device).WithParam("device")
	}
	last4 := ""
	if req.PAN != "" {
		last4 = req.PAN[len(req.PAN)-4:]
	}
	if label == "" {
		label = "card"
		if last4 != "" {
			label = "card ending " + last4
		}
	}
	now := s.now(tx)
	c := cardRecord{
		Card: Card{
			ID: store.NewID(store.PrefixCard), Account: acct.ID, Label: label, PANLast4: last4,
			Device: req.Device, Status: CardActive, CreatedAt: now, UpdatedAt: now,
		},
		PANHash: hash,
	}
	if err := tx.Put(store.BucketCards, c.ID, c); err != nil {
		return Card{}, err
	}
	detail := map[string]string{"account": acct.ID, "device": c.Device}
	if last4 != "" {
		detail["pan_last4"] = last4
	}
	return c.Card, tx.Audit("card.add", c.ID, detail)
}

// ListCards lists the account's cards, oldest first; with no account, every card the
// caller may see.
func (s *Service) ListCards(ctx context.Context, account string, p store.Page) ([]Card, error) {
	if err := p.Check(store.PrefixCard); err != nil {
		return nil, err
	}
	out := []Card{}
	err := s.db.View(ctx, func(tx *store.Tx) error {
		if err := requireCardsRole(tx); err != nil {
			return err
		}
		if account != "" {
			if _, err := tx.Account(account); err != nil {
				return err
			}
		}
		actor := tx.Actor()
		var err error
		out, err = store.ReadPage(tx, store.BucketCards, p, false, func(c cardRecord) (Card, bool) {
			return c.Card, (account == "" || c.Account == account) && actor.Owns(c.Account)
		})
		return err
	})
	return out, err
}

// GetCard loads one card.
func (s *Service) GetCard(ctx context.Context, id string) (Card, error) {
	var out Card
	err := s.db.View(ctx, func(tx *store.Tx) error {
		c, err := ownedCard(tx, id)
		out = c.Card
		return err
	})
	return out, err
}

// loadCard reads a card record without checking who asks.
func loadCard(tx *store.Tx, id string) (cardRecord, error) {
	if !store.ValidID(id, store.PrefixCard) {
		return cardRecord{}, store.Errorf(store.KindNotFound, "card_not_found", "card %q not found", id).WithParam("card")
	}
	return store.Load[cardRecord](tx, store.BucketCards, id, "card")
}

// ownedCard reads a card the actor may act on.
func ownedCard(tx *store.Tx, id string) (cardRecord, error) {
	if err := requireCardsRole(tx); err != nil {
		return cardRecord{}, err
	}
	c, err := loadCard(tx, id)
	if err != nil {
		return c, err
	}
	return c, tx.RequireOwner(c.Account)
}

// checkPAN validates a card number without ever repeating it: errors, logs and audit
// records must not carry it.
func checkPAN(pan string) error {
	if pan == "" {
		return nil
	}
	if !allDigits(pan) {
		return store.Errorf(store.KindInvalid, "invalid_pan", "card number must contain digits only").WithParam("pan")
	}
	if len(pan) < 12 || len(pan) > 19 {
		return store.Errorf(store.KindInvalid, "invalid_pan", "card number must have 12 to 19 digits, not %d", len(pan)).WithParam("pan")
	}
	if !LuhnValid(pan) {
		return store.Errorf(store.KindInvalid, "invalid_pan", "card number ending %s fails the Luhn check (mistyped?)", pan[len(pan)-4:]).WithParam("pan")
	}
	return nil
}

// panHash is the keyed hash a PAN is kept and compared as.
func panHash(tx *store.Tx, pan string) (string, error) {
	key, err := tx.Secret(panSecret)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(pan))
	return hex.EncodeToString(m.Sum(nil)), nil
}
