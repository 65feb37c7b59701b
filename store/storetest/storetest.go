// Package storetest gives tests fresh, empty ledgers of each store engine: a file in a
// test folder (bbolt) or a schema of its own in the PostgreSQL database named by
// TAGPAY_TEST_PG. Without that variable the PostgreSQL half skips, except in CI
// (CI=true), where a skip would hide it and so fails.
//
// It names targets and never opens a ledger, so that package store's own tests use it
// too.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvPG holds the URL of a PostgreSQL database the tests may make schemas in.
const EnvPG = "TAGPAY_TEST_PG"

// Engine makes fresh ledger targets of one engine.
type Engine struct {
	Name string // "bbolt" or "postgres"
	// Target is where a new, empty ledger goes; whatever it made is removed when the
	// test ends.
	Target func(t testing.TB) string
}

var (
	Bolt     = Engine{"bbolt", BoltTarget}
	Postgres = Engine{"postgres", PGTarget}
	// Engines are the engines a suite runs on.
	Engines = []Engine{Bolt, Postgres}
)

// OnEngines runs test once per engine, as subtests named after them.
func OnEngines(t *testing.T, test func(t *testing.T, e Engine)) {
	for _, e := range Engines {
		t.Run(e.Name, func(t *testing.T) { test(t, e) })
	}
}

// BoltTarget is a ledger file in a test folder.
func BoltTarget(t testing.TB) string {
	return filepath.Join(t.TempDir(), "ledger.db")
}

// PGBase is the URL of the test database; without one the test skips, except in CI.
func PGBase(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPG)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: in CI the PostgreSQL half of the suite must run (scripts/test starts a cluster with scripts/pg)", EnvPG)
		}
		t.Skipf("%s is not set; scripts/pg start prints a URL for it", EnvPG)
	}
	return base
}

// PGTarget makes a schema of its own for the test, so that tests on one database never
// see each other's records, and returns the URL whose search_path is that schema. The
// schema is dropped when the test ends.
func PGTarget(t testing.TB) string {
	t.Helper()
	base := PGBase(t)
	var raw [8]byte
	rand.Read(raw[:])
	schema := "test_" + hex.EncodeToString(raw[:])
	Exec(t, base, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { Exec(t, base, "DROP SCHEMA "+schema+" CASCADE") })
	return WithParam(t, base, "search_path", schema)
}

// WithParam returns the URL with one query parameter set.
func WithParam(t testing.TB, target, key, value string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", EnvPG, err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// Exec runs SQL on a connection of its own.
func Exec(t testing.TB, target, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, target)
	if err != nil {
		t.Fatalf("connecting to the test database: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
