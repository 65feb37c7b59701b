package orders

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagpay/tagpay/store"
)

// fixture is a fresh ledger file with a service on it and a clock tests can move.
type fixture struct {
	t     testing.TB
	ctx   context.Context
	db    *store.DB
	svc   *Service
	clock *clock
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newFixture opens a fresh ledger on the engine of this pass of the suite (engine).
// Tests skip fsync: what they check is the logic, the benchmarks measure durable writes.
func newFixture(t testing.TB) *fixture {
	return openFixture(t, store.Options{NoSync: true})
}

func openFixture(t testing.TB, opts store.Options) *fixture {
	t.Helper()
	if opts.KeysPath == "" {
		// The key file lives apart from the ledger, as it must in use.
		opts.KeysPath = filepath.Join(t.TempDir(), "tagpay.keys")
	}
	e := engine
	db, err := store.Open(e.Target(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		if t.Failed() {
			t.Logf("(on the %s engine)", e.Name)
		}
	})
	c := &clock{now: time.Now().UTC()}
	return &fixture{t: t, ctx: context.Background(), db: db, clock: c,
		svc: New(db, Config{BaseURL: "https://pay.test", ReplyTTL: time.Minute, Now: c.Now})}
}

func (f *fixture) account(name string, kind store.AccountKind, currency string) store.Account {
	f.t.Helper()
	a, err := f.db.CreateAccount(f.ctx, store.CreateAccountRequest{Name: name, Kind: kind, Currency: currency})
	if err != nil {
		f.t.Fatal(err)
	}
	return a
}

func (f *fixture) person(name string, funds string) store.Account {
	f.t.Helper()
	a := f.account(name, store.AccountPerson, "EUR")
	if funds != "" {
		f.fund(a.ID, funds)
	}
	return a
}

func (f *fixture) fund(id, amount string) {
	f.t.Helper()
	if _, err := f.db.FundAccount(f.ctx, store.FundRequest{Account: id, Amount: amount}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) balance(id string) int64 {
	f.t.Helper()
	a, err := f.db.GetAccount(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return a.Balance
}

func (f *fixture) register(req RegisterRequest) Tag {
	f.t.Helper()
	t, err := f.svc.RegisterTag(f.ctx, req)
	if err != nil {
		f.t.Fatalf("register %+v: %v", req, err)
	}
	return t
}

func (f *fixture) parse(uid, content string) ParsingReply {
	f.t.Helper()
	r, err := f.svc.ParsePaymentRequest(f.ctx, PaymentRequest{UID: uid, Content: content})
	if err != nil {
		f.t.Fatalf("parse %s %s: %v", uid, content, err)
	}
	return r
}

// order parses the tag and creates an order of amount from payer.
func (f *fixture) order(tag Tag, payer, amount string) Order {
	f.t.Helper()
	r := f.parse(tag.UID, tag.Content)
	o, err := f.svc.CreateOrder(f.ctx, OrderRequest{Reply: r.ID, Payer: payer, Amount: amount})
	if err != nil {
		f.t.Fatalf("create order: %v", err)
	}
	return o
}

func (f *fixture) pay(o Order) Order {
	f.t.Helper()
	p, err := f.svc.PayOrder(f.ctx, PayRequest{Order: o.ID})
	if err != nil {
		f.t.Fatalf("pay %s: %v", o.ID, err)
	}
	return p
}

// verifyClean fails unless both the money invariants and flow 1's hold.
func (f *fixture) verifyClean() {
	f.t.Helper()
	err := f.db.View(f.ctx, func(tx *store.Tx) error {
		v1, err := store.VerifyLedger(tx)
		if err != nil {
			return err
		}
		v2, err := Verify(tx)
		if err != nil {
			return err
		}
		for _, v := range append(v1, v2...) {
			f.t.Errorf("violation: %s", v)
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// snapshot is every record of the buckets a flow 1 step may touch, to prove that a
// declined step wrote nothing.
func (f *fixture) snapshot() map[string]string {
	f.t.Helper()
	out := map[string]string{}
	buckets := []store.Bucket{
		store.BucketAccounts, store.BucketTransfers, store.BucketIdempotency, store.BucketAudit,
		store.BucketTags, store.BucketTagIndex, store.BucketReplies, store.BucketOrders, store.BucketOrderIndex,
		store.BucketSUNCounters, store.BucketSUNKeys, store.BucketMeta,
	}
	err := f.db.View(f.ctx, func(tx *store.Tx) error {
		for _, b := range buckets {
			err := tx.ForEach(b, "", false, func(k string, v []byte) error {
				out[string(b)+"/"+k] = string(v)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

// unchanged fails when the ledger differs from before.
func (f *fixture) unchanged(before map[string]string) {
	f.t.Helper()
	after := f.snapshot()
	for k, v := range after {
		if old, ok := before[k]; !ok {
			f.t.Errorf("record %s was written", k)
		} else if old != v {
			f.t.Errorf("record %s changed", k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			f.t.Errorf("record %s was deleted", k)
		}
	}
}

// rawContains reports whether any record of the ledger outside skip contains needle.
func (f *fixture) rawContains(needle []byte, skip store.Bucket) []string {
	f.t.Helper()
	var where []string
	for k, v := range f.snapshot() {
		if !strings.HasPrefix(k, string(skip)+"/") && bytes.Contains(bytes.ToUpper([]byte(v)), bytes.ToUpper(needle)) {
			where = append(where, k)
		}
	}
	return where
}

// wantError fails unless err has the kind and code, and its message the words.
func wantError(t testing.TB, err error, kind store.Kind, code, words string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s error %s, got success", kind, code)
	}
	var se *store.Error
	if !errors.As(err, &se) {
		t.Fatalf("want a store error %s, got %T: %v", code, err, err)
	}
	if se.Kind != kind || se.Code != code {
		t.Fatalf("want %s/%s, got %s/%s: %v", kind, code, se.Kind, se.Code, err)
	}
	if !strings.Contains(err.Error(), words) {
		t.Fatalf("error %q does not say %q", err, words)
	}
}
