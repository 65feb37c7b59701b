package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/events"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
	"github.com/tagpay/tagpay/webhook"
)

// driver holds what the clients were told: every acknowledged order, payment and
// refund, to be checked against the ledger at the end.
type driver struct {
	bes      []backend.Backend // one client per replica
	run      string            // makes the run's idempotency keys its own
	merchant string
	tag      orders.Tag
	payers   []string

	requests atomic.Int64 // mutating requests sent, each counted once however often retried
	acked    atomic.Int64 // of those, answered with success
	retried  atomic.Int64 // answers lost to a kill, asked again with the same key

	mu       sync.Mutex
	created  map[string]bool    // orders acknowledged by a paid tap
	payments map[string]owed    // order → what its acknowledged payment moved
	refunds  map[string][]int64 // order → acknowledged refund amounts
	firstErr error
}

type owed struct {
	payer  string
	amount int64
}

// call sends one mutating request until it is answered, to the replica *rep. A request
// whose answer was lost (the replica died or lost its database, or was not back yet) is
// sent again as it was, idempotency key and all, to the next replica, which *rep then
// names; any other error is a failure of the run.
func (d *driver) call(ctx context.Context, what string, rep *int, fn func(be backend.Backend) error) error {
	d.requests.Add(1)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := fn(d.bes[*rep])
		if err == nil {
			d.acked.Add(1)
			return nil
		}
		if !answerLost(err) || time.Now().After(deadline) {
			err = fmt.Errorf("%s: %w", what, err)
			d.fail(err)
			return err
		}
		d.retried.Add(1)
		*rep = (*rep + 1) % len(d.bes)
		time.Sleep(5 * time.Millisecond)
	}
}

// answerLost tells a request that may or may not have been applied (no answer came, or
// the server was down) from one the server answered.
func answerLost(err error) bool {
	return store.KindOf(err) == store.KindUnavailable || store.CodeOf(err) == "idempotency_key_in_use"
}

func (d *driver) fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.firstErr == nil {
		d.firstErr = err
	}
}

func (d *driver) failure() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.firstErr
}

// waitAcks waits until n requests have been acknowledged, or the run failed.
func (d *driver) waitAcks(n int64) {
	for d.acked.Load() < n && d.failure() == nil {
		time.Sleep(time.Millisecond)
	}
}

// setup makes the merchant, its tag and the funded payers.
func (d *driver) setup(ctx context.Context, payers int) error {
	d.created, d.payments, d.refunds = map[string]bool{}, map[string]owed{}, map[string][]int64{}
	key := func(s string) string { return "crash-" + d.run + "-setup-" + s }
	rep := 0
	var m store.Account
	err := d.call(ctx, "create merchant", &rep, func(be backend.Backend) (err error) {
		m, err = be.CreateAccount(ctx, store.CreateAccountRequest{Name: "crash merchant", Kind: store.AccountMerchant, Currency: "EUR", IdempotencyKey: key("merchant")})
		return err
	})
	if err != nil {
		return err
	}
	d.merchant = m.ID
	err = d.call(ctx, "register tag", &rep, func(be backend.Backend) (err error) {
		d.tag, err = be.RegisterTag(ctx, orders.RegisterRequest{UID: "04C2A5D1E0F001", Merchant: m.ID, Label: "crash", IdempotencyKey: key("tag")})
		return err
	})
	if err != nil {
		return err
	}
	for i := range payers {
		var p store.Account
		err := d.call(ctx, "create payer", &rep, func(be backend.Backend) (err error) {
			p, err = be.CreateAccount(ctx, store.CreateAccountRequest{Name: fmt.Sprint("crash payer ", i), Kind: store.AccountPerson, Currency: "EUR", IdempotencyKey: key(fmt.Sprint("payer-", i))})
			return err
		})
		if err == nil {
			err = d.call(ctx, "fund payer", &rep, func(be backend.Backend) error {
				_, err := be.FundAccount(ctx, store.FundRequest{Account: p.ID, Amount: money(funding), IdempotencyKey: key(fmt.Sprint("fund-", i))})
				return err
			})
		}
		if err != nil {
			return err
		}
		d.payers = append(d.payers, p.ID)
	}
	return nil
}

// money writes minor units of EUR as a person types them.
func money(minor int64) string { return fmt.Sprintf("%d.%02d", minor/100, minor%100) }

// worker is one client: it pays, and now and then refunds one of its own payments. It
// talks to one replica until an answer is lost, then to the next.
type worker struct {
	d          *driver
	id         int
	rep        int
	payer      string
	rng        *rand.Rand
	refundable map[string]int64 // its paid orders → what is left to refund
}

func (w *worker) loop(ctx context.Context, stop *atomic.Bool) {
	w.refundable = map[string]int64{}
	for i := 0; !stop.Load() && w.d.failure() == nil; i++ {
		key := fmt.Sprintf("crash-%s-%d-%d", w.d.run, w.id, i)
		var err error
		if len(w.refundable) > 0 && w.rng.IntN(4) == 0 {
			err = w.refund(ctx, key)
		} else {
			err = w.pay(ctx, key)
		}
		if err != nil {
			return
		}
	}
}

// pay sends one tap over HTTP under its idempotency key; a lost answer is retried with
// the same key, so the tap is applied once.
func (w *worker) pay(ctx context.Context, key string) error {
	d := w.d
	amount := int64(1 + w.rng.IntN(2000))
	var r orders.Receipt
	err := d.call(ctx, "tap", &w.rep, func(be backend.Backend) (err error) {
		r, err = be.Tap(ctx, orders.TapRequest{UID: d.tag.UID, Content: d.tag.Content, Payer: w.payer, Amount: money(amount), IdempotencyKey: key})
		if err == nil && r.Order.Status != orders.OrderPaid {
			return fmt.Errorf("order %s answered as %s after its tap", r.Order.ID, r.Order.Status)
		}
		return err
	})
	if err != nil {
		return err
	}
	o := r.Order
	d.mu.Lock()
	d.created[o.ID] = true
	d.payments[o.ID] = owed{payer: w.payer, amount: amount}
	d.mu.Unlock()
	w.refundable[o.ID] = amount
	return nil
}

// refund gives back all or part of what is left of one of the worker's payments.
func (w *worker) refund(ctx context.Context, key string) error {
	d := w.d
	var order string
	for id := range w.refundable {
		order = id
		break
	}
	left := w.refundable[order]
	amount := left
	if w.rng.IntN(2) == 0 {
		amount = 1 + w.rng.Int64N(left)
	}
	err := d.call(ctx, "refund", &w.rep, func(be backend.Backend) error {
		_, err := be.RefundOrder(ctx, orders.RefundRequest{Order: order, Amount: money(amount), IdempotencyKey: key + "-refund"})
		return err
	})
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.refunds[order] = append(d.refunds[order], amount)
	d.mu.Unlock()
	if left -= amount; left == 0 {
		delete(w.refundable, order)
	} else {
		w.refundable[order] = left
	}
	return nil
}

// report is the verdict of the check.
type report struct {
	payments, refunds int
	lost, duplicated  int
	problems          []string
}

func (r *report) problem(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// check opens the ledger the servers left and holds it to what the clients were told:
// every acknowledged order, payment and refund is there exactly once, nothing else is,
// and every balance is what the acknowledged operations imply.
func (d *driver) check(ctx context.Context, ledger string) (*report, error) {
	local, err := backend.OpenLocal(ledger)
	if err != nil {
		return nil, fmt.Errorf("reopening the ledger after the run: %w", err)
	}
	defer local.Close()
	all, err := local.ListOrders(ctx, orders.OrderFilter{})
	if err != nil {
		return nil, err
	}
	transfers, err := local.Journal(ctx, store.Page{Limit: 0})
	if err != nil {
		return nil, err
	}
	r := &report{}

	inLedger := map[string]orders.Order{}
	for _, o := range all {
		inLedger[o.ID] = o
		if !d.created[o.ID] {
			r.duplicated++
			r.problem("order %s is in the ledger but no client was told it was created", o.ID)
		}
	}
	for id := range d.created {
		if _, ok := inLedger[id]; !ok {
			r.lost++
			r.problem("order %s was acknowledged as created but is not in the ledger", id)
		}
	}

	paid := map[string][]store.Transfer{}
	refunded := map[string][]store.Transfer{}
	for _, t := range transfers {
		switch t.Kind {
		case store.TransferPayment:
			paid[t.Ref] = append(paid[t.Ref], t)
		case store.TransferRefund:
			refunded[t.Ref] = append(refunded[t.Ref], t)
		}
	}
	want := map[string]int64{d.merchant: 0}
	for _, p := range d.payers {
		want[p] = funding
	}
	for id, p := range d.payments {
		r.payments++
		want[p.payer] -= p.amount
		want[d.merchant] += p.amount
		switch ts := paid[id]; {
		case len(ts) == 0:
			r.lost++
			r.problem("payment of order %s was acknowledged but has no transfer", id)
		case len(ts) > 1:
			r.duplicated += len(ts) - 1
			r.problem("order %s was paid %d times", id, len(ts))
		case ts[0].Amount.Amount != p.amount || ts[0].From != p.payer:
			r.problem("order %s: transfer %s moved %d from %s, the client paid %d from %s", id, ts[0].ID, ts[0].Amount.Amount, ts[0].From, p.amount, p.payer)
		}
		if o := inLedger[id]; o.Transfer == "" || (o.Status != orders.OrderPaid && o.Status != orders.OrderRefunded) {
			r.problem("order %s was acknowledged as paid but stands %s", id, o.Status)
		}
	}
	for id, ts := range paid {
		if _, ok := d.payments[id]; !ok {
			r.duplicated += len(ts)
			r.problem("order %s has %d payment transfer(s) no client was told about", id, len(ts))
		}
	}
	for id, ts := range refunded {
		acked := d.refunds[id]
		var sum int64
		for _, a := range acked {
			sum += a
		}
		p := d.payments[id]
		want[p.payer] += sum
		want[d.merchant] -= sum
		r.refunds += len(acked)
		switch {
		case len(ts) > len(acked):
			r.duplicated += len(ts) - len(acked)
			r.problem("order %s has %d refund transfers for %d acknowledged refunds", id, len(ts), len(acked))
		case len(ts) < len(acked):
			r.lost += len(acked) - len(ts)
			r.problem("order %s has %d refund transfers for %d acknowledged refunds", id, len(ts), len(acked))
		}
		if o := inLedger[id]; o.Refunded.Amount != sum {
			r.problem("order %s shows %d refunded, the clients were told %d", id, o.Refunded.Amount, sum)
		}
	}
	for id, acked := range d.refunds {
		if _, ok := refunded[id]; !ok {
			r.lost += len(acked)
			r.refunds += len(acked)
			r.problem("order %s: %d acknowledged refund(s) have no transfer", id, len(acked))
			for _, a := range acked {
				want[d.payments[id].payer] += a
				want[d.merchant] -= a
			}
		}
	}
	for id, balance := range want {
		a, err := local.GetAccount(ctx, id)
		if err != nil {
			return nil, err
		}
		if a.Balance != balance {
			r.problem("account %s (%s) holds %d, the acknowledged operations imply %d", id, a.Name, a.Balance, balance)
		}
	}
	return r, nil
}

// registerWebhook registers rcv for order.paid through the API, as an admin, and hands
// it the signing secret, which only the first answer carries.
func (d *driver) registerWebhook(ctx context.Context, rcv *receiver) error {
	rep := 0
	var w webhook.Created
	err := d.call(ctx, "create webhook", &rep, func(be backend.Backend) (err error) {
		w, err = be.CreateWebhook(ctx, webhook.CreateRequest{URL: rcv.url, Events: events.OrderPaid, IdempotencyKey: "crash-" + d.run + "-setup-webhook"})
		return err
	})
	if err != nil {
		return err
	}
	if w.Secret == "" {
		return fmt.Errorf("webhook %s was registered without its secret in the answer (a replayed request?)", w.ID)
	}
	rcv.setSecret(w.Secret)
	return nil
}
