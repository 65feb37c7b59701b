package store

import (
	"math"
	"time"
)

// TransferKind says why money moved.
type TransferKind string

const (
	TransferTopUp   TransferKind = "topup"
	TransferPayment TransferKind = "payment"
	TransferRefund  TransferKind = "refund"
)

// Posting is one side of a transfer: a signed change of one account's balance.
type Posting struct {
	Account string `json:"account"`
	Amount  int64  `json:"amount"` // negative: debit, positive: credit
}

// Transfer moves money between two accounts of one currency: two postings that sum to zero.
type Transfer struct {
	ID        string       `json:"id"`
	Kind      TransferKind `json:"kind"`
	From      string       `json:"from"`
	To        string       `json:"to"`
	Amount    Money        `json:"amount"`
	Ref       string       `json:"ref,omitempty"` // the order or refund it belongs to
	Memo      string       `json:"memo,omitempty"`
	Postings  [2]Posting   `json:"postings"`
	CreatedAt time.Time    `json:"created_at"`
}

// TransferSpec is what a domain rule asks to move.
type TransferSpec struct {
	Kind   TransferKind
	From   string
	To     string
	Amount Money
	Ref    string
	Memo   string
}

// Transfer posts a balanced transfer. It checks everything before it writes: accounts
// exist, currencies agree, the amount is positive, the source (unless a world account)
// has the funds, and no balance overflows.
func (tx *Tx) Transfer(s TransferSpec) (Transfer, error) {
	if s.Amount.Amount <= 0 {
		return Transfer{}, Errorf(KindInvalid, "invalid_amount", "a transfer needs a positive amount").WithParam("amount")
	}
	if s.From == s.To {
		return Transfer{}, Errorf(KindDeclined, "same_account", "payer and payee are the same account")
	}
	// Read (on PostgreSQL: lock) the two accounts in id order, so that two opposite
	// transfers between the same accounts queue instead of deadlocking.
	first, second := s.From, s.To
	if second < first {
		first, second = second, first
	}
	a1, err1 := tx.AccountUnchecked(first)
	a2, err2 := tx.AccountUnchecked(second)
	from, errFrom, to, errTo := a1, err1, a2, err2
	if first != s.From {
		from, errFrom, to, errTo = a2, err2, a1, err1
	}
	if errFrom != nil {
		return Transfer{}, errFrom
	}
	if errTo != nil {
		return Transfer{}, errTo
	}
	for _, a := range []Account{from, to} {
		if a.Currency != s.Amount.Currency {
			return Transfer{}, Errorf(KindDeclined, "currency_mismatch", "account %s holds %s, the amount is in %s", a.ID, a.Currency, s.Amount.Currency)
		}
	}
	if from.Kind != AccountWorld && from.Balance < s.Amount.Amount {
		return Transfer{}, Errorf(KindDeclined, "insufficient_funds", "insufficient funds: account %s holds %s, %s needed", from.ID, from.BalanceMoney(), s.Amount)
	}
	if to.Balance > math.MaxInt64-s.Amount.Amount || from.Balance < math.MinInt64+s.Amount.Amount {
		return Transfer{}, Errorf(KindInvalid, "amount_overflow", "amount %s would overflow a balance", s.Amount).WithParam("amount")
	}
	t := Transfer{
		ID: tx.NewID(PrefixTransfer), Kind: s.Kind, From: from.ID, To: to.ID, Amount: s.Amount,
		Ref: s.Ref, Memo: s.Memo, CreatedAt: tx.now,
		Postings: [2]Posting{{Account: from.ID, Amount: -s.Amount.Amount}, {Account: to.ID, Amount: s.Amount.Amount}},
	}
	from.Balance -= s.Amount.Amount
	to.Balance += s.Amount.Amount
	if err := tx.Put(BucketAccounts, from.ID, from); err != nil {
		return Transfer{}, err
	}
	if err := tx.Put(BucketAccounts, to.ID, to); err != nil {
		return Transfer{}, err
	}
	return t, tx.Put(BucketTransfers, t.ID, t)
}

// Fund tops an account up from its currency's world account.
func (tx *Tx) Fund(accountID string, amount Money) (Transfer, error) {
	if err := tx.RequireRole(); err != nil { // money from outside: admins only
		return Transfer{}, err
	}
	acct, err := tx.Account(accountID)
	if err != nil {
		return Transfer{}, err
	}
	if acct.Kind == AccountWorld {
		return Transfer{}, Errorf(KindInvalid, "invalid_account", "a world account cannot be funded").WithParam("account")
	}
	if amount.Currency != acct.Currency {
		return Transfer{}, Errorf(KindInvalid, "currency_mismatch", "account %s holds %s, the amount is in %s", acct.ID, acct.Currency, amount.Currency).WithParam("amount")
	}
	world, err := tx.WorldAccount(acct.Currency)
	if err != nil {
		return Transfer{}, err
	}
	t, err := tx.Transfer(TransferSpec{Kind: TransferTopUp, From: world.ID, To: acct.ID, Amount: amount})
	if err != nil {
		return t, err
	}
	if err := tx.Emit("account.funded", acct.ID, t, acct.ID); err != nil {
		return t, err
	}
	return t, tx.Audit("account.fund", acct.ID, map[string]string{"transfer": t.ID, "amount": amount.String()})
}

// TransferByID loads one transfer.
func (tx *Tx) TransferByID(id string) (Transfer, error) {
	return Load[Transfer](tx, BucketTransfers, id, "transfer")
}

// Journal lists transfers newest first, those touching an account the actor owns: at
// most p.Limit (0: all), older than p.After.
func (tx *Tx) Journal(p Page) ([]Transfer, error) {
	actor := tx.Actor()
	return ReadPage(tx, BucketTransfers, p, true, func(t Transfer) (Transfer, bool) {
		return t, actor.Owns(t.From) || actor.Owns(t.To)
	})
}
