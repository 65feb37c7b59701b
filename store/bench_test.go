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
		b.Run(name+"/update-1-writer", func(b *testing.B) { benchTransfers(b, durable, 1, false) })
		b.Run(name+"/batch-16-writers", func(b *testing.B) { benchTransfers(b, durable, 16, true) })
	}
}

func benchTransfers(b *testing.B, durable bool, writers int, batch bool) {
	db, err := Open(filepath.Join(b.TempDir(), "ledger.db"), Options{NoSync: !durable})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	// Each writer moves money back and forth between its own two accounts, so no
	// transfer is declined and writers do not wait on each other's balances.
	pairs := make([][2]Account, writers)
	for w := range pairs {
		for i := range pairs[w] {
			pairs[w][i] = fundedAccount(b, db, fmt.Sprintf("writer %d.%d", w, i), "EUR", 1_000_000_000_000)
		}
	}
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				from, to := pairs[w][i%2], pairs[w][(i+1)%2]
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
}
