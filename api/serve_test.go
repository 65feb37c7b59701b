package api

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/store"
)

// startServe runs Serve on a free loopback port and returns its base URL and the
// channel of Serve's result.
func startServe(t *testing.T, ctx context.Context, local *backend.Local, cfg ServeConfig) (string, <-chan error) {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	ready := make(chan string, 1)
	cfg.Ready = func(u string) { ready <- u }
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, local, cfg) }()
	select {
	case u := <-ready:
		return u, done
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	return "", nil
}

func openTempLocal(t testing.TB) *backend.Local {
	t.Helper()
	l, err := backend.OpenLocal(filepath.Join(t.TempDir(), "ledger.db"), backend.LocalOptions{Store: store.Options{KeysPath: filepath.Join(t.TempDir(), "keys.json")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestServeFinishesInFlightRequestsOnShutdown(t *testing.T) {
	local := openTempLocal(t)
	ctx := context.Background()
	key, err := local.CreateKey(ctx, store.CreateKeyRequest{Role: store.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := local.CreateAccount(ctx, store.CreateAccountRequest{Name: "Ada", Kind: store.AccountPerson, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	// net/http drops a request whose headers it reads after the stop began, unanswered
	// and untouched; from the handler on, the request is the server's to finish.
	inHandler := make(chan struct{}, 1)
	cfg := ServeConfig{wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/fund") {
				inHandler <- struct{}{}
			}
			h.ServeHTTP(w, r)
		})
	}}
	base, done := startServe(t, sctx, local, cfg)

	// A request whose body is still on its way when the stop comes.
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"amount":"4.00"}`
	fmt.Fprintf(conn, "POST /v1/accounts/%s/fund HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", acct.ID, key.Secret, len(body), body[:5])
	<-inHandler
	stop()
	fmt.Fprint(conn, body[5:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the in-flight request was cut off: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("in-flight request: status %d", resp.StatusCode)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after shutdown: %v", err)
	}
	got, err := local.GetAccount(ctx, acct.ID)
	if err != nil || got.Balance != 4_00 {
		t.Fatalf("balance after shutdown = %d, %v; want the in-flight top-up applied", got.Balance, err)
	}
	if _, err := net.Dial("tcp", strings.TrimPrefix(base, "http://")); err == nil {
		t.Fatal("the server still accepts connections after shutdown")
	}
}

func TestServeTLS(t *testing.T) {
	local := openTempLocal(t)
	dir := t.TempDir()
	certFile, keyFile, pool := selfSignedCert(t, dir)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	base, done := startServe(t, ctx, local, ServeConfig{TLSCertFile: certFile, TLSKeyFile: keyFile})
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("base URL %s is not https", base)
	}
	key, err := local.CreateKey(ctx, store.CreateKeyRequest{Role: store.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	c := NewClient(base, key.Secret, WithHTTPClient(hc))
	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListAccounts(ctx, store.Page{}); err != nil {
		t.Fatal(err)
	}
	// A client that does not trust the certificate cannot talk to it.
	if _, err := NewClient(base, key.Secret).ListAccounts(ctx, store.Page{}); store.KindOf(err) != store.KindUnavailable {
		t.Fatalf("untrusting client: %v, want unavailable", err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	local := openTempLocal(t)
	ctx := context.Background()
	if err := Serve(ctx, local, ServeConfig{Addr: "127.0.0.1:0", TLSCertFile: "cert.pem"}); store.CodeOf(err) != "invalid_tls" {
		t.Errorf("cert without key: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "none.pem")
	if err := Serve(ctx, local, ServeConfig{Addr: "127.0.0.1:0", TLSCertFile: missing, TLSKeyFile: missing}); store.CodeOf(err) != "invalid_tls" {
		t.Errorf("missing cert files: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := Serve(ctx, local, ServeConfig{Addr: ln.Addr().String()}); store.CodeOf(err) != "address_in_use" || store.KindOf(err) != store.KindUnavailable {
		t.Errorf("busy address: %v", err)
	}
}

func TestBootstrapAdminKeyFile(t *testing.T) {
	local := openTempLocal(t)
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "admin.key")
	k, created, err := BootstrapAdminKey(ctx, local, file)
	if err != nil || !created || k.Role != store.RoleAdmin {
		t.Fatalf("BootstrapAdminKey = %+v, %v, %v", k, created, err)
	}
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	actor, err := local.Authenticate(ctx, strings.TrimSpace(string(raw)))
	if err != nil || actor.ID != k.ID || actor.Role != store.RoleAdmin {
		t.Fatalf("the written secret authenticates as %+v, %v", actor, err)
	}
	// A second start leaves the file, and its secret, alone.
	_, created, err = BootstrapAdminKey(ctx, local, file)
	if err != nil || created {
		t.Fatalf("second BootstrapAdminKey: created %v, %v", created, err)
	}
	if again, _ := os.ReadFile(file); string(again) != string(raw) {
		t.Fatal("a second start rewrote the key file")
	}
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key, and returns a pool
// that trusts it.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "tagpay test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
