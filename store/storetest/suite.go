package storetest

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// RunOnEngines runs a package's whole suite (m.Run) once per engine, with *engine set to
// it, for packages whose fixtures open their ledger on *engine: first on bbolt, then on
// PostgreSQL when EnvPG names a database or CI is set (where the PostgreSQL half must
// run, and fails without one). It returns the exit code for os.Exit. A test that fails
// should name the engine, as the suite runs under the same test names twice.
//
// Benchmarks, fuzzing and -list run on the first pass only: they measure or explore one
// engine, and a second listing would repeat the first.
func RunOnEngines(m *testing.M, engine *Engine) int {
	*engine = Bolt
	code := m.Run()
	if set("test.fuzz") || set("test.list") {
		return code
	}
	if os.Getenv(EnvPG) == "" && os.Getenv("CI") != "true" {
		if testing.Verbose() {
			fmt.Printf("storetest: %s is not set; the suite ran on bbolt only\n", EnvPG)
		}
		return code
	}
	if f := flag.Lookup("test.bench"); f != nil {
		f.Value.Set("")
	}
	*engine = Postgres
	if testing.Verbose() {
		fmt.Println("storetest: the suite again, on postgres")
	}
	if c := m.Run(); code == 0 {
		code = c
	}
	*engine = Bolt
	return code
}

func set(name string) bool {
	f := flag.Lookup(name)
	return f != nil && f.Value.String() != ""
}
