package cmd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestScriptsRemote runs the scenarios of testdata/script a second time, against a real
// `tagpay serve` process started for each scenario on a free loopback port, with
// TAGPAY_SERVER and TAGPAY_TOKEN pointing at it and the condition [remote] true. The
// same commands must give the same output and exit codes as against the ledger file.
func TestScriptsRemote(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server per scenario")
	}
	testscript.Run(t, scriptParams(true, startServer))
}

// startServer starts `tagpay serve` with its own ledger under $WORK/.server, a
// bootstrapped admin key and the address written to a file, and stops it (SIGTERM, then
// SIGKILL) when the scenario ends. Its log is $WORK/.server/log.
func startServer(e *testscript.Env) error {
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
		"--db", filepath.Join(dir, "ledger.db"),
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
