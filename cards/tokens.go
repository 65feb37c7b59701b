package cards

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/tagpay/tagpay/store"
)

// Token numbers: nfc, online and inapp get a card-like 16-digit number, qr an 18-digit
// payment code (the length of common QR payment codes); both are BIN + random digits +
// a Luhn check digit, so a mistyped code is caught before it reaches the ledger.
const (
	cardTokenLen = 16
	qrCodeLen    = 18
	// maxDraws bounds the redraws on a collision: with 10^9 numbers per BIN a run of
	// collisions this long means the range is full, not bad luck.
	maxDraws = 64
)

func numberLen(f Function) int {
	if f == FunctionQR {
		return qrCodeLen
	}
	return cardTokenLen
}

// parseFunctions checks every identifier before anything is written and collapses
// repeats, keeping the order of first mention.
func parseFunctions(fs []Function) ([]Function, error) {
	if len(fs) == 0 {
		return nil, store.Errorf(store.KindInvalid, "no_functions", "name at least one payment function (%s)", describeFunctions()).WithParam("functions")
	}
	var out []Function
	for _, f := range fs {
		g := Function(strings.ToLower(strings.TrimSpace(string(f))))
		if !validFunction(g) {
			return nil, store.Errorf(store.KindInvalid, "unknown_function", "unknown payment function %q; valid functions are %s", string(f), describeFunctions()).WithParam("functions")
		}
		if !containsFunction(out, g) {
			out = append(out, g)
		}
	}
	return out, nil
}

func validFunction(f Function) bool { return containsFunction(Functions, f) }

func containsFunction(fs []Function, f Function) bool {
	for _, g := range fs {
		if g == f {
			return true
		}
	}
	return false
}

// ActivateCard issues one target payment identifier per requested function of a card
// (US12198126B2), all in one transaction: a function that already has an active token
// on the card's device gets that token back; the others get new ones.
func (s *Service) ActivateCard(ctx context.Context, req ActivateRequest) (Activation, error) {
	var out Activation
	err := s.db.Batch(ctx, func(tx *store.Tx) error {
		a, _, err := store.Idempotent(tx, req.IdempotencyKey, "card.activate", req, func() (Activation, error) {
			return s.activate(tx, req)
		})
		out = a
		return err
	})
	return out, err
}

func (s *Service) activate(tx *store.Tx, req ActivateRequest) (Activation, error) {
	fs, err := parseFunctions(req.Functions)
	if err != nil {
		return Activation{}, err
	}
	c, err := liveOwnedCard(tx, req.Card)
	if err != nil {
		return Activation{}, err
	}
	if err := s.cfg.Validate(); err != nil {
		return Activation{}, err
	}
	toks, err := cardTokens(tx, c)
	if err != nil {
		return Activation{}, err
	}
	now := s.now(tx)
	// Decide everything first, so that a refusal leaves the ledger untouched.
	type plan struct {
		keep    *Token
		replace *Token // expired, deleted before the new one is issued
	}
	plans := make([]plan, len(fs))
	for i, f := range fs {
		for _, t := range toks {
			if t.Device != c.Device || t.Function != f {
				continue
			}
			switch {
			case t.Status == TokenSuspended:
				return Activation{}, store.Errorf(store.KindConflict, "token_suspended",
					"the %s token %s of card %s is suspended (%s); resume or delete it first", f, t.ID, c.ID, reasonText(t.Reason)).WithParam("functions")
			case t.Status == TokenActive && !now.Before(t.ExpiresAt):
				plans[i].replace = &t
			case t.Status == TokenActive:
				plans[i].keep = &t
			}
		}
	}
	out := Activation{Card: c.ID, Identifiers: []Token{}}
	for i, f := range fs {
		if p := plans[i]; p.keep != nil {
			out.Identifiers = append(out.Identifiers, *p.keep)
			continue
		}
		if old := plans[i].replace; old != nil {
			if _, err := setState(tx, *old, TokenDeleted, ReasonExpired, now); err != nil {
				return Activation{}, err
			}
		}
		t, err := s.issue(tx, &c, c.Device, f, now)
		if err != nil {
			return Activation{}, err
		}
		out.Identifiers = append(out.Identifiers, t)
	}
	if err := s.saveCard(tx, c, now); err != nil {
		return Activation{}, err
	}
	if err := emitActivation(tx, c.Account, out); err != nil {
		return Activation{}, err
	}
	return out, tx.Audit("card.activate", c.ID, map[string]string{
		"device": c.Device, "functions": functionList(fs, ","), "tokens": joinIDs(out.Identifiers),
	})
}

// DeactivateCard deletes the card's tokens of the functions on its device (reason user)
// and returns them; a function with no token is not an error.
func (s *Service) DeactivateCard(ctx context.Context, req DeactivateRequest) ([]Token, error) {
	var out []Token
	err := s.db.Batch(ctx, func(tx *store.Tx) error {
		ts, _, err := store.Idempotent(tx, req.IdempotencyKey, "card.deactivate", req, func() ([]Token, error) {
			return s.deactivate(tx, req)
		})
		out = ts
		return err
	})
	return orEmpty(out), err
}

func (s *Service) deactivate(tx *store.Tx, req DeactivateRequest) ([]Token, error) {
	fs, err := parseFunctions(req.Functions)
	if err != nil {
		return nil, err
	}
	c, err := ownedCard(tx, req.Card)
	if err != nil {
		return nil, err
	}
	toks, err := cardTokens(tx, c)
	if err != nil {
		return nil, err
	}
	now := s.now(tx)
	out := []Token{}
	for _, f := range fs {
		for _, t := range toks {
			if t.Function != f || t.Status == TokenDeleted {
				continue
			}
			t, err := setState(tx, t, TokenDeleted, ReasonUser, now)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return out, nil
	}
	return out, tx.Audit("card.deactivate", c.ID, map[string]string{"functions": functionList(fs, ","), "tokens": joinIDs(out)})
}

// ListTokens lists a card's tokens, oldest first, deleted ones included; with no card,
// every token the caller may see.
func (s *Service) ListTokens(ctx context.Context, card string, p store.Page) ([]Token, error) {
	if err := p.Check(store.PrefixToken); err != nil {
		return nil, err
	}
	out := []Token{}
	err := s.db.View(ctx, func(tx *store.Tx) error {
		if card != "" {
			c, err := ownedCard(tx, card)
			if err != nil {
				return err
			}
			ts, err := cardTokens(tx, c)
			out = append(out, ts...)
			return err
		}
		if err := requireCardsRole(tx); err != nil {
			return err
		}
		actor := tx.Actor()
		var err error
		out, err = store.ReadPage(tx, store.BucketTokens, p, false, func(t Token) (Token, bool) { return t, actor.Owns(t.Account) })
		return err
	})
	if p != (store.Page{}) {
		// Pages follow the ids, which are time-ordered, so that --after has one meaning.
		slices.SortStableFunc(out, func(a, b Token) int { return strings.Compare(a.ID, b.ID) })
	}
	return store.PageOf(out, p, false, func(t Token) string { return t.ID }), err
}

// GetToken loads a token by id or by number.
func (s *Service) GetToken(ctx context.Context, idOrNumber string) (Token, error) {
	var out Token
	err := s.db.View(ctx, func(tx *store.Tx) (err error) {
		out, err = ownedToken(tx, idOrNumber)
		return err
	})
	return out, err
}

// ChangeToken suspends, resumes or deletes a token. Active and suspended alternate;
// deleted is final; anything else is a conflict.
func (s *Service) ChangeToken(ctx context.Context, req TokenStatusRequest) (Token, error) {
	var out Token
	err := s.db.Batch(ctx, func(tx *store.Tx) error {
		t, _, err := store.Idempotent(tx, req.IdempotencyKey, "token.change", req, func() (Token, error) {
			return s.changeToken(tx, req)
		})
		out = t
		return err
	})
	return out, err
}

func (s *Service) changeToken(tx *store.Tx, req TokenStatusRequest) (Token, error) {
	reason := req.Reason
	if reason == "" {
		reason = ReasonUser
	}
	switch reason {
	case ReasonLost, ReasonStolen, ReasonFraud, ReasonUser:
	default:
		// device_migrated and expired are facts the ledger records itself; a person
		// claiming them would make a payment decline lie about why.
		return Token{}, store.Errorf(store.KindInvalid, "invalid_reason", "reason %q is not one of lost, stolen, fraud, user", req.Reason).WithParam("reason")
	}
	t, err := ownedToken(tx, req.Token)
	if err != nil {
		return Token{}, err
	}
	now := s.now(tx)
	var to TokenStatus
	switch req.Action {
	case ActionSuspend:
		to = TokenSuspended
	case ActionResume:
		to = TokenActive
	case ActionDelete:
		to = TokenDeleted
	default:
		return Token{}, store.Errorf(store.KindInvalid, "invalid_action", "token action %q is not one of suspend, resume, delete", req.Action).WithParam("action")
	}
	if err := checkTransition(t, to); err != nil {
		return Token{}, err
	}
	recorded := reason
	if to == TokenActive {
		if err := s.checkResume(tx, t, now); err != nil {
			return Token{}, err
		}
		recorded = "" // an active token needs no excuse; the audit keeps why it came back
	}
	t, err = setState(tx, t, to, recorded, now)
	if err != nil {
		return Token{}, err
	}
	if err := emitToken(tx, req.Action, t); err != nil {
		return Token{}, err
	}
	return t, tx.Audit("token."+string(req.Action), t.ID, map[string]string{"card": t.Card, "reason": string(reason)})
}

// checkTransition allows active → suspended → active and any live state → deleted.
func checkTransition(t Token, to TokenStatus) error {
	if t.Status == TokenDeleted {
		return store.Errorf(store.KindConflict, "token_deleted", "token %s is deleted (%s); a deleted token never changes again", t.ID, reasonText(t.Reason)).WithParam("token")
	}
	if t.Status == to {
		return store.Errorf(store.KindConflict, "token_already_"+string(to), "token %s is already %s", t.ID, to).WithParam("token")
	}
	if t.Status != TokenActive && t.Status != TokenSuspended {
		return store.Errorf(store.KindCorrupt, "ledger_corrupt", "token %s has unknown state %q", t.ID, t.Status)
	}
	return nil
}

// checkResume keeps a resumed token from breaking the one-active-token rule or paying
// with a card or device it no longer belongs to.
func (s *Service) checkResume(tx *store.Tx, t Token, now time.Time) error {
	if !now.Before(t.ExpiresAt) {
		return store.Errorf(store.KindConflict, "token_expired", "token %s expired on %s; activate the function again for a new one", t.ID, t.ExpiresAt.Format(time.DateOnly)).WithParam("token")
	}
	c, err := loadCard(tx, t.Card)
	if err != nil {
		return err
	}
	if c.Status != CardActive {
		return store.Errorf(store.KindConflict, "card_removed", "card %s is %s", c.ID, c.Status).WithParam("token")
	}
	if c.Device != t.Device {
		return store.Errorf(store.KindConflict, "token_off_device", "token %s is bound to device %s but card %s is now on %s", t.ID, t.Device, c.ID, c.Device).WithParam("token")
	}
	toks, err := cardTokens(tx, c)
	if err != nil {
		return err
	}
	for _, o := range toks {
		if o.ID != t.ID && o.Status == TokenActive && o.Device == t.Device && o.Function == t.Function {
			return store.Errorf(store.KindConflict, "function_active", "card %s already has an active %s token %s on device %s", c.ID, t.Function, o.ID, t.Device).WithParam("token")
		}
	}
	return nil
}

// setState writes a token's new state.
func setState(tx *store.Tx, t Token, to TokenStatus, reason Reason, now time.Time) (Token, error) {
	t.Status, t.Reason, t.UpdatedAt = to, reason, now
	return t, tx.Put(store.BucketTokens, t.ID, t)
}

// issue creates a new active token of card c on device for function f and records it on
// the card; the caller saves the card.
func (s *Service) issue(tx *store.Tx, c *cardRecord, device string, f Function, now time.Time) (Token, error) {
	number, err := s.drawNumber(tx, f, c.PANHash)
	if err != nil {
		return Token{}, err
	}
	t := Token{
		ID: store.NewID(store.PrefixToken), Number: number, Card: c.ID, Account: c.Account,
		Device: device, Function: f, Status: TokenActive, ExpiresAt: now.Add(s.cfg.TokenTTL),
		CreatedAt: now, UpdatedAt: now,
	}
	if err := tx.Put(store.BucketTokens, t.ID, t); err != nil {
		return Token{}, err
	}
	if err := tx.PutRaw(store.BucketTokenIndex, number, []byte(t.ID)); err != nil {
		return Token{}, err
	}
	c.Tokens = append(c.Tokens, t.ID)
	return t, nil
}

// drawNumber picks a number no token of the ledger has ever had (deleted tokens keep
// theirs, so a number never comes back) and that differs from the card's own PAN.
func (s *Service) drawNumber(tx *store.Tx, f Function, cardPANHash string) (string, error) {
	n := numberLen(f)
	for range maxDraws {
		payload, err := randomDigits(s.random, s.cfg.BIN, n-1)
		if err != nil {
			return "", err
		}
		number := payload + string(luhnCheckDigit(payload))
		if tx.GetRaw(store.BucketTokenIndex, number) != nil {
			continue
		}
		if cardPANHash != "" {
			h, err := panHash(tx, number)
			if err != nil {
				return "", err
			}
			if h == cardPANHash {
				continue
			}
		}
		return number, nil
	}
	return "", store.Errorf(store.KindUnavailable, "token_range_exhausted", "no free %s token number found in BIN %s after %d draws", f, s.cfg.BIN, maxDraws)
}

// randomDigits extends prefix with uniformly random digits up to length n.
func randomDigits(r io.Reader, prefix string, n int) (string, error) {
	out := make([]byte, 0, n)
	out = append(out, prefix...)
	var buf [1]byte
	for len(out) < n {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", fmt.Errorf("reading random digits: %w", err)
		}
		if buf[0] >= 250 { // 250 = 25 × 10: reject the tail so every digit is equally likely
			continue
		}
		out = append(out, '0'+buf[0]%10)
	}
	return string(out), nil
}

// cardTokens loads every token ever issued to the card, oldest first.
func cardTokens(tx *store.Tx, c cardRecord) ([]Token, error) {
	out := make([]Token, 0, len(c.Tokens))
	for _, id := range c.Tokens {
		t, err := store.Load[Token](tx, store.BucketTokens, id, "token")
		if err != nil {
			return nil, fmt.Errorf("card %s lists token %s: %w", c.ID, id, err)
		}
		out = append(out, t)
	}
	return out, nil
}

func (s *Service) saveCard(tx *store.Tx, c cardRecord, now time.Time) error {
	c.UpdatedAt = now
	return tx.Put(store.BucketCards, c.ID, c)
}

// liveOwnedCard is a card the actor owns that may still get tokens.
func liveOwnedCard(tx *store.Tx, id string) (cardRecord, error) {
	c, err := ownedCard(tx, id)
	if err != nil {
		return c, err
	}
	if c.Status != CardActive {
		return c, store.Errorf(store.KindConflict, "card_removed", "card %s is %s", c.ID, c.Status).WithParam("card")
	}
	return c, nil
}

// lookupToken finds a token by id or number without checking who asks.
func lookupToken(tx *store.Tx, idOrNumber string) (Token, bool, error) {
	id := idOrNumber
	if !store.ValidID(id, store.PrefixToken) {
		if !allDigits(idOrNumber) {
			return Token{}, false, nil
		}
		raw := tx.GetRaw(store.BucketTokenIndex, idOrNumber)
		if raw == nil {
			return Token{}, false, nil
		}
		id = string(raw)
	}
	var t Token
	found, err := tx.Get(store.BucketTokens, id, &t)
	return t, found, err
}

// ownedToken is a token the actor may see. Someone else's token looked up by number is
// reported as not found, so that numbers cannot be probed for existence.
func ownedToken(tx *store.Tx, idOrNumber string) (Token, error) {
	if err := requireCardsRole(tx); err != nil {
		return Token{}, err
	}
	notFound := store.Errorf(store.KindNotFound, "token_not_found", "token %q not found", idOrNumber).WithParam("token")
	t, found, err := lookupToken(tx, idOrNumber)
	if err != nil {
		return Token{}, err
	}
	if !found {
		return Token{}, notFound
	}
	if !tx.Actor().Owns(t.Account) {
		if t.ID != idOrNumber {
			return Token{}, notFound
		}
		return Token{}, tx.RequireOwner(t.Account)
	}
	return t, nil
}

func functionList(fs []Function, sep string) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = string(f)
	}
	return strings.Join(names, sep)
}

// reasonText says a reason in the words of a decline message.
func reasonText(r Reason) string {
	switch r {
	case ReasonMigrated:
		return "card migrated to another device"
	case ReasonUser:
		return "at the user's request"
	case "":
		return "no reason given"
	}
	return string(r)
}
