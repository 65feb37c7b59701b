package api

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tagpay/tagpay/store"
)

// serveDirect answers one request as if it came from remoteAddr.
func serveDirect(s http.Handler, method, path, remoteAddr, token, body string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	req.RemoteAddr = remoteAddr
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

func errorOf(t *testing.T, rec *httptest.ResponseRecorder) errorDetail {
	t.Helper()
	var eb errorBody
	if err := decodeBody(rec.Body.Bytes(), &eb); err != nil || eb.Error.Code == "" {
		t.Fatalf("status %d body %q is not an error body (%v)", rec.Code, rec.Body.String(), err)
	}
	return eb.Error
}

func TestFailedAuthenticationIsRateLimitedPerAddress(t *testing.T) {
	local := openTempLocal(t)
	key, err := local.CreateKey(context.Background(), store.CreateKeyRequest{Role: store.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(local, ServerOptions{Limits: Limits{AuthFailureRate: 0.5, AuthFailureBurst: 3}})
	const mallory, alice = "192.0.2.7:4000", "198.51.100.1:5000"
	for i := range 3 {
		if rec := serveDirect(s, "GET", "/v1/accounts", mallory, "tpk_guess"+strconv.Itoa(i), ""); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	for _, token := range []string{"tpk_guess", "", key.Secret} {
		rec := serveDirect(s, "GET", "/v1/accounts", mallory, token, "")
		d := errorOf(t, rec)
		if rec.Code != http.StatusTooManyRequests || d.Code != "too_many_failed_authentications" || d.Type != "unavailable" {
			t.Fatalf("token %q after the burst: %d %+v", token, rec.Code, d)
		}
		retry, err := strconv.Atoi(rec.Header().Get("Retry-After"))
		if err != nil || retry < 1 || retry > 2 {
			t.Fatalf("Retry-After %q, want 1 or 2 seconds at half a token a second", rec.Header().Get("Retry-After"))
		}
	}
	// Another address, and another port of an IPv6 /64, are counted on their own.
	if rec := serveDirect(s, "GET", "/v1/accounts", alice, key.Secret, ""); rec.Code != http.StatusOK {
		t.Fatalf("another address: %d %s", rec.Code, rec.Body)
	}
	for i := range 3 {
		serveDirect(s, "GET", "/v1/accounts", "[2001:db8:1:2::"+strconv.Itoa(i+1)+"]:1", "tpk_x", "")
	}
	if rec := serveDirect(s, "GET", "/v1/accounts", "[2001:db8:1:2::99]:1", key.Secret, ""); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("a fourth address of one /64: %d, want 429", rec.Code)
	}
	if rec := serveDirect(s, "GET", "/v1/accounts", "[2001:db8:1:3::1]:1", key.Secret, ""); rec.Code != http.StatusOK {
		t.Fatalf("another /64: %d", rec.Code)
	}
	// The public health check is not behind authentication and so not behind its limit.
	if rec := serveDirect(s, "GET", "/healthz", mallory, "", ""); rec.Code != http.StatusOK {
		t.Fatalf("healthz from a limited address: %d", rec.Code)
	}
}

// TestTrustedProxyNamesTheClient: behind a proxy the server trusts, the limit counts
// the client that X-Forwarded-For names (the last hop that is not a trusted proxy, so a
// client cannot pick its own bucket by writing the header); from anyone else the header
// means nothing.
func TestTrustedProxyNamesTheClient(t *testing.T) {
	local := openTempLocal(t)
	key, err := local.CreateKey(context.Background(), store.CreateKeyRequest{Role: store.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	limits := Limits{AuthFailureRate: 0.01, AuthFailureBurst: 2}
	s := NewServer(local, ServerOptions{Limits: limits, Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	via := func(s http.Handler, peer, forwarded, token string) int {
		req := httptest.NewRequest("GET", "/v1/accounts", nil)
		req.RemoteAddr = peer
		req.Header.Set("X-Forwarded-For", forwarded)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Code
	}
	const proxy = "10.1.2.3:4000"
	// Mallory fails twice through the proxy, the second time claiming to be Alice.
	via(s, proxy, "192.0.2.7", "tpk_guess1")
	via(s, proxy, "198.51.100.1, 192.0.2.7", "tpk_guess2")
	if c := via(s, proxy, "192.0.2.7", key.Secret); c != http.StatusTooManyRequests {
		t.Fatalf("mallory after her burst: %d, want 429", c)
	}
	if c := via(s, proxy, "198.51.100.1, 10.9.9.9", key.Secret); c != http.StatusOK {
		t.Fatalf("alice through two proxies: %d, want 200", c)
	}
	if !strings.Contains(logs.String(), `"client":"198.51.100.1"`) {
		t.Fatalf("the log does not name the client behind the proxy:\n%s", logs.String())
	}
	// Without the proxy trusted, everyone behind it is the proxy.
	plain := NewServer(local, ServerOptions{Limits: limits})
	via(plain, proxy, "192.0.2.7", "tpk_guess1")
	via(plain, proxy, "192.0.2.7", "tpk_guess2")
	if c := via(plain, proxy, "198.51.100.1", key.Secret); c != http.StatusTooManyRequests {
		t.Fatalf("an untrusted X-Forwarded-For picked a bucket: %d, want 429", c)
	}
}

func TestFailedAuthenticationLimitIsOnByDefault(t *testing.T) {
	s := NewServer(openTempLocal(t), ServerOptions{})
	var last int
	for range DefaultAuthFailureBurst + 1 {
		last = serveDirect(s, "GET", "/v1/accounts", "192.0.2.9:1", "", "").Code
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("after %d failures: %d, want 429", DefaultAuthFailureBurst+1, last)
	}
	off := NewServer(openTempLocal(t), ServerOptions{Limits: Limits{AuthFailureRate: -1}})
	for range DefaultAuthFailureBurst + 5 {
		if c := serveDirect(off, "GET", "/v1/accounts", "192.0.2.9:1", "", "").Code; c != http.StatusUnauthorized {
			t.Fatalf("with the limit off: %d", c)
		}
	}
}

func TestRequestsPerKeyAreLimitedWhenConfigured(t *testing.T) {
	local := openTempLocal(t)
	ctx := context.Background()
	k1, _ := local.CreateKey(ctx, store.CreateKeyRequest{Role: store.RoleAdmin})
	k2, _ := local.CreateKey(ctx, store.CreateKeyRequest{Role: store.RoleAdmin})
	unlimited := NewServer(local, ServerOptions{})
	for range 50 {
		if c := serveDirect(unlimited, "GET", "/v1/accounts", "192.0.2.1:1", k1.Secret, "").Code; c != http.StatusOK {
			t.Fatalf("no per-key limit by default, yet %d", c)
		}
	}
	s := NewServer(local, ServerOptions{Limits: Limits{KeyRate: 1, KeyBurst: 2}})
	for i := range 2 {
		if c := serveDirect(s, "GET", "/v1/accounts", "192.0.2.1:1", k1.Secret, "").Code; c != http.StatusOK {
			t.Fatalf("request %d within the burst: %d", i, c)
		}
	}
	rec := serveDirect(s, "POST", "/v1/accounts", "192.0.2.2:1", k1.Secret, `{"name":"x","kind":"person","currency":"EUR"}`)
	if d := errorOf(t, rec); rec.Code != http.StatusTooManyRequests || d.Code != "rate_limited" || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("past the burst: %d %+v Retry-After %q", rec.Code, d, rec.Header().Get("Retry-After"))
	}
	if accounts, _ := local.ListAccounts(store.WithActor(ctx, store.LocalActor), store.Page{}); len(accounts) != 0 {
		t.Fatalf("a limited request created an account: %v", accounts)
	}
	if c := serveDirect(s, "GET", "/v1/accounts", "192.0.2.1:1", k2.Secret, "").Code; c != http.StatusOK {
		t.Fatalf("another key: %d", c)
	}
}

func TestConnectionsAreCapped(t *testing.T) {
	local := openTempLocal(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	base, done := startServe(t, ctx, local, ServeConfig{MaxConns: 2})
	addr := strings.TrimPrefix(base, "http://")
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	// Make sure both were accepted: each answers a request on its connection.
	for _, c := range held {
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 12)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "HTTP/1.1 200" {
			t.Fatalf("held connection: %q %v", buf, err)
		}
	}
	third := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 300 * time.Millisecond}
	if resp, err := third.Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a third connection was served while two were open")
	}
	held[0].Close()
	third.Timeout = 5 * time.Second
	resp, err := third.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("after a connection closed: %v", err)
	}
	resp.Body.Close()
	held[1].Close()
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRequestIDAndClientAddressAreLogged(t *testing.T) {
	logs := &syncBuffer{}
	local := openTempLocal(t)
	key, _ := local.CreateKey(context.Background(), store.CreateKeyRequest{Role: store.RoleAdmin})
	s := NewServer(local, ServerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))})

	req := httptest.NewRequest("GET", "/v1/accounts", nil)
	req.RemoteAddr = "203.0.113.5:4242"
	req.Header.Set("Authorization", "Bearer "+key.Secret)
	req.Header.Set("X-Request-Id", "client-chosen-id-1")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if got := rec.Header().Get("X-Request-Id"); got != "client-chosen-id-1" {
		t.Fatalf("a sane request id is echoed, got %q", got)
	}
	for _, insane := range []string{"short", strings.Repeat("a", 65), "has space in it", "new\nline-in-it", "tpk_" + strings.Repeat("é", 10), store.SecretPrefix + strings.Repeat("a", 52)} {
		req := httptest.NewRequest("GET", "/healthz", nil)
		req.Header.Set("X-Request-Id", insane)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if got := rec.Header().Get("X-Request-Id"); got == insane || !regexp.MustCompile(`^req_[a-z2-7]{24}$`).MatchString(got) {
			t.Fatalf("request id %q replaced by %q", insane, got)
		}
	}
	rec = serveDirect(s, "GET", "/v1/accounts", "203.0.113.6:1", "tpk_"+strings.Repeat("z", 52), "")
	made := rec.Header().Get("X-Request-Id")

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 8 {
		t.Fatalf("%d log lines for 8 requests:\n%s", len(lines), logs)
	}
	var first, last map[string]any
	json.Unmarshal([]byte(lines[0]), &first)
	json.Unmarshal([]byte(lines[7]), &last)
	if first["request_id"] != "client-chosen-id-1" || first["client"] != "203.0.113.5" {
		t.Fatalf("first line: %s", lines[0])
	}
	if last["request_id"] != made || last["client"] != "203.0.113.6" || last["code"] != "unknown_api_key" {
		t.Fatalf("last line: %s", lines[7])
	}
	dur, _ := first["duration"].(string)
	if d, err := time.ParseDuration(dur); err != nil || d <= 0 {
		t.Fatalf("duration %v is not in human units", first["duration"])
	}
	if strings.Contains(logs.String(), strings.Repeat("z", 52)) || strings.Contains(logs.String(), strings.Repeat("a", 52)) || strings.Contains(logs.String(), key.Secret) {
		t.Fatal("a secret reached the log")
	}
}

func TestHTTPLayerAnswersInTheErrorShape(t *testing.T) {
	local := openTempLocal(t)
	key, _ := local.CreateKey(context.Background(), store.CreateKeyRequest{Role: store.RoleAdmin})
	s := NewServer(local, ServerOptions{MaxBodyBytes: 64})
	s.handle(http.MethodGet, "/v1/test-panic", func(*call) (any, error) { panic("boom") })
	s.handle(http.MethodGet, "/v1/test-slow", func(c *call) (any, error) {
		<-c.ctx.Done()
		return nil, c.ctx.Err()
	})
	hs := httptest.NewUnstartedServer(nil)
	hs.Config = NewHTTPServer(s, Timeouts{Write: time.Second}, nil)
	hs.Start()
	defer hs.Close()
	tests := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/nowhere", "", 404, "route_not_found"},
		{"DELETE", "/v1/accounts", "", 405, "method_not_allowed"},
		{"GET", "/v1/../v1/accounts", "", 404, "not_found"},
		{"POST", "/v1/accounts", `{"name":"` + strings.Repeat("x", 100) + `"}`, 413, "request_too_large"},
		{"GET", "/v1/test-panic", "", 500, "internal"},
		{"GET", "/v1/test-slow", "", 503, "request_cancelled"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, hs.URL+tt.path, strings.NewReader(tt.body))
		req.URL.Opaque = tt.path // keep the dot segments
		req.Header.Set("Authorization", "Bearer "+key.Secret)
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.method, tt.path, err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var eb errorBody
		if err := decodeBody(raw, &eb); err != nil || resp.StatusCode != tt.status || eb.Error.Code != tt.code || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %s %q, want %d %s in JSON", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), raw, tt.status, tt.code)
		}
	}
}

// tlsServe starts Serve with a self-signed certificate and returns its address and a
// pool that trusts it.
func tlsServe(t *testing.T) (string, *tls.Config) {
	t.Helper()
	local := openTempLocal(t)
	certFile, keyFile, pool := selfSignedCert(t, t.TempDir())
	ctx, stop := context.WithCancel(context.Background())
	base, done := startServe(t, ctx, local, ServeConfig{TLSCertFile: certFile, TLSKeyFile: keyFile})
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return strings.TrimPrefix(base, "https://"), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

func TestTLSAsTheBestServersSetIt(t *testing.T) {
	addr, trust := tlsServe(t)
	dial := func(tune func(*tls.Config)) (tls.ConnectionState, error) {
		cfg := trust.Clone()
		tune(cfg)
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
		if err != nil {
			return tls.ConnectionState{}, err
		}
		defer c.Close()
		return c.ConnectionState(), nil
	}
	if _, err := dial(func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 }); err == nil {
		t.Error("a TLS 1.1 client was accepted")
	}
	for _, cbc := range []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256} {
		if _, err := dial(func(c *tls.Config) { c.MaxVersion, c.CipherSuites = tls.VersionTLS12, []uint16{cbc} }); err == nil {
			t.Errorf("TLS 1.2 with the CBC suite %s was accepted", tls.CipherSuiteName(cbc))
		}
	}
	for _, aead := range []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256} {
		st, err := dial(func(c *tls.Config) { c.MaxVersion, c.CipherSuites = tls.VersionTLS12, []uint16{aead} })
		if err != nil || st.Version != tls.VersionTLS12 || st.CipherSuite != aead {
			t.Errorf("TLS 1.2 with %s: %v", tls.CipherSuiteName(aead), err)
		}
	}
	st, err := dial(func(c *tls.Config) { c.NextProtos = []string{"h2", "http/1.1"} })
	if err != nil || st.Version != tls.VersionTLS13 || st.NegotiatedProtocol != "h2" {
		t.Fatalf("a modern client: version %x, protocol %q, %v", st.Version, st.NegotiatedProtocol, err)
	}
	// And HTTP/2 carries real requests, errors in the JSON shape included.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: trust, ForceAttemptHTTP2: true}}
	resp, err := hc.Get("https://" + addr + "/v1/accounts")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var eb errorBody
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusUnauthorized || decodeBody(raw, &eb) != nil || eb.Error.Code != "missing_api_key" {
		t.Fatalf("over h2: %s %d %s", resp.Proto, resp.StatusCode, raw)
	}
	// A plain-HTTP request to the TLS port gets nothing it could mistake for an answer.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(c)
	if strings.Contains(string(got), `"ok"`) {
		t.Fatal("plain HTTP was served on the TLS port")
	}
}

// FuzzClientAddr: whatever X-Forwarded-For holds, the client is the peer or an address
// of the header, never a proxy the server trusts, and from an untrusted peer always the
// peer.
func FuzzClientAddr(f *testing.F) {
	f.Add("10.0.0.1", "192.0.2.7")
	f.Add("10.0.0.1", "198.51.100.1, 10.9.9.9")
	f.Add("10.0.0.1", " ,,::ffff:10.1.1.1, 2001:db8::1%eth0")
	f.Add("192.0.2.1", "198.51.100.1")
	s := NewServer(openTempLocal(f), ServerOptions{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	f.Fuzz(func(t *testing.T, peer, forwarded string) {
		peerAddr, err := netip.ParseAddr(peer)
		if err != nil || peerAddr.Zone() != "" {
			return // the peer's address comes from the network stack, not the client
		}
		req := httptest.NewRequest("GET", "/healthz", nil)
		req.RemoteAddr = net.JoinHostPort(peer, "4000")
		req.Header.Set("X-Forwarded-For", forwarded)
		got := s.clientAddr(req)
		if !s.trusted(peerAddr) {
			if got != peer {
				t.Fatalf("untrusted peer %q: client %q", peer, got)
			}
			return
		}
		if got == peer {
			return
		}
		hops := map[string]bool{}
		for _, h := range strings.Split(forwarded, ",") {
			if a, err := netip.ParseAddr(strings.TrimSpace(h)); err == nil {
				hops[a.Unmap().WithZone("").String()] = true
			}
		}
		if !hops[got] || s.trusted(netip.MustParseAddr(got)) {
			t.Fatalf("peer %q, X-Forwarded-For %q: client %q", peer, forwarded, got)
		}
	})
}
