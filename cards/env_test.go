package cards

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tagpay/tagpay/store"
)

// env is a fresh ledger, on the engine of this pass of the suite, with a cards Service on it.
type env struct {
	t     *testing.T
	db    *store.DB
	s     *Service
	clock *clock
	admin context.Context
}

// newEnv opens a fresh ledger and, when the test ends, checks that the
// ledger and the cards invariants hold.
func newEnv(t *testing.T) *env {
	e := rawEnv(t, Config{})
	t.Cleanup(e.verify)
	return e
}

// rawEnv is newEnv without the final check, for tests that break invariants on purpose.
func rawEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	// Durability is store's business; without fsync these tests spend their time on rules.
	eng := engine
	db, err := store.Open(eng.Target(t), store.Options{NoSync: true, KeysPath: filepath.Join(t.TempDir(), "tagpay.keys")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		if t.Failed() {
			t.Logf("(on the %s engine)", eng.Name)
		}
	})
	c := &clock{now: time.Now().UTC().Truncate(time.Second)}
	if cfg.Now == nil {
		cfg.Now = c.Now
	}
	return &env{t: t, db: db, s: New(db, cfg), clock: c, admin: context.Background()}
}

func (e *env) verify() {
	e.t.Helper()
	err := e.db.View(e.admin, func(tx *store.Tx) error {
		ledger, err := store.VerifyLedger(tx)
		if err != nil {
			return err
		}
		own, err := Verify(tx)
		if err != nil {
			return err
		}
		for _, v := range append(ledger, own...) {
			e.t.Errorf("ledger violation: %s", v)
		}
		return nil
	})
	if err != nil {
		e.t.Errorf("verify: %v", err)
	}
}

// violations runs Verify alone.
func (e *env) violations() []store.Violation {
	e.t.Helper()
	var out []store.Violation
	err := e.db.View(e.admin, func(tx *store.Tx) (err error) {
		out, err = Verify(tx)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) account(name string, kind store.AccountKind) string {
	e.t.Helper()
	a, err := e.db.CreateAccount(e.admin, store.CreateAccountRequest{Name: name, Kind: kind, Currency: "EUR"})
	if err != nil {
		e.t.Fatal(err)
	}
	return a.ID
}

func (e *env) person(name string) string { return e.account(name, store.AccountPerson) }

// payer is the context of a payer API key of account.
func (e *env) payer(account string) context.Context {
	return store.WithActor(context.Background(), store.Actor{ID: "key_payer_" + account, Role: store.RolePayer, Accounts: []string{account}})
}

// merchantKey is the context of a merchant API key of account.
func (e *env) merchantKey(account string) context.Context {
	return store.WithActor(context.Background(), store.Actor{ID: "key_merchant_" + account, Role: store.RoleMerchant, Accounts: []string{account}})
}

func newDevice() string { return store.NewID(store.PrefixDevice) }

// login logs account in on a new device (or the given one) and returns the device.
func (e *env) login(account string, device ...string) string {
	e.t.Helper()
	d := newDevice()
	if len(device) > 0 {
		d = device[0]
	}
	if _, err := e.s.Login(e.admin, LoginRequest{Account: account, Device: d}); err != nil {
		e.t.Fatal(err)
	}
	return d
}

// card adds a card without a PAN for account on device.
func (e *env) card(account, device string) Card {
	e.t.Helper()
	c, err := e.s.AddCard(e.admin, AddCardRequest{Account: account, Device: device, Label: "test card"})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) activate(card string, fs ...Function) Activation {
	e.t.Helper()
	a, err := e.s.ActivateCard(e.admin, ActivateRequest{Card: card, Functions: fs})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) tokens(card string) []Token {
	e.t.Helper()
	ts, err := e.s.ListTokens(e.admin, card, store.Page{})
	if err != nil {
		e.t.Fatal(err)
	}
	return ts
}

func (e *env) resolve(q TokenQuery) (Token, error) {
	var out Token
	err := e.db.View(e.admin, func(tx *store.Tx) (err error) {
		out, err = ResolveToken(tx, q)
		return err
	})
	return out, err
}

// wantErr fails unless err has the kind and code.
func wantErr(t *testing.T, err error, kind store.Kind, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s/%s", kind, code)
	}
	var se *store.Error
	if !errors.As(err, &se) || se.Kind != kind || se.Code != code {
		t.Fatalf("got error %v (kind %s, code %q), want %s/%s", err, store.KindOf(err), store.CodeOf(err), kind, code)
	}
}

// clock is a settable time source for Config.Now.
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
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
