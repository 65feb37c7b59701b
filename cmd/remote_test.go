package cmd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tagpay/tagpay/store/storetest"
)

// TestScriptsRemote runs the scenarios of testdata/script a second time, against a real
// `tagpay serve` process started for each scenario on a free loopback port, with
// TAGPAY_SERVER and TAGPAY_TOKEN pointing at it and the condition [remote] true. The
// same commands must give the same output and exit codes as against the ledger file.
func TestScriptsRemote(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server per scenario")
	}
	testscript.Run(t, scriptParams(true, func(e *testscript.Env) error {
		return startServer(e, filepath.Join(e.WorkDir, ".server", "ledger.db"))
	}))
}

// TestScriptsRemotePostgres runs the scenarios a third time, against `tagpay serve --db
// postgres://…`, each scenario on a schema of its own in the database of TAGPAY_TEST_PG:
// the same commands must give the same output and exit codes on either engine.
func TestScriptsRemotePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server per scenario")
	}
	base := storetest.PGBase(t)
	testscript.Run(t, scriptParams(true, func(e *testscript.Env) error {
		target, err := scenarioSchema(e, base)
		if err != nil {
			return err
		}
		return startServer(e, target)
	}))
}

// scenarioSchema makes a schema of its own for the scenario, dropped when it ends, and
// returns the URL that works in it.
func scenarioSchema(e *testscript.Env, base string) (string, error) {
	var raw [8]byte
	rand.Read(raw[:])
	schema := "script_" + hex.EncodeToString(raw[:])
	ctx := context.Background()
	exec := func(sql string) error {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return fmt.Errorf("connecting to the test database: %w", err)
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE SCHEMA " + schema); err != nil {
		return "", err
	}
	// Deferred before the server's own stop, so it runs after it (last in, first out).
	e.Defer(func() { exec("DROP SCHEMA " + schema + " CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// startServer starts `tagpay serve` on the ledger db (a file or a database URL) with a
// bootstrapped admin key and the address written to a file under $WORK/.server, and
// stops it (SIGTERM, then SIGKILL) when the scenario ends. Its log is $WORK/.server/log.
func startServer(e *testscript.Env, db string) error {
	tagpay, err := lookPath(e, "tagpay")
	if err != nil {
		return err
	}
	dir := filepath.Join(e.WorkDir, ".server")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	keyFile, addrFile := filepath.Join(dir, "admin.key"), filepath.Join(dir, "addr")
	logFile, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		return err
	}
	srv := exec.Command(tagpay, "serve", "--addr", "127.0.0.1:0",
		"--db", db,
		"--bootstrap-admin-key", keyFile, "--addr-file", addrFile)
	srv.Env = e.Vars
	srv.Dir = dir
	srv.Stdout, srv.Stderr = logFile, logFile
	if err := srv.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting tagpay serve: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	e.Defer(func() {
		srv.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			srv.Process.Kill()
			<-exited
		}
		logFile.Close()
	})

	for range 3000 { // up to 30 s for a cold start on a busy machine
		if raw, err := os.ReadFile(addrFile); err == nil {
			key, err := os.ReadFile(keyFile)
			if err != nil {
				return fmt.Errorf("reading the bootstrap admin key: %w", err)
			}
			e.Setenv("TAGPAY_SERVER", strings.TrimSpace(string(raw)))
			e.Setenv("TAGPAY_TOKEN", strings.TrimSpace(string(key)))
			return nil
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logFile.Name())
			return fmt.Errorf("tagpay serve exited before listening (%v):\n%s", err, log)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return fmt.Errorf("tagpay serve did not write %s in time", addrFile)
}

// lookPath finds a program on the scenario's PATH, where testscript puts the test
// binary's commands.
func lookPath(e *testscript.Env, name string) (string, error) {
	for _, dir := range filepath.SplitList(e.Getenv("PATH")) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is not on the scenario's PATH", name)
}
