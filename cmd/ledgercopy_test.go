package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
	"github.com/tagpay/tagpay/store/storetest"
)

// cli runs tagpay's entry point in this process with a home of its own, so that no
// configuration of the machine's user leaks in.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	home := t.TempDir()
	for k, v := range map[string]string{"HOME": home, "XDG_CONFIG_HOME": home, "XDG_DATA_HOME": home, "NO_COLOR": "1", "TAGPAY_SERVER": "", "TAGPAY_TOKEN": "", "TAGPAY_DB": "", "TAGPAY_KEYS": keysFor(t)} {
		t.Setenv(k, v)
	}
	ios, _, out, errOut := Test()
	code = Main(context.Background(), args, ios, BuildInfo{Version: "v0.0.0-test"})
	return code, out.String(), errOut.String()
}

// withPassword puts a password into a database URL; the test cluster trusts local
// connections, so it is never checked, only carried, which is what the tests need to
// see that it never shows.
func withPassword(t *testing.T, target, password string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), password)
	return u.String()
}

// busyLedger writes a ledger file with funded accounts, a merchant's tag, paid taps and
// a refund, so that a copy has every kind of record to carry.
func busyLedger(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	local, err := backend.OpenLocal(path, backend.LocalOptions{Store: store.Options{NoSync: true, KeysPath: keysFor(t)}})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	m, err := local.CreateAccount(ctx, store.CreateAccountRequest{Name: "Copy Café", Kind: store.AccountMerchant, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	tag, err := local.RegisterTag(ctx, orders.RegisterRequest{UID: "04C2A5D1E0F0AA", Merchant: m.ID, Label: "till"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		p, err := local.CreateAccount(ctx, store.CreateAccountRequest{Name: fmt.Sprint("payer ", i), Kind: store.AccountPerson, Currency: "EUR"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := local.FundAccount(ctx, store.FundRequest{Account: p.ID, Amount: "50.00", IdempotencyKey: fmt.Sprint("fund-", i)}); err != nil {
			t.Fatal(err)
		}
		r, err := local.Tap(ctx, orders.TapRequest{UID: tag.UID, Content: tag.Content, Payer: p.ID, Amount: fmt.Sprintf("%d.25", i+1), IdempotencyKey: fmt.Sprint("tap-", i)})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if _, err := local.RefundOrder(ctx, orders.RefundRequest{Order: r.Order.ID, Amount: "0.25"}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestLedgerCopyIntoPostgreSQL(t *testing.T) {
	const password = "pw-Kq83zzT1"
	file := filepath.Join(t.TempDir(), "ledger.db")
	busyLedger(t, file)
	target := withPassword(t, storetest.PGTarget(t), password)

	code, out, errOut := cli(t, "ledger", "copy", "--from", file, "--to", target)
	if code != ExitOK {
		t.Fatalf("ledger copy: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "copied ") || !strings.Contains(out, "accounts 7") || !strings.Contains(out, "both ledgers verify clean") {
		t.Errorf("ledger copy does not say what it copied and checked:\n%s", out)
	}
	if strings.Contains(out+errOut, password) {
		t.Errorf("ledger copy printed the database password:\n%s%s", out, errOut)
	}

	// The copy is a ledger of its own: it verifies, and its accounts hold what the file's do.
	if code, out, errOut := cli(t, "--db", target, "ledger", "verify"); code != ExitOK {
		t.Fatalf("ledger verify on the copy: exit %d\n%s%s", code, out, errOut)
	}
	balances := func(db string) map[string]int64 {
		t.Helper()
		code, out, errOut := cli(t, "--db", db, "account", "list", "-o", "json")
		if code != ExitOK {
			t.Fatalf("account list on %s: exit %d %s", db, code, errOut)
		}
		var as []struct {
			ID      string `json:"id"`
			Balance struct {
				Amount int64 `json:"amount"`
			} `json:"balance"`
		}
		if err := json.Unmarshal([]byte(out), &as); err != nil {
			t.Fatalf("account list -o json: %v\n%s", err, out)
		}
		m := map[string]int64{}
		for _, a := range as {
			m[a.ID] = a.Balance.Amount
		}
		return m
	}
	src, dst := balances(file), balances(target)
	if len(src) != 7 || fmt.Sprint(src) != fmt.Sprint(dst) {
		t.Errorf("balances differ:\nfile %v\ncopy %v", src, dst)
	}

	// A second copy into the same, now non-empty, database is refused and changes nothing.
	code, out, errOut = cli(t, "ledger", "copy", "--from", file, "--to", target)
	if code != ExitConflict || !strings.Contains(errOut, "already holds records") {
		t.Errorf("copy into a non-empty database: exit %d, %q; want %d and a refusal", code, errOut, ExitConflict)
	}
	if after := balances(target); fmt.Sprint(after) != fmt.Sprint(dst) {
		t.Errorf("the refused copy changed the database: %v, was %v", after, dst)
	}
	if strings.Contains(out+errOut, password) {
		t.Errorf("the refusal printed the database password: %s", errOut)
	}
}

func TestLedgerCopyJSON(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ledger.db")
	busyLedger(t, file)
	// Any two engines: the PostgreSQL target when there is one, else a second file.
	target := filepath.Join(t.TempDir(), "copy.db")
	code, out, errOut := cli(t, "ledger", "copy", "--from", file, "--to", target, "-o", "json")
	if code != ExitOK {
		t.Fatalf("ledger copy: exit %d\n%s%s", code, out, errOut)
	}
	var res CopyResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !res.Verified || res.Accounts != 7 || res.Transfers != 11 || res.Buckets["orders"] != 5 || res.Records == 0 {
		t.Errorf("copy result %+v: want verified, 7 accounts, 11 transfers (5 fundings, 5 payments, 1 refund), 5 orders", res)
	}
}

func TestLedgerCopyRefusesAMissingSource(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := cli(t, "ledger", "copy", "--from", filepath.Join(dir, "nope.db"), "--to", filepath.Join(dir, "copy.db"))
	if code != ExitNotFound || !strings.Contains(errOut, "no ledger file") {
		t.Errorf("copy of a missing file: exit %d %q, want %d", code, errOut, ExitNotFound)
	}
	if code, _, _ := cli(t, "ledger", "copy", "--to", filepath.Join(dir, "copy.db")); code != ExitUsage {
		t.Errorf("copy without --from: exit %d, want %d", code, ExitUsage)
	}
}

// testKeys holds each test's key file: one per test, shared by every command it runs, as
// a person's configuration would be.
var testKeys sync.Map

func keysFor(t *testing.T) string {
	if p, ok := testKeys.Load(t.Name()); ok {
		return p.(string)
	}
	p := filepath.Join(t.TempDir(), "keys.json")
	testKeys.Store(t.Name(), p)
	t.Cleanup(func() { testKeys.Delete(t.Name()) })
	return p
}
