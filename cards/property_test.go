package cards

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/store"
)

// TestTenThousandTokensAreUniqueAndLuhnValid issues 10,000 tokens (2,500 cards × 4
// functions) in a handful of transactions, through the same code as ActivateCard.
func TestTenThousandTokensAreUniqueAndLuhnValid(t *testing.T) {
	t.Parallel()
	const cardsPerTx, txs = 500, 5
	e := newEnv(t)
	alice := e.person("alice")
	phone := e.login(alice)
	for i := range txs {
		err := e.db.Update(e.admin, func(tx *store.Tx) error {
			for j := range cardsPerTx {
				c, err := e.s.addCard(tx, AddCardRequest{Account: alice, Device: phone, Label: fmt.Sprintf("card %d", i*cardsPerTx+j)}, "")
				if err != nil {
					return err
				}
				if _, err := e.s.activate(tx, ActivateRequest{Card: c.ID, Functions: Functions}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	all := e.tokens("")
	if len(all) != cardsPerTx*txs*len(Functions) {
		t.Fatalf("issued %d tokens, want %d", len(all), cardsPerTx*txs*len(Functions))
	}
	seen := make(map[string]string, len(all))
	for _, tok := range all {
		if other, dup := seen[tok.Number]; dup {
			t.Fatalf("tokens %s and %s share number %s", other, tok.ID, tok.Number)
		}
		seen[tok.Number] = tok.ID
		if len(tok.Number) != numberLen(tok.Function) || !LuhnValid(tok.Number) || !strings.HasPrefix(tok.Number, DefaultBIN) {
			t.Fatalf("%s token number %q is malformed", tok.Function, tok.Number)
		}
	}
}
