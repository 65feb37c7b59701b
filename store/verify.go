package store

import (
	"fmt"
	"sort"
)

// Violation is one broken invariant found by a verify pass.
type Violation struct {
	Check   string `json:"check"`
	Subject string `json:"subject"`
	Message string `json:"message"`
}

func (v Violation) String() string { return v.Check + ": " + v.Subject + ": " + v.Message }

// VerifyLedger checks the money invariants: each transfer's postings balance
// and match it; each balance equals the sum of its postings; the balances of a currency
// sum to zero; only world accounts are negative; the engine finds its own storage
// consistent (bbolt: the file's pages; PostgreSQL: no rows outside the declared buckets).
// Admins only.
func VerifyLedger(tx *Tx) ([]Violation, error) {
	if err := tx.RequireRole(); err != nil {
		return nil, err
	}
	var out []Violation
	add := func(check, subject, format string, args ...any) {
		out = append(out, Violation{Check: check, Subject: subject, Message: fmt.Sprintf(format, args...)})
	}
	found, err := tx.etx.check()
	if err != nil {
		return nil, tx.fail(err)
	}
	out = append(out, found...)
	accounts := map[string]Account{}
	err = Each(tx, BucketAccounts, "", false, func(key string, a Account) error {
		if key != a.ID {
			add("account_key", key, "stored under the key of another id %s", a.ID)
		}
		accounts[a.ID] = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	sums := map[string]int64{}
	err = Each(tx, BucketTransfers, "", false, func(key string, t Transfer) error {
		p := t.Postings
		if p[0].Amount+p[1].Amount != 0 {
			add("postings_balance", t.ID, "postings sum to %d, not 0", p[0].Amount+p[1].Amount)
		}
		if p[0].Account != t.From || p[1].Account != t.To || p[1].Amount != t.Amount.Amount || t.Amount.Amount <= 0 {
			add("postings_match", t.ID, "postings do not match the transfer of %s from %s to %s", t.Amount, t.From, t.To)
		}
		for _, ps := range p {
			a, ok := accounts[ps.Account]
			if !ok {
				add("posting_account", t.ID, "posts to unknown account %s", ps.Account)
				continue
			}
			if a.Currency != t.Amount.Currency {
				add("posting_currency", t.ID, "posts %s to account %s in %s", t.Amount.Currency, a.ID, a.Currency)
			}
			sums[ps.Account] += ps.Amount
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	perCurrency := map[string]int64{}
	ids := make([]string, 0, len(accounts))
	for id := range accounts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		a := accounts[id]
		if a.Balance != sums[id] {
			add("balance_matches_postings", id, "balance %d differs from the sum of its postings %d", a.Balance, sums[id])
		}
		if a.Balance < 0 && a.Kind != AccountWorld {
			add("no_negative_balance", id, "%s account has a negative balance %s", a.Kind, a.BalanceMoney())
		}
		perCurrency[a.Currency] += a.Balance
	}
	curs := make([]string, 0, len(perCurrency))
	for c := range perCurrency {
		curs = append(curs, c)
	}
	sort.Strings(curs)
	for _, c := range curs {
		if perCurrency[c] != 0 {
			add("currency_sums_to_zero", c, "balances in %s sum to %d, not 0", c, perCurrency[c])
		}
	}
	return out, nil
}
