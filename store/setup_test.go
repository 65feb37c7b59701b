package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tagpay/tagpay/store/storetest"
)

// childModeEnv selects a child-process mode of the test binary: the crash, lock and
// write-fault tests re-run this binary to get a second process.
const childModeEnv = "TAGPAY_STORE_TEST_CHILD"

var childModes = map[string]func() int{}

func TestMain(m *testing.M) {
	if mode := os.Getenv(childModeEnv); mode != "" {
		run, ok := childModes[mode]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown child mode %q\n", mode)
			os.Exit(99)
		}
		os.Exit(run())
	}
	os.Exit(m.Run())
}

// childCommand prepares a re-run of the test binary in the given mode with extra
// environment settings.
func childCommand(t *testing.T, mode string, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childModeEnv+"="+mode), env...)
	return cmd
}

// testEngine makes fresh, empty ledgers of one engine, for the suite that runs on both.
type testEngine struct {
	name string
	// target is where a new ledger goes: a file in a test folder, or a database URL
	// whose search_path is a schema made for the test and dropped after it.
	target func(t testing.TB) string
}

// open opens a fresh ledger; it is closed when the test ends.
func (e testEngine) open(t testing.TB) *DB { return openAt(t, e.target(t)) }

var (
	boltEngineT = testEngine{"bbolt", storetest.BoltTarget}
	pgEngineT   = testEngine{"postgres", storetest.PGTarget}
)

// onEngines runs test once per engine, as subtests named after them.
func onEngines(t *testing.T, test func(t *testing.T, e testEngine)) {
	for _, e := range []testEngine{boltEngineT, pgEngineT} {
		t.Run(e.name, func(t *testing.T) { test(t, e) })
	}
}

var (
	pgBase    = storetest.PGBase
	pgTarget  = storetest.PGTarget
	withParam = storetest.WithParam
	pgExec    = storetest.Exec
)

// openLedger opens a fresh bbolt ledger in a test folder; it is closed when the test ends.
func openLedger(t testing.TB) *DB {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "ledger.db"))
}

// openAt opens without fsync: these tests pin down logic, not durability, and the
// machine's fsync would make them slow. The crash test and the benchmarks sync.
func openAt(t testing.TB, path string) *DB {
	t.Helper()
	db, err := Open(path, Options{LockTimeout: 50 * time.Millisecond, NoSync: true})
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// asActor runs as an API key holder of the given role and accounts.
func asActor(role Role, accounts ...string) context.Context {
	return WithActor(context.Background(), Actor{ID: "key_" + string(role), Role: role, Accounts: accounts})
}

func newAccount(t testing.TB, db *DB, name string, kind AccountKind, currency string) Account {
	t.Helper()
	a, err := db.CreateAccount(context.Background(), CreateAccountRequest{Name: name, Kind: kind, Currency: currency})
	if err != nil {
		t.Fatalf("creating account %s: %v", name, err)
	}
	return a
}

// fundedAccount creates a person account holding amount minor units.
func fundedAccount(t testing.TB, db *DB, name, currency string, amount int64) Account {
	t.Helper()
	a := newAccount(t, db, name, AccountPerson, currency)
	if amount > 0 {
		err := db.Update(context.Background(), func(tx *Tx) error {
			_, err := tx.Fund(a.ID, Money{Amount: amount, Currency: currency})
			return err
		})
		if err != nil {
			t.Fatalf("funding %s: %v", name, err)
		}
	}
	a.Balance = amount
	return a
}

func balance(t testing.TB, db *DB, id string) int64 {
	t.Helper()
	a, err := db.GetAccount(context.Background(), id)
	if err != nil {
		t.Fatalf("loading %s: %v", id, err)
	}
	return a.Balance
}

func verifyClean(t testing.TB, db *DB) {
	t.Helper()
	var vs []Violation
	err := db.View(context.Background(), func(tx *Tx) (err error) {
		vs, err = VerifyLedger(tx)
		return err
	})
	if err != nil {
		t.Fatalf("VerifyLedger: %v", err)
	}
	for _, v := range vs {
		t.Errorf("violation: %s", v)
	}
}

func countTransfers(t testing.TB, db *DB) int {
	t.Helper()
	js, err := db.Journal(context.Background(), Page{Limit: 0})
	if err != nil {
		t.Fatalf("Journal: %v", err)
	}
	return len(js)
}

// wantError checks err's kind and code (code "" skips the code check).
func wantError(t testing.TB, err error, kind Kind, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s/%s", kind, code)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v, want a *store.Error of kind %s", err, err, kind)
	}
	if e.Kind != kind || (code != "" && e.Code != code) {
		t.Fatalf("got %s/%s (%v), want %s/%s", e.Kind, e.Code, err, kind, code)
	}
}
