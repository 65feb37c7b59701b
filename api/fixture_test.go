package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

// fixture is a server on a fresh ledger file, with an admin key.
type fixture struct {
	t      *testing.T
	local  *backend.Local
	server *Server
	http   *httptest.Server
	admin  string // secret of the admin key
	logs   *syncBuffer
}

// syncBuffer collects log lines written from the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newFixture(t *testing.T) *fixture {
	return newFixtureWith(t, func(*http.Server) {})
}

func newFixtureWith(t *testing.T, tune func(*http.Server)) *fixture {
	t.Helper()
	local, err := backend.OpenLocal(filepath.Join(t.TempDir(), "ledger.db"), backend.LocalOptions{Store: store.Options{KeysPath: filepath.Join(t.TempDir(), "keys.json")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	logs := &syncBuffer{}
	srv := NewServer(local, ServerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	hs := httptest.NewUnstartedServer(srv)
	hs.Config = NewHTTPServer(srv, Timeouts{}, nil)
	tune(hs.Config)
	hs.Start()
	t.Cleanup(hs.Close)
	key, err := local.CreateKey(context.Background(), store.CreateKeyRequest{Role: store.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, local: local, server: srv, http: hs, admin: key.Secret, logs: logs}
}

// client is a Client of the fixture's server holding token.
func (f *fixture) client(token string) *Client {
	return NewClient(f.http.URL, token, WithHTTPClient(f.http.Client()))
}

// key makes an API key and returns its secret.
func (f *fixture) key(role store.Role, account string) string {
	f.t.Helper()
	k, err := f.local.CreateKey(context.Background(), store.CreateKeyRequest{Role: role, Account: account})
	if err != nil {
		f.t.Fatal(err)
	}
	return k.Secret
}

// response is a raw answer of the server.
type response struct {
	status int
	header http.Header
	body   []byte
}

// errorCode decodes the error body, failing the test when there is none.
func (r response) errorDetail(t *testing.T) errorDetail {
	t.Helper()
	var eb errorBody
	if err := decodeStrict(r.body, &eb); err != nil || eb.Error.Code == "" || eb.Error.Type == "" || eb.Error.Message == "" {
		t.Fatalf("status %d body %q is not an error body (%v)", r.status, r.body, err)
	}
	return eb.Error
}

func decodeStrict(b []byte, v any) error { return decodeBody(b, v) }

// do sends a raw request with the token (none when empty) and extra headers.
func (f *fixture) do(method, path, token, body string, headers ...string) response {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.http.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := f.http.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// ledgerBuckets are every bucket a request could change.
var ledgerBuckets = []store.Bucket{
	store.BucketMeta, store.BucketAccounts, store.BucketWorld, store.BucketTransfers,
	store.BucketIdempotency, store.BucketAudit, store.BucketTags, store.BucketTagIndex,
	store.BucketReplies, store.BucketOrders, store.BucketDevices, store.BucketLogins,
	store.BucketCards, store.BucketTokens, store.BucketTokenIndex, store.BucketKeys,
	store.BucketKeyIndex, store.BucketSUNCounters, store.BucketSUNKeys,
}

// snapshot is a digest of every record of the ledger: equal snapshots, equal ledgers.
func (f *fixture) snapshot() string {
	f.t.Helper()
	h := sha256.New()
	err := f.local.DB.View(context.Background(), func(tx *store.Tx) error {
		for _, b := range ledgerBuckets {
			io.WriteString(h, string(b)+"\x00")
			if err := tx.ForEach(b, "", false, func(k string, v []byte) error {
				io.WriteString(h, k+"\x00")
				h.Write(v)
				h.Write([]byte{0})
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// verifyClean fails the test when ledger verify finds anything.
func (f *fixture) verifyClean() {
	f.t.Helper()
	v, err := f.local.Verify(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	if len(v) != 0 {
		f.t.Fatalf("ledger verify: %v", v)
	}
}

// world is a small ledger with two of everything, so that each key has something it
// must not reach.
type world struct {
	merchant1, merchant2 store.Account
	payer1, payer2       store.Account
	tag1, tag2           orders.Tag
	paid1, paid2         orders.Order // paid: payer1 → merchant1, payer2 → merchant2
	open2                orders.Order // created, unpaid: payer2 → merchant2
	dev1, dev2           string       // payer1 logged in on dev1, payer2 on dev2
	dev2b                string       // payer2's second device
	card1, card2         cards.Card   // bound to dev1 and dev2
	token2               cards.Token  // payer2's nfc token
}

func (f *fixture) buildWorld() world {
	f.t.Helper()
	ctx := context.Background()
	l := f.local
	must := func(err error) {
		f.t.Helper()
		if err != nil {
			f.t.Fatal(err)
		}
	}
	var w world
	var err error
	account := func(name string, kind store.AccountKind) store.Account {
		a, err := l.CreateAccount(ctx, store.CreateAccountRequest{Name: name, Kind: kind, Currency: "EUR"})
		must(err)
		return a
	}
	w.merchant1, w.merchant2 = account("Cafe One", store.AccountMerchant), account("Kiosk Two", store.AccountMerchant)
	w.payer1, w.payer2 = account("Ada", store.AccountPerson), account("Bob", store.AccountPerson)
	for _, p := range []store.Account{w.payer1, w.payer2} {
		_, err = l.FundAccount(ctx, store.FundRequest{Account: p.ID, Amount: "100.00"})
		must(err)
	}
	w.tag1, err = l.RegisterTag(ctx, orders.RegisterRequest{UID: "04515CFA6F7381", Merchant: w.merchant1.ID})
	must(err)
	w.tag2, err = l.RegisterTag(ctx, orders.RegisterRequest{UID: "04DE5F1EACC040", Merchant: w.merchant2.ID})
	must(err)
	order := func(tag orders.Tag, payer store.Account, pay bool) orders.Order {
		r, err := l.ParsePaymentRequest(ctx, orders.PaymentRequest{UID: tag.UID, Content: tag.Content})
		must(err)
		o, err := l.CreateOrder(ctx, orders.OrderRequest{Reply: r.ID, Payer: payer.ID, Amount: "5.00"})
		must(err)
		if pay {
			o, err = l.PayOrder(ctx, orders.PayRequest{Order: o.ID})
			must(err)
		}
		return o
	}
	w.paid1, w.paid2 = order(w.tag1, w.payer1, true), order(w.tag2, w.payer2, true)
	w.open2 = order(w.tag2, w.payer2, false)
	w.dev1, w.dev2, w.dev2b = store.NewID(store.PrefixDevice), store.NewID(store.PrefixDevice), store.NewID(store.PrefixDevice)
	login := func(p store.Account, dev string) {
		_, err := l.Login(ctx, cards.LoginRequest{Account: p.ID, Device: dev})
		must(err)
	}
	login(w.payer1, w.dev1)
	login(w.payer2, w.dev2)
	login(w.payer2, w.dev2b)
	w.card1, err = l.AddCard(ctx, cards.AddCardRequest{Account: w.payer1.ID, Label: "debit", Device: w.dev1})
	must(err)
	w.card2, err = l.AddCard(ctx, cards.AddCardRequest{Account: w.payer2.ID, Label: "debit", Device: w.dev2})
	must(err)
	_, err = l.ActivateCard(ctx, cards.ActivateRequest{Card: w.card1.ID, Functions: []cards.Function{cards.FunctionNFC}})
	must(err)
	act, err := l.ActivateCard(ctx, cards.ActivateRequest{Card: w.card2.ID, Functions: []cards.Function{cards.FunctionNFC}})
	must(err)
	w.token2 = act.Identifiers[0]
	return w
}
