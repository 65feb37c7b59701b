package store

import (
	"strings"
	"time"
)

// AccountKind says who holds an account.
type AccountKind string

const (
	AccountPerson   AccountKind = "person"
	AccountMerchant AccountKind = "merchant"
	AccountWorld    AccountKind = "world" // one per currency: the outside world that funds top-ups
)

// Account is a balance in one currency.
type Account struct {
	ID        string      `json:"id"`
	Name      string      `json:"name"`
	Kind      AccountKind `json:"kind"`
	Currency  string      `json:"currency"`
	Balance   int64       `json:"balance"` // minor units
	CreatedAt time.Time   `json:"created_at"`
}

// BalanceMoney is the balance with its currency.
func (a Account) BalanceMoney() Money { return Money{Amount: a.Balance, Currency: a.Currency} }

// NewAccount is what a caller supplies to create an account.
type NewAccount struct {
	Name     string      `json:"name"`
	Kind     AccountKind `json:"kind"`
	Currency string      `json:"currency"`
}

// maxAccountName is the longest account name, in characters.
const maxAccountName = 200

// CreateAccount adds a person or merchant account.
func (tx *Tx) CreateAccount(n NewAccount) (Account, error) {
	if err := tx.RequireRole(); err != nil { // only admins create accounts
		return Account{}, err
	}
	name := strings.TrimSpace(n.Name)
	if name == "" {
		return Account{}, Errorf(KindInvalid, "invalid_name", "an account needs a name of 1 to %d characters", maxAccountName).WithParam("name")
	}
	if err := CheckText("name", name, maxAccountName); err != nil {
		return Account{}, err
	}
	if n.Kind != AccountPerson && n.Kind != AccountMerchant {
		return Account{}, Errorf(KindInvalid, "invalid_kind", "account kind %q is not person or merchant", n.Kind).WithParam("kind")
	}
	cur, err := NormalizeCurrency(n.Currency)
	if err != nil {
		return Account{}, err
	}
	a := Account{ID: NewID(PrefixAccount), Name: name, Kind: n.Kind, Currency: cur, CreatedAt: tx.now}
	if err := tx.Put(BucketAccounts, a.ID, a); err != nil {
		return Account{}, err
	}
	return a, tx.Audit("account.create", a.ID, map[string]string{"kind": string(a.Kind), "currency": cur})
}

// Account loads one account, checking the actor may see it.
func (tx *Tx) Account(id string) (Account, error) {
	a, err := tx.AccountUnchecked(id)
	if err != nil {
		return a, err
	}
	return a, tx.RequireOwner(id)
}

// AccountUnchecked loads an account without checking ownership, for rules that need to
// look at the other side of a payment (a payer must see which merchant it pays).
func (tx *Tx) AccountUnchecked(id string) (Account, error) {
	if !ValidID(id, PrefixAccount) {
		return Account{}, Errorf(KindNotFound, "account_not_found", "account %q not found", id).WithParam("account")
	}
	if a, ok := tx.accounts[id]; ok {
		return a, nil
	}
	a, err := Load[Account](tx, BucketAccounts, id, "account")
	if err != nil {
		return a, err
	}
	if tx.accounts == nil {
		tx.accounts = map[string]Account{}
	}
	tx.accounts[id] = a
	return a, nil
}

// Accounts lists the accounts the actor may see, oldest first, at most p.Limit (0: all)
// after p.After; world accounts only for admins.
func (tx *Tx) Accounts(p Page) ([]Account, error) {
	actor := tx.Actor()
	return ReadPage(tx, BucketAccounts, p, false, func(a Account) (Account, bool) { return a, actor.Owns(a.ID) })
}

// WorldAccount returns the world account of a currency, creating it on first use.
func (tx *Tx) WorldAccount(currency string) (Account, error) {
	if id := tx.GetRaw(BucketWorld, currency); id != nil {
		return Load[Account](tx, BucketAccounts, string(id), "account")
	}
	a := Account{ID: NewID(PrefixAccount), Name: "world " + currency, Kind: AccountWorld, Currency: currency, CreatedAt: tx.now}
	if err := tx.Put(BucketAccounts, a.ID, a); err != nil {
		return Account{}, err
	}
	return a, tx.PutRaw(BucketWorld, currency, []byte(a.ID))
}
