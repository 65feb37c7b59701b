package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// batchOutcome is what one Batch call saw: its error and the engine transaction its last
// run belonged to (fn may run twice; the last run is the one that counted). bbolt's
// transaction ids cannot tell runs apart, as a rolled-back transaction's id is used
// again; the transactions themselves can, and keeping them here keeps them distinct.
type batchOutcome struct {
	err error
	tx  engineTx
}

// payAll starts one Batch call per payer at the same instant, each paying amount to
// payee, and returns what each saw.
func payAll(db *DB, payers []Account, payee Account, amount int64) []batchOutcome {
	out := make([]batchOutcome, len(payers))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, p := range payers {
		wg.Go(func() {
			<-start
			out[i].err = db.Batch(bg, func(tx *Tx) error {
				out[i].tx = tx.etx
				_, err := tx.Transfer(TransferSpec{Kind: TransferPayment, From: p.ID, To: payee.ID, Amount: Money{amount, "EUR"}})
				return err
			})
		})
	}
	close(start)
	wg.Wait()
	return out
}

// A declined payment in a batch is handed back to its caller alone; the payments that
// shared its transaction commit.
func TestBatchCommitsSuccessesBesideDeclines(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		shop := newAccount(t, db, "Shop", AccountMerchant, "EUR")
		const payers = 24
		mixed := false
		for round := 0; round < 5 && !mixed; round++ {
			var accounts []Account
			rich := map[string]bool{}
			for i := range payers {
				funds := int64(0)
				if i%3 != 0 {
					funds = 100
				}
				a := fundedAccount(t, db, fmt.Sprintf("payer %d.%d", round, i), "EUR", funds)
				accounts = append(accounts, a)
				rich[a.ID] = funds > 0
			}
			shopBefore := balance(t, db, shop.ID)
			transfersBefore := countTransfers(t, db)

			outcomes := payAll(db, accounts, shop, 60)

			paid := 0
			declinedIn, paidIn := map[engineTx]bool{}, map[engineTx]bool{}
			for i, o := range outcomes {
				a := accounts[i]
				switch {
				case rich[a.ID] && o.err == nil:
					paid++
					paidIn[o.tx] = true
					if got := balance(t, db, a.ID); got != 40 {
						t.Errorf("payer %s holds %d after paying 60 of 100", a.ID, got)
					}
				case !rich[a.ID] && CodeOf(o.err) == "insufficient_funds" && KindOf(o.err) == KindDeclined:
					declinedIn[o.tx] = true
					if got := balance(t, db, a.ID); got != 0 {
						t.Errorf("declined payer %s holds %d", a.ID, got)
					}
				default:
					t.Errorf("payer %s (funded %v): %v", a.ID, rich[a.ID], o.err)
				}
			}
			if got := balance(t, db, shop.ID) - shopBefore; got != int64(paid*60) {
				t.Errorf("shop received %d, want %d from %d payments", got, paid*60, paid)
			}
			if got := countTransfers(t, db) - transfersBefore; got != paid {
				t.Errorf("%d transfers written, want %d: a decline wrote a transfer", got, paid)
			}
			for id := range paidIn {
				mixed = mixed || declinedIn[id]
			}
		}
		// Only bbolt shares commits; on PostgreSQL each call is a transaction of its own.
		if !mixed && e.name == "bbolt" {
			t.Error("in 5 rounds no decline shared a committed transaction with a success: declines fail their batch")
		}
		verifyClean(t, db)
	})
}

// A call that fails after it wrote is taken out of the shared transaction and run alone,
// so its writes vanish and the others still commit.
func TestBatchIsolatesCallsThatFailAfterWriting(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		shop := newAccount(t, db, "Shop", AccountMerchant, "EUR")
		var payers []Account
		for i := range 8 {
			payers = append(payers, fundedAccount(t, db, fmt.Sprint("payer ", i), "EUR", 100))
		}
		lateRefusal := Errorf(KindDeclined, "late_refusal", "refused after writing")
		broken := errors.New("disk on fire")
		errs := make([]error, len(payers))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, p := range payers {
			wg.Go(func() {
				<-start
				errs[i] = db.Batch(bg, func(tx *Tx) error {
					if _, err := tx.Transfer(TransferSpec{Kind: TransferPayment, From: p.ID, To: shop.ID, Amount: Money{10, "EUR"}}); err != nil {
						return err
					}
					switch i {
					case 0:
						return lateRefusal
					case 1:
						return broken
					}
					return nil
				})
			})
		}
		close(start)
		wg.Wait()

		if CodeOf(errs[0]) != "late_refusal" {
			t.Errorf("call refused after writing: %v", errs[0])
		}
		if !errors.Is(errs[1], broken) || KindOf(errs[1]) != KindInternal {
			t.Errorf("call with an internal error: %v (kind %s)", errs[1], KindOf(errs[1]))
		}
		for i, p := range payers {
			want := int64(90)
			if i < 2 {
				want = 100
				if errs[i] == nil {
					t.Errorf("call %d succeeded", i)
				}
			} else if errs[i] != nil {
				t.Errorf("call %d: %v", i, errs[i])
			}
			if got := balance(t, db, p.ID); got != want {
				t.Errorf("payer %d holds %d, want %d", i, got, want)
			}
		}
		if got := balance(t, db, shop.ID); got != 60 {
			t.Errorf("shop holds %d, want 60", got)
		}
		verifyClean(t, db)
	})
}

// 32 goroutines move money at random among 8 accounts, many times more than the
// balances allow, for about two seconds: money is neither made nor lost, no balance
// goes negative, and the ledger verifies.
func TestConcurrentTransfersKeepTheLedgerSound(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		const (
			workers  = 32
			accounts = 8
			each     = 1000 // per worker, so the test ends even on a fast machine
			funds    = 500
		)
		duration := 2 * time.Second
		if testing.Short() {
			duration = 300 * time.Millisecond
		}
		var as []Account
		for i := range accounts {
			as = append(as, fundedAccount(t, db, fmt.Sprint("person ", i), "EUR", funds))
		}
		before := countTransfers(t, db)

		var moved, declined atomic.Int64
		deadline := time.Now().Add(duration)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(w), 7))
				for n := 0; n < each && time.Now().Before(deadline); n++ {
					from := as[rng.IntN(accounts)]
					to := as[rng.IntN(accounts)]
					if from.ID == to.ID {
						continue
					}
					amount := Money{int64(1 + rng.IntN(300)), "EUR"}
					err := db.Batch(bg, func(tx *Tx) error {
						_, err := tx.Transfer(TransferSpec{Kind: TransferPayment, From: from.ID, To: to.ID, Amount: amount})
						return err
					})
					switch {
					case err == nil:
						moved.Add(1)
					case CodeOf(err) == "insufficient_funds":
						declined.Add(1)
					default:
						t.Errorf("transfer: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		t.Logf("%d transfers, %d declined for lack of funds, %d runs again after a conflict", moved.Load(), declined.Load(), db.Retries())
		if moved.Load() == 0 || declined.Load() == 0 {
			t.Errorf("want both transfers and declines, got %d and %d", moved.Load(), declined.Load())
		}

		total := int64(0)
		for _, a := range as {
			b := balance(t, db, a.ID)
			if b < 0 {
				t.Errorf("account %s holds %d", a.ID, b)
			}
			total += b
		}
		if total != accounts*funds {
			t.Errorf("accounts hold %d together, want %d", total, accounts*funds)
		}
		if got := countTransfers(t, db) - before; got != int(moved.Load()) {
			t.Errorf("%d transfers in the journal, %d reported done", got, moved.Load())
		}
		verifyClean(t, db)
	})
}
