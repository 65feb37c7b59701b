package store

import (
	"context"
	"strings"
)

// CreateAccountRequest asks for a person or merchant account.
type CreateAccountRequest struct {
	Name           string      `json:"name"`
	Kind           AccountKind `json:"kind"`
	Currency       string      `json:"currency"`
	IdempotencyKey string      `json:"-"`
}

// FundRequest tops an account up from the world account; Amount is typed by a person
// ("12.50", "12.50 EUR") and read in the account's currency.
type FundRequest struct {
	Account        string `json:"account"`
	Amount         string `json:"amount"`
	IdempotencyKey string `json:"-"`
}

// CreateAccount creates an account in one transaction.
func (db *DB) CreateAccount(ctx context.Context, req CreateAccountRequest) (Account, error) {
	var out Account
	err := db.Batch(ctx, func(tx *Tx) error {
		a, _, err := Idempotent(tx, req.IdempotencyKey, "account.create", req, func() (Account, error) {
			return tx.CreateAccount(NewAccount{Name: req.Name, Kind: req.Kind, Currency: req.Currency})
		})
		out = a
		return err
	})
	return out, err
}

// ListAccounts lists the accounts the caller may see, oldest first, a page at a time.
func (db *DB) ListAccounts(ctx context.Context, p Page) ([]Account, error) {
	if err := p.Check(PrefixAccount); err != nil {
		return nil, err
	}
	var out []Account
	err := db.View(ctx, func(tx *Tx) (err error) {
		out, err = tx.Accounts(p)
		return err
	})
	return out, err
}

// GetAccount loads one account.
func (db *DB) GetAccount(ctx context.Context, id string) (Account, error) {
	var out Account
	err := db.View(ctx, func(tx *Tx) (err error) {
		out, err = tx.Account(id)
		return err
	})
	return out, err
}

// FundAccount moves money from the world into an account.
func (db *DB) FundAccount(ctx context.Context, req FundRequest) (Transfer, error) {
	var out Transfer
	err := db.Batch(ctx, func(tx *Tx) error {
		params := req
		params.Amount = tx.NormalizeAmount(req.Account, req.Amount)
		t, _, err := Idempotent(tx, req.IdempotencyKey, "account.fund", params, func() (Transfer, error) {
			acct, err := tx.Account(req.Account)
			if err != nil {
				return Transfer{}, err
			}
			amount, err := ParseAmount(req.Amount, acct.Currency)
			if err != nil {
				return Transfer{}, err
			}
			return tx.Fund(acct.ID, amount)
		})
		out = t
		return err
	})
	return out, err
}

// Journal lists transfers newest first, a page at a time.
func (db *DB) Journal(ctx context.Context, p Page) ([]Transfer, error) {
	if err := p.Check(PrefixTransfer); err != nil {
		return nil, err
	}
	var out []Transfer
	err := db.View(ctx, func(tx *Tx) (err error) {
		out, err = tx.Journal(p)
		return err
	})
	return out, err
}

// Page is one page of a list: at most Limit items (0: all, up to MaxLimit), the ones
// listed after the item After (the last id of the previous page). Ids are time-ordered,
// so a page boundary stays put while new items arrive.
type Page struct {
	Limit int    `json:"limit,omitempty"`
	After string `json:"after,omitempty"`
}

// Check refuses a page size out of range and a cursor that is not an id of prefix.
func (p Page) Check(prefix string) error {
	if err := CheckLimit(p.Limit); err != nil {
		return err
	}
	return CheckFilterID("after", p.After, prefix)
}

// PageOf cuts one page out of items listed in id order (newestFirst: descending).
func PageOf[T any](items []T, p Page, newestFirst bool, id func(T) string) []T {
	if p.After != "" {
		start := len(items)
		for i, it := range items {
			if newestFirst && id(it) < p.After || !newestFirst && id(it) > p.After {
				start = i
				break
			}
		}
		items = items[start:]
	}
	if p.Limit > 0 && len(items) > p.Limit {
		items = items[:p.Limit]
	}
	return items
}

// MaxLimit bounds one page of any list, so that no single request walks the whole
// ledger on a server.
const MaxLimit = 10000

// CheckLimit refuses a page size outside 0 (everything, up to MaxLimit) to MaxLimit.
func CheckLimit(limit int) error {
	if limit < 0 || limit > MaxLimit {
		return Errorf(KindInvalid, "invalid_limit", "limit %d is not a whole number from 0 to %d", limit, MaxLimit).WithParam("limit")
	}
	return nil
}

// NormalizeAmount is an amount as an idempotency key compares it: its value in the
// account's currency ("5", "5.00" and "5.00 EUR" alike), or the text as typed when it
// does not parse (the operation itself then refuses it).
func (tx *Tx) NormalizeAmount(account, text string) string {
	if strings.TrimSpace(text) == "" {
		return ""
	}
	a, err := tx.AccountUnchecked(account)
	if err != nil {
		return text
	}
	m, err := ParseAmount(text, a.Currency)
	if err != nil {
		return text
	}
	return m.String()
}

// CheckFilterID refuses a list filter that cannot name an object of its kind, so that a
// mangled id is an error rather than an empty list; "" is no filter.
func CheckFilterID(param, value, prefix string) error {
	if value == "" || ValidID(value, prefix) {
		return nil
	}
	if len(value) > 64 {
		value = value[:64] + "…"
	}
	return Errorf(KindInvalid, "invalid_parameter", "%s %q is not an id of the form %s_…", param, value, prefix).WithParam(param)
}
