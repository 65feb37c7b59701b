package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// Transfers per second into a ledger file: one writer committing each transfer on its
// own (Update, one fsync each), and 16 concurrent writers sharing commits through
// Batch. The durable runs are the figures that count; the no-sync runs show what the
// fsync costs on the machine at hand.
//
//	go test -run='^$' -bench=. -benchtime=2s ./store
func BenchmarkTransfers(b *testing.B) {
	for _, durable := range []bool{true, false} {
		name := "durable"
		if !durable {
			name = "nosync"
		}
		open := func(b *testing.B) *DB { return openBench(b, filepath.Join(b.TempDir(), "ledger.db"), durable) }
		b.Run(name+"/update-1-writer", func(b *testing.B) { benchTransfers(b, open(b), 1, false, false) })
		b.Run(name+"/batch-16-writers", func(b *testing.B) { benchTransfers(b, open(b), 16, true, false) })
	}
}

// BenchmarkTransferPG is BenchmarkTransfers on PostgreSQL (TAGPAY_TEST_PG), with a pool
// of 16 connections, plus 16 writers paying into one hot account, whose row lock
// serialises them. retries/op counts the transactions run again after a conflict.
//
//	TAGPAY_TEST_PG=$(scripts/pg start) go test -run='^$' -bench=PG -benchtime=2s ./store
func BenchmarkTransferPG(b *testing.B) {
	for _, durable := range []bool{true, false} {
		name := "durable"
		if !durable {
			name = "nosync"
		}
		open := func(b *testing.B) *DB {
			return openBench(b, withParam(b, pgTarget(b), "pool_max_conns", "16"), durable)
		}
		b.Run(name+"/update-1-writer", func(b *testing.B) { benchTransfers(b, open(b), 1, false, false) })
		b.Run(name+"/batch-16-writers", func(b *testing.B) { benchTransfers(b, open(b), 16, true, false) })
		b.Run(name+"/batch-16-writers-1-payee", func(b *testing.B) { benchTransfers(b, open(b), 16, true, true) })
	}
}

func openBench(b *testing.B, target string, durable bool) *DB {
	db, err := Open(target, Options{NoSync: !durable})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// benchTransfers moves money with the given number of concurrent writers. Each writer
// moves money back and forth between its own two accounts, so no transfer is declined
// and writers do not wait on each other's balances; with onePayee every writer instead
// pays from its own account into one shared account.
func benchTransfers(b *testing.B, db *DB, writers int, batch, onePayee bool) {
	pairs := make([][2]Account, writers)
	var payee Account
	if onePayee {
		payee = newAccount(b, db, "payee", AccountMerchant, "EUR")
	}
	for w := range pairs {
		for i := range pairs[w] {
			if onePayee && i == 1 {
				pairs[w][i] = payee
				continue
			}
			pairs[w][i] = fundedAccount(b, db, fmt.Sprintf("writer %d.%d", w, i), "EUR", 1_000_000_000_000)
		}
	}
	retries := db.Retries()
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				from, to := pairs[w][i%2], pairs[w][(i+1)%2]
				if onePayee {
					from, to = pairs[w][0], pairs[w][1]
				}
				fn := func(tx *Tx) error {
					_, err := tx.Transfer(TransferSpec{Kind: TransferPayment, From: from.ID, To: to.ID, Amount: Money{100, "EUR"}})
					return err
				}
				var err error
				if batch {
					err = db.Batch(bg, fn)
				} else {
					err = db.Update(bg, fn)
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
	b.ReportMetric(float64(db.Retries()-retries)/float64(b.N), "retries/op")
}
