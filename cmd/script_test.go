package cmd

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	bolt "go.etcd.io/bbolt"

	"github.com/tagpay/tagpay/store"
)

// TestMain makes this test binary also the tagpay program (and a few helpers) for the
// scripts, so that they run the real entry point as a separate process.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"tagpay": func() {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			code := Main(ctx, os.Args[1:], System(), BuildInfo{Version: "v0.0.0-test", Commit: "abc1234", Date: "2026-01-02T03:04:05Z"})
			stop()
			os.Exit(code)
		},
		"hold-ledger":   holdLedger,
		"set-schema":    setSchema,
		"hook-receiver": hookReceiver,
	})
}

// TestScripts runs the scenarios of testdata/script against the local ledger.
func TestScripts(t *testing.T) {
	testscript.Run(t, scriptParams(false, nil))
}

// scriptParams are the parameters of the CLI scenarios. The ledger is chosen through the
// environment (XDG_DATA_HOME under $WORK), never with --db, so that the same scenarios run
// against a server when remote is set and setup points TAGPAY_SERVER and TAGPAY_TOKEN at
// one; scenarios that only make sense locally start with `[remote] skip`.
func scriptParams(remote bool, setup func(*testscript.Env) error) testscript.Params {
	return testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(e *testscript.Env) error {
			data := filepath.Join(e.WorkDir, "data")
			e.Setenv("HOME", filepath.Join(e.WorkDir, "home"))
			e.Setenv("XDG_DATA_HOME", data)
			e.Setenv("XDG_CONFIG_HOME", filepath.Join(e.WorkDir, "config"))
			e.Setenv("LEDGER", filepath.Join(data, "tagpay", "ledger.db"))
			e.Setenv("NO_COLOR", "1")
			if os.Getenv("GORACE") == "" {
				// A program built with -race waits a second as it exits, so that goroutines
				// still running may report a race; the scripts start hundreds of tagpay
				// processes, and a race is reported when it happens, wait or no wait.
				e.Setenv("GORACE", "atexit_sleep_ms=0")
			}
			if setup != nil {
				return setup(e)
			}
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond == "remote" {
				return remote, nil
			}
			if cond == "pcsc" {
				return pcscCondition()
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"capture":    cmdCapture,
			"exits":      cmdExits,
			"flipchar":   cmdFlipChar,
			"waitfile":   cmdWaitFile,
			"emulate":    cmdEmulate,
			"waitreader": cmdWaitReader,
		},
	}
}

// capture VAR [FIELD.PATH] sets VAR to a value of the JSON on the last command's stdout
// (a dotted path; numbers index arrays), or to the whole stdout trimmed.
func cmdCapture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: capture VAR [field.path]")
	}
	out := ts.ReadFile("stdout")
	if len(args) == 1 {
		ts.Setenv(args[0], strings.TrimSpace(out))
		return
	}
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		ts.Fatalf("capture: stdout is not JSON: %v", err)
	}
	for _, p := range strings.Split(strings.TrimPrefix(args[1], "."), ".") {
		switch node := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = node[p]; !ok {
				ts.Fatalf("capture: no field %q in %s", p, args[1])
			}
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(node) {
				ts.Fatalf("capture: no element %q in %s", p, args[1])
			}
			v = node[i]
		default:
			ts.Fatalf("capture: %s goes past a plain value", args[1])
		}
	}
	switch x := v.(type) {
	case string:
		ts.Setenv(args[0], x)
	default:
		b, _ := json.Marshal(x)
		ts.Setenv(args[0], string(b))
	}
}

// exits CODE PROG [ARGS...] runs a program like exec and checks its exit code; its
// stdout and stderr are kept for the checks that follow.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: %q is not an exit code", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exits: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// flipchar VAR changes the last character of $VAR to another one, as a tamperer editing
// a tag's content by one character would.
func cmdFlipChar(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: flipchar VAR")
	}
	v := ts.Getenv(args[0])
	if v == "" {
		ts.Fatalf("flipchar: $%s is empty", args[0])
	}
	last := v[len(v)-1]
	repl := byte('0')
	if last == '0' {
		repl = '1'
	}
	ts.Setenv(args[0], v[:len(v)-1]+string(repl))
}

// waitfile FILE waits (at most 30 s) until FILE exists: a background helper's signal
// that it is ready.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	name := ts.MkAbs(args[0])
	for range 3000 {
		if _, err := os.Stat(name); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	ts.Fatalf("waitfile: %s did not appear", args[0])
}

// hold-ledger PATH READY opens the ledger, creates READY, and holds the file until it is
// killed (or for a minute at most), as another tagpay process would.
func holdLedger() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: hold-ledger PATH READY")
		os.Exit(2)
	}
	db, err := store.Open(os.Args[1], store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.WriteFile(os.Args[2], nil, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
	case <-time.After(time.Minute):
	}
	db.Close()
}

// set-schema PATH N rewrites the schema version of a ledger, as a ledger written by
// another tagpay release would carry.
func setSchema() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: set-schema PATH N")
		os.Exit(2)
	}
	n, err := strconv.ParseUint(os.Args[2], 10, 32)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	db, err := bolt.Open(os.Args[1], 0o600, &bolt.Options{Timeout: time.Second})
	if err == nil {
		err = db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte(store.BucketMeta))
			if b == nil {
				return fmt.Errorf("no meta bucket")
			}
			return b.Put([]byte("schema_version"), binary.BigEndian.AppendUint32(nil, uint32(n)))
		})
		err = errorsJoin(err, db.Close())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
