package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/store"
)

// DefaultAddr is where tagpay serve listens unless told otherwise: loopback only.
const DefaultAddr = "127.0.0.1:7433"

// ServeConfig says how Serve listens.
type ServeConfig struct {
	Addr        string // host:port; port 0 picks a free one
	TLSCertFile string // with TLSKeyFile: serve HTTPS
	TLSKeyFile  string
	Logger      *slog.Logger
	// MaxBodyBytes bounds request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Limits bound failed authentications per client address (on by default) and
	// requests per key (off unless set).
	Limits Limits
	// Proxies are the trusted reverse proxies (ServerOptions.TrustedProxies).
	Proxies []netip.Prefix
	// MaxConns caps the connections open at once; 0 means DefaultMaxConns, negative no
	// cap. Connections past the cap wait in the kernel's queue until one closes.
	MaxConns int
	// Timeouts; zero values take the defaults of DefaultTimeouts.
	Timeouts Timeouts
	// Ready, when set, is called with the base URL once the server accepts connections
	// (with port 0 it is the only way to learn the port).
	Ready func(baseURL string)

	// wrap, set by tests, wraps the handler: it lets a test know that a request has
	// reached the handler, the point from which net/http finishes it on shutdown.
	wrap func(http.Handler) http.Handler
}

// Timeouts cut off slow or idle clients.
type Timeouts struct {
	ReadHeader time.Duration // to read a request's headers
	Read       time.Duration // to read a whole request
	Write      time.Duration // from the end of the headers to the end of the response
	Idle       time.Duration // between requests on a kept-alive connection
	Shutdown   time.Duration // for in-flight requests to finish after a stop
}

// DefaultMaxConns is far more connections than tagpay clients keep open, and far fewer
// file descriptors than a process may hold.
const DefaultMaxConns = 1024

// DefaultTimeouts are generous for a person's CLI and short for a slowloris.
var DefaultTimeouts = Timeouts{
	ReadHeader: 5 * time.Second,
	Read:       15 * time.Second,
	Write:      30 * time.Second,
	Idle:       60 * time.Second,
	Shutdown:   30 * time.Second,
}

func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts
	for _, p := range []struct{ v, def *time.Duration }{
		{&t.ReadHeader, &d.ReadHeader}, {&t.Read, &d.Read}, {&t.Write, &d.Write},
		{&t.Idle, &d.Idle}, {&t.Shutdown, &d.Shutdown},
	} {
		if *p.v <= 0 {
			*p.v = *p.def
		}
	}
	return t
}

// NewHTTPServer wraps h in an http.Server with the timeouts set and TLS configured as
// TLSConfig says. A handler gets nine tenths of the write timeout, so that a request
// that takes too long is answered (503 request_cancelled) before its connection is cut.
func NewHTTPServer(h http.Handler, t Timeouts, log *slog.Logger) *http.Server {
	t = t.withDefaults()
	budget := t.Write * 9 / 10
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), budget)
			defer cancel()
			h.ServeHTTP(w, r.WithContext(ctx))
		}),
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    16 << 10,
		TLSConfig:         TLSConfig(),
	}
	if log != nil {
		srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	return srv
}

// TLSConfig is how the server speaks TLS: 1.3, or 1.2 with forward-secret AEAD suites
// only (ECDHE with AES-GCM or ChaCha20-Poly1305; no CBC, no RSA key exchange), and
// HTTP/2 or HTTP/1.1 by ALPN. TLS 1.3 suites are all AEAD and not configurable.
func TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos: []string{"h2", "http/1.1"},
	}
}

// limitListener lets at most cap(slots) connections be open at once: Accept waits for a
// slot, and closing a connection frees it.
type limitListener struct {
	net.Listener
	slots chan struct{}
	done  chan struct{}
	once  sync.Once
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// Serve runs the server on backend until ctx is cancelled, then stops accepting
// connections and lets in-flight requests finish (up to Timeouts.Shutdown) before it
// returns; every request either completes its ledger transaction or never starts it.
func Serve(ctx context.Context, be *backend.Local, cfg ServeConfig) error {
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		return store.Errorf(store.KindInvalid, "invalid_tls", "TLS needs both a certificate and a key file").WithParam("tls-cert")
	}
	addr := cfg.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := cfg.Timeouts.withDefaults()
	go pruneIdempotency(ctx, be, log)
	var h http.Handler = NewServer(be, ServerOptions{Logger: log, MaxBodyBytes: cfg.MaxBodyBytes, Limits: cfg.Limits, TrustedProxies: cfg.Proxies})
	if cfg.wrap != nil {
		h = cfg.wrap(h)
	}
	srv := NewHTTPServer(h, t, log)
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return store.Wrap(store.KindInvalid, "invalid_tls", err, "cannot load the TLS certificate %s and key %s", cfg.TLSCertFile, cfg.TLSKeyFile)
		}
		srv.TLSConfig.Certificates = []tls.Certificate{cert}
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return store.Wrap(store.KindUnavailable, "address_in_use", err, "cannot listen on %s: the address is in use", addr)
		}
		return store.Wrap(store.KindUnavailable, "cannot_listen", err, "cannot listen on %s", addr)
	}
	maxConns := cfg.MaxConns
	if maxConns == 0 {
		maxConns = DefaultMaxConns
	}
	if maxConns > 0 {
		ln = newLimitListener(ln, maxConns)
	}
	scheme := "http"
	serve := func() error { return srv.Serve(ln) }
	if cfg.TLSCertFile != "" {
		// ServeTLS, unlike Serve on a TLS listener, sets up HTTP/2 for the h2 of ALPN.
		scheme = "https"
		serve = func() error { return srv.ServeTLS(ln, "", "") }
	}
	baseURL := scheme + "://" + ln.Addr().String()
	log.Info("serving", slog.String("url", baseURL), slog.String("ledger", be.Path()))
	if cfg.Ready != nil {
		cfg.Ready(baseURL)
	}

	// Deliver webhooks while serving: the outbox holds whatever an earlier run left.
	dctx, stopDispatch := context.WithCancel(ctx)
	dispatched := make(chan struct{})
	go func() { be.Webhooks.Dispatch(dctx, log); close(dispatched) }()
	defer func() { stopDispatch(); <-dispatched }()

	served := make(chan error, 1)
	go func() { served <- serve() }()
	select {
	case err := <-served:
		return store.Wrap(store.KindUnavailable, "server_failed", err, "serving on %s failed", addr)
	case <-ctx.Done():
	}
	log.Info("shutting down", slog.Duration("grace", t.Shutdown))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.Shutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("stopping the server: in-flight requests did not finish within %s: %w", t.Shutdown, err)
	}
	<-served
	return nil
}

// BootstrapAdminKey writes a first admin key's secret to file (mode 0600) when the ledger
// has no API key at all, and reports whether it did. The file is created before the key,
// so that a file that cannot be written never leaves a key nobody knows.
func BootstrapAdminKey(ctx context.Context, be *backend.Local, file string) (store.APIKey, bool, error) {
	// A ledger with keys leaves the file alone: it may hold the secret of an earlier start.
	keys, err := be.DB.ListKeys(store.WithActor(ctx, store.LocalActor), store.Page{})
	if err != nil || len(keys) > 0 {
		return store.APIKey{}, false, err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return store.APIKey{}, false, store.Wrap(store.KindInvalid, "bootstrap_key_file", err, "cannot write the admin key file %s", file)
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil { // the file may have existed with a wider mode
		return store.APIKey{}, false, store.Wrap(store.KindInvalid, "bootstrap_key_file", err, "cannot restrict the admin key file %s", file)
	}
	key, created, err := be.DB.BootstrapAdminKey(ctx)
	if err != nil || !created {
		return store.APIKey{}, false, err
	}
	if _, err := f.WriteString(key.Secret + "\n"); err == nil {
		err = f.Sync()
	}
	if err != nil {
		// Nobody can learn this secret now: take the key out of service again.
		_, _ = be.DB.RevokeKey(store.WithActor(ctx, store.LocalActor), key.ID)
		return store.APIKey{}, false, store.Wrap(store.KindInternal, "bootstrap_key_file", err, "writing the admin key file %s failed; the key %s was revoked", file, key.ID)
	}
	return key.APIKey, true, nil
}

// pruneEvery is how often a server drops the idempotency records past their time.
const pruneEvery = time.Hour

// pruneIdempotency prunes expired idempotency records every pruneEvery until ctx ends;
// writes go on between its small batches.
func pruneIdempotency(ctx context.Context, be *backend.Local, log *slog.Logger) {
	tick := time.NewTicker(pruneEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		start := time.Now()
		n, err := be.DB.PruneIdempotency(ctx)
		if err != nil {
			log.Warn("pruning idempotency records failed", slog.String("error", err.Error()))
			continue
		}
		log.Info("pruned idempotency records", slog.Int("records", n), slog.String("took", time.Since(start).Round(time.Millisecond).String()))
	}
}
