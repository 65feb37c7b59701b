package cards

import (
	"os"
	"testing"

	"github.com/tagpay/tagpay/store/storetest"
)

// engine is the store engine the fixtures open ledgers on. TestMain runs the whole suite
// once per engine: on bbolt, then on PostgreSQL when the tests have a database
// (storetest.EnvPG; in CI they must).
var engine = storetest.Bolt

func TestMain(m *testing.M) {
	os.Exit(storetest.RunOnEngines(m, &engine))
}
