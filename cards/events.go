package cards

import (
	"github.com/tagpay/tagpay/events"
	"github.com/tagpay/tagpay/store"
)

// An event goes to every owner of the account and to webhooks, so the tokens it carries
// show only their last four digits: a whole token number pays.
func eventToken(t Token) Token {
	if n := len(t.Number); n > 4 {
		t.Number = "…" + t.Number[n-4:]
	}
	return t
}

func eventTokens(ts []Token) []Token {
	out := make([]Token, len(ts))
	for i, t := range ts {
		out[i] = eventToken(t)
	}
	return out
}

func emitActivation(tx *store.Tx, account string, a Activation) error {
	a.Identifiers = eventTokens(a.Identifiers)
	return tx.Emit(events.CardActivated, a.Card, a, account)
}

func emitMigration(tx *store.Tx, account string, m Migration) error {
	m.Deleted, m.Issued = eventTokens(m.Deleted), eventTokens(m.Issued)
	return tx.Emit(events.CardMigrated, m.Card, m, account)
}

func emitToken(tx *store.Tx, action TokenAction, t Token) error {
	typ := map[TokenAction]string{ActionSuspend: events.TokenSuspended, ActionResume: events.TokenResumed, ActionDelete: events.TokenDeleted}[action]
	return tx.Emit(typ, t.ID, eventToken(t), t.Account)
}
