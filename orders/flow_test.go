package orders

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tagpay/tagpay/store"
)

func TestPaymentFlow(t *testing.T) {
	f := newFixture(t)
	shop := f.account("Corner Shop", store.AccountMerchant, "EUR")
	alice := f.person("Alice", "100.00")
	tag := f.register(RegisterRequest{UID: "04:51:5c:fa:6f:73:81", Merchant: shop.ID, Label: "till 1"})

	if tag.UID != "04515CFA6F7381" || tag.Status != TagActive || tag.Kind != TagStatic || tag.Currency != "EUR" {
		t.Fatalf("registered tag %+v", tag)
	}
	c, err := ParseContent(tag.Content)
	if err != nil || c.Ref != tag.Ref || c.BaseURL != "https://pay.test" || c.Kind != TagStatic {
		t.Fatalf("content %q parses to %+v, %v", tag.Content, c, err)
	}

	reply := f.parse("04515cfa6f7381", tag.Content)
	if reply.Payee != shop.ID || reply.PayeeName != "Corner Shop" || reply.Amount != nil || reply.Currency != "EUR" ||
		reply.Tag != tag.ID || reply.TagRef != tag.Ref || reply.Used {
		t.Fatalf("reply %+v", reply)
	}
	if want := f.clock.Now().Add(time.Minute); !reply.ExpiresAt.Equal(want) {
		t.Fatalf("reply expires at %s, want %s", reply.ExpiresAt, want)
	}

	o, err := f.svc.CreateOrder(f.ctx, OrderRequest{Reply: reply.ID, Payer: alice.ID, Amount: "12.50", Memo: "coffee"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != OrderCreated || o.Amount != (store.Money{Amount: 1250, Currency: "EUR"}) || o.Payer != alice.ID || o.Payee != shop.ID || o.Memo != "coffee" {
		t.Fatalf("order %+v", o)
	}

	paid := f.pay(o)
	if paid.Status != OrderPaid || paid.Transfer == "" || paid.PaidAt == nil || paid.Instrument == nil || paid.Instrument.Kind != InstrumentBalance {
		t.Fatalf("paid order %+v", paid)
	}
	if got := f.balance(alice.ID); got != 8750 {
		t.Fatalf("payer balance %d, want 8750", got)
	}
	if got := f.balance(shop.ID); got != 1250 {
		t.Fatalf("merchant balance %d, want 1250", got)
	}
	f.verifyClean()

	part, err := f.svc.RefundOrder(f.ctx, RefundRequest{Order: o.ID, Amount: "2.50"})
	if err != nil {
		t.Fatal(err)
	}
	if part.Status != OrderPaid || part.Refunded.Amount != 250 || len(part.Refunds) != 1 {
		t.Fatalf("after a partial refund %+v", part)
	}
	f.verifyClean()

	rest, err := f.svc.RefundOrder(f.ctx, RefundRequest{Order: o.ID})
	if err != nil {
		t.Fatal(err)
	}
	if rest.Status != OrderRefunded || rest.Refunded.Amount != 1250 || len(rest.Refunds) != 2 {
		t.Fatalf("after the full refund %+v", rest)
	}
	if f.balance(alice.ID) != 10000 || f.balance(shop.ID) != 0 {
		t.Fatalf("balances after refunds: payer %d, merchant %d", f.balance(alice.ID), f.balance(shop.ID))
	}
	got, err := f.svc.GetOrder(f.ctx, o.ID)
	if err != nil || got.Status != OrderRefunded {
		t.Fatalf("GetOrder: %+v, %v", got, err)
	}
	f.verifyClean()
}

func TestFixedAmountTag(t *testing.T) {
	f := newFixture(t)
	parking := f.account("Parking", store.AccountMerchant, "JPY")
	bob := f.account("Bob", store.AccountPerson, "JPY")
	f.fund(bob.ID, "5000")
	tag := f.register(RegisterRequest{UID: "A1B2C3D4", Merchant: parking.ID, Amount: "700"})

	reply := f.parse("A1B2C3D4", tag.Content)
	if reply.Amount == nil || *reply.Amount != (store.Money{Amount: 700, Currency: "JPY"}) {
		t.Fatalf("reply amount %v, want the tag's fixed 700 JPY", reply.Amount)
	}
	o, err := f.svc.CreateOrder(f.ctx, OrderRequest{Reply: reply.ID, Payer: bob.ID})
	if err != nil {
		t.Fatal(err)
	}
	if o.Amount.Amount != 700 {
		t.Fatalf("order amount %s, want 700 JPY", o.Amount)
	}
	// Naming the same amount is fine too.
	o2 := f.order(tag, bob.ID, "700 JPY")
	f.pay(o)
	f.pay(o2)
	if f.balance(bob.ID) != 3600 || f.balance(parking.ID) != 1400 {
		t.Fatalf("balances: payer %d, merchant %d", f.balance(bob.ID), f.balance(parking.ID))
	}
	f.verifyClean()
}

func TestCancelOrder(t *testing.T) {
	f := newFixture(t)
	shop := f.account("Shop", store.AccountMerchant, "EUR")
	alice := f.person("Alice", "10.00")
	tag := f.register(RegisterRequest{UID: "04A1B2C3D4E5F6", Merchant: shop.ID})

	o := f.order(tag, alice.ID, "3.00")
	c, err := f.svc.CancelOrder(f.ctx, CancelRequest{Order: o.ID})
	if err != nil || c.Status != OrderCancelled {
		t.Fatalf("cancel: %+v, %v", c, err)
	}
	before := f.snapshot()
	_, err = f.svc.PayOrder(f.ctx, PayRequest{Order: o.ID})
	wantError(t, err, store.KindConflict, "order_not_payable", "cancelled")
	_, err = f.svc.CancelOrder(f.ctx, CancelRequest{Order: o.ID})
	wantError(t, err, store.KindConflict, "order_not_cancellable", "cancelled")
	f.unchanged(before)

	paid := f.pay(f.order(tag, alice.ID, "1.00"))
	before = f.snapshot()
	_, err = f.svc.CancelOrder(f.ctx, CancelRequest{Order: paid.ID})
	wantError(t, err, store.KindConflict, "order_not_cancellable", "paid")
	f.unchanged(before)
	f.verifyClean()
}

// Fifty payers pay one merchant at once; group commit must lose or double nothing.
func TestConcurrentPayments(t *testing.T) {
	f := newFixture(t)
	shop := f.account("Busy Shop", store.AccountMerchant, "EUR")
	tag := f.register(RegisterRequest{UID: "04C0FFEE000001", Merchant: shop.ID})
	const payers = 50
	ids := make([]string, payers)
	for i := range ids {
		ids[i] = f.person(fmt.Sprintf("payer %d", i), "20.00").ID
	}

	var wg sync.WaitGroup
	errs := make(chan error, payers)
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			amount := fmt.Sprintf("%d.%02d", 1+i%7, i) // different amounts, to the cent
			r, err := f.svc.ParsePaymentRequest(f.ctx, PaymentRequest{UID: tag.UID, Content: tag.Content})
			if err == nil {
				var o Order
				o, err = f.svc.CreateOrder(f.ctx, OrderRequest{Reply: r.ID, Payer: id, Amount: amount, IdempotencyKey: "create-" + id})
				if err == nil {
					_, err = f.svc.PayOrder(f.ctx, PayRequest{Order: o.ID, IdempotencyKey: "pay-" + id})
				}
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	var want int64
	for i, id := range ids {
		cents := int64(100*(1+i%7) + i)
		want += cents
		if got := f.balance(id); got != 2000-cents {
			t.Errorf("payer %d balance %d, want %d", i, got, 2000-cents)
		}
	}
	if got := f.balance(shop.ID); got != want {
		t.Fatalf("merchant received %d, want %d", got, want)
	}
	paid, err := f.svc.ListOrders(f.ctx, OrderFilter{Payee: shop.ID, Status: OrderPaid})
	if err != nil || len(paid) != payers {
		t.Fatalf("%d paid orders, want %d (%v)", len(paid), payers, err)
	}
	f.verifyClean()
}
