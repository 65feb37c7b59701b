package cmd

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/tagpay/tagpay/api"
	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

// requestLog counts the requests a server was sent, by method and path.
type requestLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.seen = append(l.seen, r.Method+" "+r.URL.Path)
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (l *requestLog) reset() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.seen
	l.seen = nil
	return out
}

// A script's pay is one request to the server; a confirmed one on a terminal is two (the
// preview writes nothing), and either way one ledger transaction.
func TestRemotePayIsOneRequest(t *testing.T) {
	ctx := context.Background()
	local, err := backend.OpenLocal(filepath.Join(t.TempDir(), "ledger.db"), backend.LocalOptions{Store: store.Options{KeysPath: filepath.Join(t.TempDir(), "keys.json")}})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	key, _, err := local.DB.BootstrapAdminKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	log := &requestLog{}
	srv := httptest.NewServer(log.wrap(api.NewServer(local, api.ServerOptions{})))
	defer srv.Close()
	client := api.NewClient(srv.URL, key.Secret)

	admin := store.WithActor(ctx, store.LocalActor)
	shop, _ := local.CreateAccount(admin, store.CreateAccountRequest{Name: "Shop", Kind: store.AccountMerchant, Currency: "EUR"})
	payer, _ := local.CreateAccount(admin, store.CreateAccountRequest{Name: "Pat", Kind: store.AccountPerson, Currency: "EUR"})
	if _, err := local.FundAccount(admin, store.FundRequest{Account: payer.ID, Amount: "10"}); err != nil {
		t.Fatal(err)
	}
	tag, err := local.RegisterTag(admin, orders.RegisterRequest{UID: "04AABBCCDDEE01", Merchant: shop.ID})
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name  string
		tty   bool
		stdin string
		want  []string
	}{
		{"--yes", false, "", []string{"POST /v1/taps"}},
		{"confirmed on a terminal", true, "y\n", []string{"POST /v1/taps/preview", "POST /v1/taps"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env, _ := testEnv(client, tt.stdin, tt.tty)
			log.reset()
			err := runPay(ctx, &PayOptions{Env: env, Payer: payer.ID, UID: tag.UID, Content: tag.Content, Amount: "1", Yes: !tt.tty})
			if err != nil {
				t.Fatal(err)
			}
			if got := log.reset(); !slices.Equal(got, tt.want) {
				t.Fatalf("requests = %q, want %q", got, tt.want)
			}
		})
	}
	vs, err := local.Verify(admin)
	if err != nil || len(vs) != 0 {
		t.Fatalf("verify: %v %v", vs, err)
	}
}
