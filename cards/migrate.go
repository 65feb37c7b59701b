package cards

import (
	"context"
	"strings"

	"github.com/tagpay/tagpay/store"
)

// MigrateCard moves the card bound to an old device of the account onto the device in
// hand (US11875336B2). To must be logged in now and From must be in the account's login
// history. In one transaction every live token of the card on From is deleted (reason
// device_migrated: it can never pay again), the card is rebound to To, fresh tokens are
// issued on To, and an audit event records it all.
//
// Only functions whose token was active get a fresh token. A suspended token was stopped
// for a reason (lost, stolen, fraud, the user); a migration must not quietly bring that
// function back, so it is deleted with the rest and can be activated again on purpose.
func (s *Service) MigrateCard(ctx context.Context, req MigrateRequest) (Migration, error) {
	var out Migration
	err := s.db.Batch(ctx, func(tx *store.Tx) error {
		m, _, err := store.Idempotent(tx, req.IdempotencyKey, "card.migrate", req, func() (Migration, error) {
			return s.migrate(tx, req)
		})
		out = m
		return err
	})
	return out, err
}

func (s *Service) migrate(tx *store.Tx, req MigrateRequest) (Migration, error) {
	acct, err := personAccount(tx, req.Account)
	if err != nil {
		return Migration{}, err
	}
	if err := checkDeviceID(req.From, "from"); err != nil {
		return Migration{}, err
	}
	if err := checkDeviceID(req.To, "to"); err != nil {
		return Migration{}, err
	}
	if req.From == req.To {
		return Migration{}, store.Errorf(store.KindInvalid, "same_device", "device %s is both source and target; pick the old device to migrate from", req.From).WithParam("from")
	}
	in, err := loggedInNow(tx, acct.ID, req.To)
	if err != nil {
		return Migration{}, err
	}
	if !in {
		return Migration{}, store.Errorf(store.KindConflict, "target_not_logged_in", "account %s is not logged in on device %s; a card can only move to a device the account is logged in on now", acct.ID, req.To).WithParam("to")
	}
	// A device that is not in the history is refused with the same words whether or not
	// it exists, so another account's devices cannot be discovered this way.
	if _, found, err := loadLogin(tx, acct.ID, req.From); err != nil {
		return Migration{}, err
	} else if !found {
		return Migration{}, store.Errorf(store.KindNotFound, "source_not_in_history", "device %s is not among the devices account %s has logged in on", req.From, acct.ID).WithParam("from")
	}
	c, err := cardOnSource(tx, acct.ID, req.From, req.Card)
	if err != nil {
		return Migration{}, err
	}
	if err := s.cfg.Validate(); err != nil {
		return Migration{}, err
	}
	toks, err := cardTokens(tx, c)
	if err != nil {
		return Migration{}, err
	}

	now := s.now(tx)
	out := Migration{Card: c.ID, From: req.From, To: req.To, Deleted: []Token{}, Issued: []Token{}}
	var wasActive []Function
	for _, t := range toks {
		if t.Device != req.From || t.Status == TokenDeleted {
			continue
		}
		if t.Status == TokenActive && !containsFunction(wasActive, t.Function) {
			wasActive = append(wasActive, t.Function)
		}
		t, err := setState(tx, t, TokenDeleted, ReasonMigrated, now)
		if err != nil {
			return Migration{}, err
		}
		out.Deleted = append(out.Deleted, t)
	}
	c.Device = req.To
	for _, f := range Functions { // a stable order, whatever order the old tokens came in
		if !containsFunction(wasActive, f) {
			continue
		}
		t, err := s.issue(tx, &c, req.To, f, now)
		if err != nil {
			return Migration{}, err
		}
		out.Issued = append(out.Issued, t)
	}
	if err := s.saveCard(tx, c, now); err != nil {
		return Migration{}, err
	}
	detail := map[string]string{
		"account": acct.ID, "from": req.From, "to": req.To,
		"deleted": joinIDs(out.Deleted), "issued": joinIDs(out.Issued),
	}
	out.Event, err = tx.AuditID("card.migrate", c.ID, detail)
	if err == nil {
		err = emitMigration(tx, acct.ID, out)
	}
	return out, err
}

// cardOnSource picks the live card of the account bound to device from: the one named,
// or the only one.
func cardOnSource(tx *store.Tx, account, from, named string) (cardRecord, error) {
	var onSource []cardRecord
	err := store.Each(tx, store.BucketCards, "", false, func(_ string, c cardRecord) error {
		if c.Account == account && c.Device == from && c.Status == CardActive {
			onSource = append(onSource, c)
		}
		return nil
	})
	if err != nil {
		return cardRecord{}, err
	}
	if named != "" {
		for _, c := range onSource {
			if c.ID == named {
				return c, nil
			}
		}
		return cardRecord{}, store.Errorf(store.KindNotFound, "no_card_on_source", "account %s has no card %s bound to device %s", account, named, from).WithParam("card")
	}
	switch len(onSource) {
	case 0:
		return cardRecord{}, store.Errorf(store.KindNotFound, "no_card_on_source", "account %s has no card bound to device %s", account, from).WithParam("from")
	case 1:
		return onSource[0], nil
	}
	ids := make([]string, len(onSource))
	for i, c := range onSource {
		ids[i] = c.ID + " (" + c.Label + ")"
	}
	return cardRecord{}, store.Errorf(store.KindInvalid, "card_required", "device %s holds %d cards of account %s; name the one to migrate: %s", from, len(onSource), account, strings.Join(ids, ", ")).WithParam("card")
}
