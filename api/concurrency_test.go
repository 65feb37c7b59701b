package api

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

// Concurrency against a real server: many clients draining few accounts at once, and one
// order paid from two clients at once. Group commit, the funds check and the order's
// state machine must hold under contention, not only one request at a time.

// payFlow runs flow 1 for amount (minor units) from payer and returns the order, the
// payment's error, and any error of the steps before it.
func payFlow(ctx context.Context, c *Client, tag orders.Tag, payer string, amount int64, key string) (orders.Order, error, error) {
	reply, err := c.ParsePaymentRequest(ctx, orders.PaymentRequest{UID: tag.UID, Content: tag.Content, IdempotencyKey: key + "-parse"})
	if err != nil {
		return orders.Order{}, nil, err
	}
	o, err := c.CreateOrder(ctx, orders.OrderRequest{Reply: reply.ID, Payer: payer, Amount: fmt.Sprintf("%d.%02d", amount/100, amount%100), IdempotencyKey: key + "-order"})
	if err != nil {
		return orders.Order{}, nil, err
	}
	paid, err := c.PayOrder(ctx, orders.PayRequest{Order: o.ID, IdempotencyKey: key + "-pay"})
	if err == nil {
		o = paid
	}
	return o, err, nil
}

// merchantWithTag makes a merchant account with an active tag.
func merchantWithTag(t *testing.T, c *Client) (store.Account, orders.Tag) {
	t.Helper()
	ctx := context.Background()
	m, err := c.CreateAccount(ctx, store.CreateAccountRequest{Name: "Busy Cafe", Kind: store.AccountMerchant, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	tag, err := c.RegisterTag(ctx, orders.RegisterRequest{UID: "04AA55AA55AA55", Merchant: m.ID})
	if err != nil {
		t.Fatal(err)
	}
	return m, tag
}

func TestSixtyFourClientsOnEightAccountsNeverOverdraw(t *testing.T) {
	const (
		clients, payers = 64, 8
		funds           = 1000 // 10.00 EUR each
		tries           = 5    // payments per client: together far more than the funds
	)
	f := newFixture(t)
	c := f.client(f.admin)
	ctx := context.Background()
	merchant, tag := merchantWithTag(t, c)
	accounts := make([]string, payers)
	for i := range accounts {
		a, err := c.CreateAccount(ctx, store.CreateAccountRequest{Name: fmt.Sprint("payer ", i), Kind: store.AccountPerson, Currency: "EUR"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.FundAccount(ctx, store.FundRequest{Account: a.ID, Amount: "10.00"}); err != nil {
			t.Fatal(err)
		}
		accounts[i] = a.ID
	}

	var (
		mu       sync.Mutex
		paid     = map[string]int64{} // payer → what its acknowledged payments moved
		declined int
		asked    int64
		wg       sync.WaitGroup
		start    = make(chan struct{})
	)
	for i := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			payer := accounts[i%payers]
			<-start // all at once
			for j := range tries {
				amount := int64(50 + rng.IntN(250))
				o, payErr, err := payFlow(ctx, c, tag, payer, amount, fmt.Sprintf("c%d-%d", i, j))
				mu.Lock()
				asked += amount
				switch {
				case err != nil:
					t.Errorf("client %d: %v", i, err)
				case payErr == nil && o.Status == orders.OrderPaid:
					paid[payer] += amount
				case store.CodeOf(payErr) == "insufficient_funds":
					declined++
				default:
					t.Errorf("client %d: payment %s: %v", i, o.ID, payErr)
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()

	if asked <= payers*funds || declined == 0 {
		t.Fatalf("the clients asked %d against %d of funds and %d were declined: the test did not overdraw", asked, payers*funds, declined)
	}
	all, err := c.ListAccounts(ctx, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var sum, toMerchant int64
	for _, a := range all {
		sum += a.Balance
		if a.Kind == store.AccountPerson && a.Balance < 0 {
			t.Errorf("payer %s went negative: %d", a.ID, a.Balance)
		}
		if p, ok := paid[a.ID]; ok || a.Kind == store.AccountPerson {
			if a.Balance != funds-p {
				t.Errorf("payer %s holds %d; its acknowledged payments imply %d", a.ID, a.Balance, funds-p)
			}
		}
		if a.ID == merchant.ID {
			toMerchant = a.Balance
		}
	}
	var total int64
	for _, p := range paid {
		total += p
	}
	if sum != 0 {
		t.Errorf("the balances sum to %d, not zero", sum)
	}
	if toMerchant != total {
		t.Errorf("the merchant holds %d; the acknowledged payments total %d", toMerchant, total)
	}
	f.verifyClean()
	t.Logf("%d clients asked %d in all from %d; %d declined, %d paid", clients, asked, payers*funds, declined, total)
}

func TestOrderPaidFromTwoClientsAtOnceIsPaidOnce(t *testing.T) {
	f := newFixture(t)
	c := f.client(f.admin)
	ctx := context.Background()
	_, tag := merchantWithTag(t, c)
	payer, err := c.CreateAccount(ctx, store.CreateAccountRequest{Name: "Twin", Kind: store.AccountPerson, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FundAccount(ctx, store.FundRequest{Account: payer.ID, Amount: "100.00"}); err != nil {
		t.Fatal(err)
	}
	for _, sameKey := range []bool{false, true} {
		for round := range 10 {
			reply, err := c.ParsePaymentRequest(ctx, orders.PaymentRequest{UID: tag.UID, Content: tag.Content})
			if err != nil {
				t.Fatal(err)
			}
			o, err := c.CreateOrder(ctx, orders.OrderRequest{Reply: reply.ID, Payer: payer.ID, Amount: "1.00"})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			results := make([]error, 2)
			start := make(chan struct{})
			for i := range 2 {
				key := fmt.Sprintf("twin-%v-%d-%d", sameKey, round, i)
				if sameKey {
					key = fmt.Sprintf("twin-%v-%d", sameKey, round)
				}
				wg.Go(func() {
					<-start
					_, results[i] = c.PayOrder(ctx, orders.PayRequest{Order: o.ID, IdempotencyKey: key})
				})
			}
			close(start)
			wg.Wait()
			ok := 0
			for _, err := range results {
				switch {
				case err == nil:
					ok++
				case store.CodeOf(err) != "order_not_payable" && store.CodeOf(err) != "idempotency_key_in_use":
					t.Errorf("order %s: the losing payment failed with %v, want order_not_payable or idempotency_key_in_use", o.ID, err)
				}
			}
			// Different keys: one pays, the other is told the order is no longer payable.
			// The same key: the second gets the stored answer, or is told the key is busy.
			if ok == 0 || (!sameKey && ok != 1) {
				t.Errorf("order %s (same key %v): %d payments succeeded: %v", o.ID, sameKey, ok, results)
			}
			transfers := 0
			journal, err := c.Journal(ctx, store.Page{Limit: 0})
			if err != nil {
				t.Fatal(err)
			}
			for _, tr := range journal {
				if tr.Kind == store.TransferPayment && tr.Ref == o.ID {
					transfers++
				}
			}
			if transfers != 1 {
				t.Errorf("order %s has %d payment transfers, want 1", o.ID, transfers)
			}
		}
	}
	a, err := c.GetAccount(ctx, payer.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Balance != 10000-20*100 {
		t.Errorf("the payer holds %d after 20 orders of 1.00, want %d", a.Balance, 10000-20*100)
	}
	f.verifyClean()
}
