package cmd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tagpay/tagpay/store/storetest"
)

// syncBuffer is a log the server writes from its goroutines while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// pgDatabase makes a database of its own on the test cluster (not just a schema: a
// test that shuts a database's doors must not shut anyone else's) and returns its URL.
// It is dropped when the test ends.
func pgDatabase(t *testing.T) string {
	t.Helper()
	base := storetest.PGBase(t)
	var raw [6]byte
	rand.Read(raw[:])
	name := "tagpay_test_" + hex.EncodeToString(raw[:])
	storetest.Exec(t, base, "CREATE DATABASE "+name)
	t.Cleanup(func() {
		storetest.Exec(t, base, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS true")
		storetest.Exec(t, base, "DROP DATABASE "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// cutDatabase shuts the database to new connections and ends every open one, as a
// failover or a dead network would from the replica's side; open lets them back in.
func cutDatabase(t *testing.T, target string, open bool) {
	t.Helper()
	u, _ := url.Parse(target)
	name := strings.TrimPrefix(u.Path, "/")
	base := storetest.PGBase(t)
	storetest.Exec(t, base, fmt.Sprintf("ALTER DATABASE %s ALLOW_CONNECTIONS %t", name, open))
	if !open {
		storetest.Exec(t, base, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name)
	}
}

// serveInProcess runs `tagpay serve` on target in this process and returns its base
// URL, the admin key and its log; the server stops when the test ends.
func serveInProcess(t *testing.T, target string) (base, token string, log *syncBuffer) {
	t.Helper()
	dir := t.TempDir()
	log = &syncBuffer{}
	ready := make(chan string, 1)
	opts := &ServeOptions{
		IO: &IOStreams{In: strings.NewReader(""), Out: log, ErrOut: log, noColor: true},
		DB: target, Addr: "127.0.0.1:0", BootstrapKeyFile: filepath.Join(dir, "admin.key"),
		MaxConns: 64, Ready: func(u string) { ready <- u },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, opts) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatalf("serve exited: %v\n%s", err, log)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not listen\n%s", log)
	}
	key, err := os.ReadFile(opts.BootstrapKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return base, strings.TrimSpace(string(key)), log
}

func status(t *testing.T, u string) int {
	t.Helper()
	hc := &http.Client{Timeout: 20 * time.Second}
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestReplicaLosesItsDatabaseAndRecovers: a replica whose database goes away answers
// /readyz 503 and its clients exit 8 (unavailable), while /healthz (the process) stays
// 200; once the database is back it answers again without a restart. Nothing secret
// reaches its log: not the database password, not the values of the failed requests.
func TestReplicaLosesItsDatabaseAndRecovers(t *testing.T) {
	const password = "pw-R3plicaZ9"
	target := withPassword(t, pgDatabase(t), password)
	base, token, log := serveInProcess(t, target)
	remote := func(args ...string) (int, string, string) {
		t.Helper()
		return cli(t, append([]string{"--server", base, "--token", token}, args...)...)
	}
	const name, idem = "Sensitive Name Qx71", "idem-Wv58kk"

	if s := status(t, base+"/readyz"); s != http.StatusOK {
		t.Fatalf("readyz on a reachable database: %d", s)
	}
	if code, _, errOut := remote("account", "create", "--name", "Before", "--kind", "person", "--currency", "EUR"); code != ExitOK {
		t.Fatalf("account create: exit %d %s", code, errOut)
	}

	cutDatabase(t, target, false)
	if s := status(t, base+"/readyz"); s != http.StatusServiceUnavailable {
		t.Errorf("readyz with the database gone: %d, want 503", s)
	}
	if s := status(t, base+"/healthz"); s == 0 {
		t.Errorf("healthz gave no answer")
	}
	code, _, errOut := remote("account", "create", "--name", name, "--kind", "person", "--currency", "EUR", "--idempotency-key", idem)
	if code != ExitUnavailable {
		t.Errorf("account create with the database gone: exit %d (%s), want %d", code, errOut, ExitUnavailable)
	}
	if code, _, errOut := remote("account", "list"); code != ExitUnavailable {
		t.Errorf("account list with the database gone: exit %d (%s), want %d", code, errOut, ExitUnavailable)
	}

	cutDatabase(t, target, true)
	deadline := time.Now().Add(20 * time.Second)
	for status(t, base+"/readyz") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("readyz did not come back after the database did\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, out, errOut := remote("account", "list")
	if code != ExitOK || !strings.Contains(out, "Before") {
		t.Errorf("account list after the database came back: exit %d %s%s", code, out, errOut)
	}

	logged := log.String()
	if !strings.Contains(logged, `"status":503`) {
		t.Errorf("the log shows no 503; the test proves nothing:\n%s", logged)
	}
	for _, secret := range []string{password, url.QueryEscape(password), name, idem, token} {
		if strings.Contains(logged, secret) {
			t.Errorf("the serve log holds %q:\n%s", secret, logged)
		}
	}
}

// TestServeLogNamesTheDatabaseWithoutItsPassword: the start-up line names the ledger
// it serves, with the password masked.
func TestServeLogNamesTheDatabaseWithoutItsPassword(t *testing.T) {
	const password = "pw-StartUp44"
	target := withPassword(t, pgDatabase(t), password)
	_, _, log := serveInProcess(t, target)
	logged := log.String()
	if !strings.Contains(logged, "serving postgres://") || strings.Contains(logged, password) {
		t.Errorf("start-up log: %s", logged)
	}
	// The schema exists now; a second connection sees it, so the start was real.
	conn, err := pgx.Connect(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM tagpay_kv").Scan(&n); err != nil || n == 0 {
		t.Errorf("the served database has no ledger: %d rows, %v", n, err)
	}
}
