package orders

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tagpay/tagpay/store"
)

// BenchmarkTap measures whole taps (parse, order and payment in one durable
// transaction, with an idempotency key each) from one payer at a time and from 16 payers
// at once, whose writes share commits through group commit.
func BenchmarkTap(b *testing.B) {
	for _, payers := range []int{1, 16} {
		b.Run(fmt.Sprintf("payers=%d", payers), func(b *testing.B) {
			f := openFixture(b, store.Options{}) // fsync on every commit
			shop := f.account("Bench Shop", store.KindMerchant, "EUR")
			tag := f.register(RegisterRequest{UID: "04BE0C4BE0C4BE", Merchant: shop.ID})
			ids := make([]string, payers)
			for i := range ids {
				ids[i] = f.person(fmt.Sprintf("payer %d", i), "1000000.00").ID
			}

			var next, seq atomic.Int64
			var failed atomic.Pointer[error]
			var wg sync.WaitGroup
			b.ResetTimer()
			for _, payer := range ids {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						_, err := f.svc.Tap(f.ctx, TapRequest{UID: tag.UID, Content: tag.Content, Payer: payer, Amount: "1.23",
							IdempotencyKey: fmt.Sprintf("bench-%d", seq.Add(1))})
						if err != nil {
							failed.CompareAndSwap(nil, &err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			if err := failed.Load(); err != nil {
				b.Fatal(*err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "taps/s")
			if got, want := f.balance(shop.ID), int64(b.N)*123; got != want {
				b.Fatalf("merchant received %d, want %d", got, want)
			}
		})
	}
}
