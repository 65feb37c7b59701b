package orders

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tagpay/tagpay/store"
)

// BenchmarkPayment measures whole tag payments (parse, create, pay: three durable
// transactions) from one payer at a time and from 16 payers at once, whose writes share
// commits through group commit.
func BenchmarkPayment(b *testing.B) {
	for _, payers := range []int{1, 16} {
		b.Run(fmt.Sprintf("payers=%d", payers), func(b *testing.B) {
			f := openFixture(b, store.Options{}) // fsync on every commit
			shop := f.account("Bench Shop", store.KindMerchant, "EUR")
			tag := f.register(RegisterRequest{UID: "04BE0C4BE0C4BE", Merchant: shop.ID})
			ids := make([]string, payers)
			for i := range ids {
				ids[i] = f.person(fmt.Sprintf("payer %d", i), "1000000.00").ID
			}

			var next atomic.Int64
			var failed atomic.Pointer[error]
			var wg sync.WaitGroup
			b.ResetTimer()
			for _, payer := range ids {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if err := payOnce(f, tag, payer); err != nil {
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
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "payments/s")
			if got, want := f.balance(shop.ID), int64(b.N)*123; got != want {
				b.Fatalf("merchant received %d, want %d", got, want)
			}
		})
	}
}

func payOnce(f *fixture, tag Tag, payer string) error {
	r, err := f.svc.ParseTag(f.ctx, ParseRequest{UID: tag.UID, Content: tag.Content})
	if err != nil {
		return err
	}
	o, err := f.svc.CreateOrder(f.ctx, CreateRequest{Reply: r.ID, Payer: payer, Amount: "1.23"})
	if err != nil {
		return err
	}
	_, err = f.svc.PayOrder(f.ctx, PayRequest{Order: o.ID})
	return err
}
