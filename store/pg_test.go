package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgQuery runs a query on its own connection and returns its rows as text.
func pgQuery(t testing.TB, target, sql string, args ...any) [][]string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, target)
	if err != nil {
		t.Fatalf("connecting to the test database: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = fmt.Sprint(v)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func TestPGRefusesANewerSchema(t *testing.T) {
	for _, tt := range []struct {
		name, sql string
		args      []any
		want      []string
	}{
		{"tables and views", "UPDATE tagpay_schema SET version = 99", nil,
			[]string{"schema version 99", fmt.Sprintf("reads version %d", pgSchemaVersion)}},
		{"records", "UPDATE tagpay_kv SET value = $1 WHERE bucket = 'meta' AND key = $2",
			[]any{binary.BigEndian.AppendUint32(nil, SchemaVersion+1), metaSchema},
			[]string{fmt.Sprintf("schema version %d", SchemaVersion+1), fmt.Sprintf("reads version %d", SchemaVersion)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			target := pgTarget(t)
			db := openAt(t, target)
			alice := fundedAccount(t, db, "Alice", "EUR", 100)
			db.Close()
			pgExec(t, target, tt.sql, tt.args...)
			_, err := Open(target, Options{})
			wantError(t, err, KindConflict, "schema_version")
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q does not say %q", err, w)
				}
			}
			// Refused, not touched: the record is still there.
			if got := pgQuery(t, target, "SELECT balance FROM accounts WHERE id = $1", alice.ID); len(got) != 1 || got[0][0] != "100" {
				t.Errorf("after the refusal the account reads %v", got)
			}
		})
	}
}

// Replicas started at the same instant on an empty database: one creates the schema
// under the advisory lock, the others wait and find it made.
func TestPGReplicasStartingTogetherShareOneSchema(t *testing.T) {
	target := pgTarget(t)
	const replicas = 8
	dbs := make([]*DB, replicas)
	errs := make([]error, replicas)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() {
			<-start
			dbs[i], errs[i] = Open(target, Options{NoSync: true})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	if got := pgQuery(t, target, "SELECT count(*) FROM tagpay_kv WHERE bucket = 'meta'"); got[0][0] != "2" {
		t.Errorf("%s meta records, want the 2 of one creation", got[0][0])
	}
	a := fundedAccount(t, dbs[0], "Alice", "EUR", 500)
	for i, db := range dbs {
		if got := balance(t, db, a.ID); got != 500 {
			t.Errorf("replica %d reads balance %d, want 500", i, got)
		}
	}
}

// A database that holds something else under one of tagpay's names is refused, and
// left as it was.
func TestPGRefusesASchemaWithForeignTables(t *testing.T) {
	target := pgTarget(t)
	pgExec(t, target, "CREATE TABLE accounts (id int)")
	_, err := Open(target, Options{})
	wantError(t, err, KindConflict, "schema_conflict")
	if got := pgQuery(t, target, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'tagpay%'"); got[0][0] != "0" {
		t.Errorf("the refused open left %s tagpay tables behind", got[0][0])
	}
}

func TestPGUnreachableIsUnavailableAndKeepsThePasswordOut(t *testing.T) {
	const secret = "s3cr3t-Pw"
	for _, target := range []string{
		"postgres://tagpay:" + secret + "@127.0.0.1:1/ledger?connect_timeout=5",
		"postgresql://tagpay@127.0.0.1:1/ledger?password=" + secret + "&connect_timeout=5",
	} {
		_, err := Open(target, Options{})
		wantError(t, err, KindUnavailable, "ledger_unavailable")
		if msg := err.Error(); strings.Contains(msg, secret) || !strings.Contains(msg, "127.0.0.1:1") {
			t.Errorf("message %q: want the host named and the password left out", msg)
		}
	}
	for _, target := range []string{
		"postgres://tagpay:" + secret + "@127.0.0.1:notaport/ledger",
		"postgres://tagpay:" + secret + "@[::1/ledger",
	} {
		_, err := Open(target, Options{})
		wantError(t, err, KindInvalid, "invalid_database_url")
		if strings.Contains(err.Error(), secret) {
			t.Errorf("message %q holds the password", err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, shown, secret string }{
		{"postgres://u:pw@h:5432/db", "postgres://u:xxxxx@h:5432/db", "pw"},
		{"postgres://u@h/db?password=pw&sslmode=disable", "postgres://u@h/db?password=xxxxx&sslmode=disable", "pw"},
		{"postgres:///db?host=/run/pg", "postgres:///db?host=/run/pg", ""},
	}
	for _, tt := range tests {
		shown, secrets := redactURL(tt.in)
		if shown != tt.shown {
			t.Errorf("redactURL(%q) shows %q, want %q", tt.in, shown, tt.shown)
		}
		if tt.secret != "" && (len(secrets) == 0 || secrets[0] != tt.secret) {
			t.Errorf("redactURL(%q) found secrets %q, want %q", tt.in, secrets, tt.secret)
		}
	}
	if got := scrub("auth failed for pw p%40ss and p@ss", []string{"p@ss"}); got != "auth failed for pw xxxxx and xxxxx" {
		t.Errorf("scrub = %q", got)
	}
}

// The server drops every connection (a restart, a failover): the next calls get fresh
// connections without the process restarting.
func TestPGRecoversFromLostConnections(t *testing.T) {
	target := pgTarget(t)
	app := fmt.Sprintf("tagpay-recover-%d", time.Now().UnixNano())
	db := openAt(t, withParam(t, target, "application_name", app))
	alice := fundedAccount(t, db, "Alice", "EUR", 100)
	bob := newAccount(t, db, "Bob", AccountPerson, "EUR")
	base := pgBase(t)
	for round := range 3 {
		before := len(pgQuery(t, base, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", app))
		if before == 0 {
			t.Fatalf("round %d: the store holds no connection to drop", round)
		}
		pgQuery(t, base, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", app)
		deadline := time.Now().Add(5 * time.Second)
		for len(pgQuery(t, base, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", app)) > 0 {
			if time.Now().After(deadline) {
				t.Fatal("terminated connections did not go away")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := db.Ping(bg); err != nil {
			t.Fatalf("round %d: Ping after the connections were dropped: %v", round, err)
		}
		if _, err := transfer(db, alice.ID, bob.ID, Money{10, "EUR"}); err != nil {
			t.Fatalf("round %d: transfer after the connections were dropped: %v", round, err)
		}
	}
	if got := balance(t, db, bob.ID); got != 30 {
		t.Errorf("Bob holds %d, want 30", got)
	}
	verifyClean(t, db)
}

// A read that fails because the connection died reads as "absent" to fn, which refuses
// as a rule would: the failure, not the refusal, decides, and the transaction runs
// again on a fresh connection.
func TestPGLostConnectionInsideATransactionIsRetriedNotRefused(t *testing.T) {
	app := fmt.Sprintf("tagpay-midtx-%d", time.Now().UnixNano())
	db := openAt(t, withParam(t, pgTarget(t), "application_name", app))
	alice := fundedAccount(t, db, "Alice", "EUR", 100)
	base := pgBase(t)
	for _, batch := range []bool{false, true} {
		runs := 0
		retries := db.Retries()
		fn := func(tx *Tx) error {
			if runs++; runs == 1 {
				pgQuery(t, base, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", app)
				time.Sleep(100 * time.Millisecond)
			}
			if tx.GetRaw(BucketAccounts, alice.ID) == nil {
				return Errorf(KindNotFound, "account_not_found", "account %s not found", alice.ID)
			}
			return nil
		}
		var err error
		if batch {
			err = db.Batch(bg, fn)
		} else {
			err = db.Update(bg, fn)
		}
		if err != nil || runs != 2 || db.Retries()-retries != 1 {
			t.Errorf("batch %v: %v after %d runs (%d counted again); want success on the second run", batch, err, runs, db.Retries()-retries)
		}
	}
}

func TestPing(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db, err := Open(e.target(t), Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Ping(bg); err != nil {
			t.Errorf("Ping of an open ledger: %v", err)
		}
		db.Close()
		err = db.Ping(bg)
		if KindOf(err) != KindUnavailable {
			t.Errorf("Ping of a closed ledger: %v, want unavailable", err)
		}
	})
}

func TestPGPingNoticesANewerSchema(t *testing.T) {
	target := pgTarget(t)
	db := openAt(t, target)
	pgExec(t, target, "UPDATE tagpay_schema SET version = version + 1")
	wantError(t, db.Ping(bg), KindConflict, "schema_version")
}

// Many payers pay one merchant at once: each payment waits for the merchant's row lock,
// none is lost, and none needs to run again.
func TestPGHotMerchantLosesNoPayment(t *testing.T) {
	db := openAt(t, withParam(t, pgTarget(t), "pool_max_conns", "16"))
	shop := newAccount(t, db, "Shop", AccountMerchant, "EUR")
	const payers, payments = 32, 20
	var as []Account
	for i := range payers {
		as = append(as, fundedAccount(t, db, fmt.Sprint("payer ", i), "EUR", 1000))
	}
	retriesBefore := db.Retries()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, a := range as {
		wg.Go(func() {
			<-start
			for n := range payments {
				err := db.Batch(bg, func(tx *Tx) error {
					_, err := tx.Transfer(TransferSpec{Kind: TransferPayment, From: a.ID, To: shop.ID, Amount: Money{int64(1 + n), "EUR"}})
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	retries := db.Retries() - retriesBefore
	t.Logf("%d payments into one account, %d runs again", payers*payments, retries)
	each := int64(payments * (payments + 1) / 2)
	if got := balance(t, db, shop.ID); got != payers*each {
		t.Errorf("shop holds %d, want %d", got, payers*each)
	}
	for _, a := range as {
		if got := balance(t, db, a.ID); got != 1000-each {
			t.Errorf("payer %s holds %d, want %d", a.ID, got, 1000-each)
		}
	}
	if got := countTransfers(t, db); got != payers*(payments+1) {
		t.Errorf("%d transfers, want %d", got, payers*(payments+1))
	}
	// Accounts are locked in id order, so payments that share the merchant queue on its
	// row and never deadlock; a retry here means they collided instead.
	if retries != 0 {
		t.Errorf("%d runs again: payments into one account should queue on its row lock", retries)
	}
	verifyClean(t, db)
}

// TestPGTwoInsertsOfOneKeyCannotBothWin: two transactions read a key as absent and
// both write it, the second after the first committed. The writes wait for the commit
// to go in one round trip, so the second learns of the first's insert only then: it
// runs again, sees the first's record and keeps it.
func TestPGTwoInsertsOfOneKeyCannotBothWin(t *testing.T) {
	db := openAt(t, pgTarget(t))
	read1, read2, go1, go2 := make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})
	done1, done2 := make(chan error, 1), make(chan error, 1)
	go func() {
		done1 <- db.Update(bg, func(tx *Tx) error {
			if tx.GetRaw(BucketTagIndex, "race") != nil {
				return errors.New("first: the key exists")
			}
			close(read1)
			<-go1
			return tx.PutRaw(BucketTagIndex, "race", []byte("first"))
		})
	}()
	<-read1
	var runs atomic.Int32
	go func() {
		done2 <- db.Update(bg, func(tx *Tx) error {
			if runs.Add(1) == 1 {
				if tx.GetRaw(BucketTagIndex, "race") != nil {
					return errors.New("second: the key exists on the first run")
				}
				close(read2)
				<-go2 // the first has committed
				return tx.PutRaw(BucketTagIndex, "race", []byte("second"))
			}
			if v := tx.GetRaw(BucketTagIndex, "race"); string(v) != "first" {
				return fmt.Errorf("second, run again: the key holds %q", v)
			}
			return nil
		})
	}()
	<-read2
	close(go1)
	if err := <-done1; err != nil {
		t.Fatal(err)
	}
	close(go2)
	if err := <-done2; err != nil {
		t.Fatal(err)
	}
	var got []byte
	db.View(bg, func(tx *Tx) error { got = tx.GetRaw(BucketTagIndex, "race"); return nil })
	if string(got) != "first" || runs.Load() != 2 {
		t.Fatalf("the key holds %q after %d runs of the second; want first, 2", got, runs.Load())
	}
}

// Replicas starting together on a ledger without keys each try to make the first admin
// key: exactly one does. On PostgreSQL this is the bucket lock a scan takes.
func TestBootstrapAdminKeyConcurrently(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		const callers = 8
		db := openWarm(t, e, callers)
		made := make([]bool, callers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				<-start
				var err error
				_, made[i], err = db.BootstrapAdminKey(bg)
				if err != nil {
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		n := 0
		for _, m := range made {
			if m {
				n++
			}
		}
		keys := 0
		db.View(bg, func(tx *Tx) error {
			return tx.ForEach(BucketKeys, "", false, func(string, []byte) error { keys++; return nil })
		})
		if n != 1 || keys != 1 {
			t.Errorf("%d callers made a key, %d keys stored; want exactly 1", n, keys)
		}
	})
}

// openWarm opens a ledger that serves n transactions at once from the start: on
// PostgreSQL a pool with n connections already open, so that the callers of a race
// really overlap instead of queueing for connections.
func openWarm(t *testing.T, e testEngine, n int) *DB {
	t.Helper()
	target := e.target(t)
	if e.name == "postgres" {
		target = withParam(t, target, "pool_max_conns", fmt.Sprint(n))
	}
	db := openAt(t, target)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			db.View(bg, func(*Tx) error { time.Sleep(20 * time.Millisecond); return nil })
		})
	}
	wg.Wait()
	return db
}

// Replicas that open a new ledger at once, each with a key file of its own, end with the
// ledger bound to one key file: every other replica refuses secrets and writes, and
// removes the key file it made for nothing.
func TestLedgerBoundConcurrentlyToOneKeyFile(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		const callers = 4
		target := e.target(t)
		// Made first: two processes creating one bbolt file at once is another matter.
		made, err := Open(target, Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		made.Close()
		paths := make([]string, callers)
		errs := make([]error, callers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range callers {
			paths[i] = keysPath(t)
			wg.Go(func() {
				<-start
				db, err := Open(target, Options{NoSync: true, LockTimeout: 10 * time.Second, KeysPath: paths[i]})
				if err != nil {
					errs[i] = err
					return
				}
				_, errs[i] = db.Keyring()
				db.Close()
			})
		}
		close(start)
		wg.Wait()
		bound := 0
		for i, err := range errs {
			_, statErr := os.Stat(paths[i])
			switch {
			case err == nil:
				bound++
				if statErr != nil {
					t.Errorf("caller %d: bound, but its key file is gone: %v", i, statErr)
				}
			case IsCode(err, "keys_missing"):
				if statErr == nil {
					t.Errorf("caller %d lost the race and kept the key file it made", i)
				}
			default:
				t.Errorf("caller %d: %v", i, err)
			}
		}
		if bound != 1 {
			t.Errorf("%d key files bound to one ledger, want 1", bound)
		}
	})
}

// A scan reads the range in pages: long ranges come back whole and in order both ways,
// and stopping early stops.
func TestForEachPagesThroughLongRanges(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		db := e.open(t)
		const n = 1300
		err := db.Update(bg, func(tx *Tx) error {
			for _, k := range []string{"o", "p", "q/0"} {
				if err := tx.PutRaw(BucketTagIndex, k, []byte(k)); err != nil {
					return err
				}
			}
			for i := range n {
				if err := tx.PutRaw(BucketTagIndex, fmt.Sprintf("p/%05d", i), []byte{byte(i)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, reverse := range []bool{false, true} {
			var keys []string
			err := db.View(bg, func(tx *Tx) error {
				return tx.ForEach(BucketTagIndex, "p/", reverse, func(k string, v []byte) error {
					keys = append(keys, k)
					return nil
				})
			})
			if err != nil || len(keys) != n {
				t.Fatalf("reverse %v: %d keys, %v; want %d", reverse, len(keys), err, n)
			}
			for i, k := range keys {
				want := i
				if reverse {
					want = n - 1 - i
				}
				if k != fmt.Sprintf("p/%05d", want) {
					t.Fatalf("reverse %v: key %d is %s", reverse, i, k)
				}
			}
			seen := 0
			err = db.Update(bg, func(tx *Tx) error {
				return tx.ForEach(BucketTagIndex, "p/", reverse, func(k string, v []byte) error {
					if seen++; seen == 700 {
						return ErrStop
					}
					return nil
				})
			})
			if err != nil || seen != 700 {
				t.Errorf("reverse %v: stopped after %d, %v; want 700", reverse, seen, err)
			}
		}
	})
}

// The operator views read the stored JSON.
func TestPGViews(t *testing.T) {
	target := pgTarget(t)
	db := openAt(t, target)
	alice := fundedAccount(t, db, "Alice", "EUR", 1000)
	shop := newAccount(t, db, "Shop", AccountMerchant, "EUR")
	pay, err := transfer(db, alice.ID, shop.ID, Money{250, "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	paidAt := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	order := map[string]any{
		"id": "ord_1", "reply": "rep_1", "tag": "tag_1", "payer": alice.ID, "payee": shop.ID, "payee_name": "Shop",
		"amount": Money{250, "EUR"}, "refunded": Money{0, "EUR"}, "status": "paid",
		"instrument": map[string]string{"kind": "balance"}, "transfer": pay.ID, "created_at": paidAt, "paid_at": paidAt,
	}
	amount := Money{250, "EUR"}
	tag := map[string]any{
		"id": "tag_1", "ref": "r1", "uid": "04A1B2C3D4E5F6", "kind": "static", "merchant": shop.ID, "amount": &amount,
		"currency": "EUR", "base_url": "https://pay.example/t", "content": "x", "status": "active", "created_at": paidAt, "updated_at": paidAt,
	}
	err = db.Update(bg, func(tx *Tx) error {
		if err := tx.Put(BucketOrders, "ord_1", order); err != nil {
			return err
		}
		return tx.Put(BucketTags, "tag_1", tag)
	})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		sql  string
		want string
	}{
		{"SELECT name, kind, currency, balance FROM accounts WHERE id = '" + alice.ID + "'", "Alice person EUR 750"},
		{"SELECT name, kind, balance FROM accounts WHERE id = '" + shop.ID + "'", "Shop merchant 250"},
		{"SELECT sum(balance)::bigint FROM accounts", "0"},
		{"SELECT count(*) FROM accounts WHERE kind = 'world'", "1"},
		{"SELECT kind, from_account, to_account, amount, currency FROM transfers WHERE id = '" + pay.ID + "'",
			"payment " + alice.ID + " " + shop.ID + " 250 EUR"},
		{"SELECT posting, account, amount FROM postings WHERE transfer = '" + pay.ID + "' ORDER BY posting",
			"1 " + alice.ID + " -250 | 2 " + shop.ID + " 250"},
		{"SELECT count(*) FROM (SELECT a.id FROM accounts a JOIN postings p ON p.account = a.id GROUP BY a.id, a.balance HAVING sum(p.amount) <> a.balance) x", "0"},
		{"SELECT status, payer, payee, amount, currency, refunded, instrument, transfer, paid_at = created_at FROM orders",
			"paid " + alice.ID + " " + shop.ID + " 250 EUR 0 balance " + pay.ID + " true"},
		{"SELECT ref, uid, kind, merchant, status, amount, currency FROM tags", "r1 04A1B2C3D4E5F6 static " + shop.ID + " active 250 EUR"},
		{"SELECT action, subject, actor, detail->>'currency' FROM events WHERE action = 'account.create' AND subject = '" + alice.ID + "'", "account.create " + alice.ID + " local EUR"},
	}
	for _, c := range checks {
		var rows []string
		for _, r := range pgQuery(t, target, c.sql) {
			rows = append(rows, strings.Join(r, " "))
		}
		if got := strings.Join(rows, " | "); got != c.want {
			t.Errorf("%s\n got %q\nwant %q", c.sql, got, c.want)
		}
	}
	// A damaged record shows as a row of nulls rather than breaking the view.
	if err := db.Update(bg, func(tx *Tx) error { return tx.PutRaw(BucketAccounts, "acct_broken", []byte("{")) }); err != nil {
		t.Fatal(err)
	}
	if got := pgQuery(t, target, "SELECT count(*), count(id) FROM accounts"); strings.Join(got[0], " ") != "4 3" {
		t.Errorf("accounts with a damaged record: %v, want 4 rows, 3 readable", got)
	}
	// The views are for reading.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "UPDATE accounts SET balance = 0"); err == nil {
		t.Error("UPDATE through the accounts view succeeded")
	}
}

// A bbolt ledger copied into PostgreSQL is the same ledger: every record byte for byte,
// the same balances, and both verify.
func TestCopyBoltToPG(t *testing.T) {
	keys := keysPath(t)
	src := openKeys(t, boltEngineT.target(t), keys)
	as := fillLedger(t, src, 12, 400)
	if _, err := src.CreateKey(bg, CreateKeyRequest{Role: RoleAdmin, IdempotencyKey: "first"}); err != nil {
		t.Fatal(err)
	}
	var mac []byte
	if err := src.Update(bg, func(tx *Tx) (err error) { mac, err = tx.Secret("mac"); return err }); err != nil {
		t.Fatal(err)
	}
	dstTarget := pgTarget(t)
	dst := openAt(t, dstTarget)
	stats, err := Copy(bg, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("copied %s", stats)
	want := map[Bucket]int{}
	src.View(bg, func(tx *Tx) error {
		for _, b := range allBuckets {
			tx.ForEach(b, "", false, func(k string, _ []byte) error {
				if !Bookkeeping(b, k) {
					want[b]++
				}
				return nil
			})
		}
		return nil
	})
	for _, b := range allBuckets {
		if stats.Buckets[b] != want[b] {
			t.Errorf("bucket %s: copied %d, the source holds %d", b, stats.Buckets[b], want[b])
		}
	}
	if stats.Buckets[BucketTransfers] != 412 || stats.Total() != snapshotCount(want) {
		t.Errorf("stats %v", stats)
	}
	if a, b := fullSnapshot(t, src), fullSnapshot(t, dst); !bytes.Equal(a, b) {
		t.Error("the copy differs from the source")
	}
	for _, a := range as {
		if s, d := balance(t, src, a.ID), balance(t, dst, a.ID); s != d {
			t.Errorf("account %s: %d in the source, %d in the copy", a.ID, s, d)
		}
	}
	// The copy is keyed by the source's key file.
	keyed := openKeys(t, dstTarget, keys)
	var again []byte
	if err := keyed.View(bg, func(tx *Tx) (err error) { again, err = tx.Secret("mac"); return err }); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, mac) {
		t.Error("the copy has another MAC secret: its tags would no longer verify")
	}
	keyed.Close()
	// Into a ledger keyed by another key file, nothing is copied.
	otherKeyed := openKeys(t, pgTarget(t), keysPath(t))
	_, err = Copy(bg, src, otherKeyed)
	wantError(t, err, KindConflict, "keys_differ")
	verifyClean(t, src)
	verifyClean(t, dst)

	_, err = Copy(bg, src, dst)
	wantError(t, err, KindConflict, "ledger_not_empty")
	if n := countTransfers(t, dst); n != 412 {
		t.Errorf("a refused copy left %d transfers, want 412", n)
	}
	other := pgEngineT.open(t)
	newAccount(t, other, "Already here", AccountPerson, "EUR")
	_, err = Copy(bg, src, other)
	wantError(t, err, KindConflict, "ledger_not_empty")
	_, err = Copy(bg, src, src)
	wantError(t, err, KindInvalid, "same_ledger")
}

// Copy works between any two engines, back into a file too.
func TestCopyPGToBolt(t *testing.T) {
	src := pgEngineT.open(t)
	fillLedger(t, src, 5, 50)
	dst := openLedger(t)
	stats, err := Copy(bg, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Buckets[BucketTransfers] != 55 || stats.Buckets[BucketAccounts] != 6 {
		t.Errorf("stats %v", stats)
	}
	if !bytes.Equal(fullSnapshot(t, src), fullSnapshot(t, dst)) {
		t.Error("the copy differs from the source")
	}
	verifyClean(t, dst)
}

func snapshotCount(m map[Bucket]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}

// fullSnapshot is every record of every bucket, but for each ledger's notes about itself
// (a bbolt file's schema version and key layout are its own).
func fullSnapshot(t testing.TB, db *DB) []byte {
	t.Helper()
	var buf bytes.Buffer
	err := db.View(bg, func(tx *Tx) error {
		for _, b := range allBuckets {
			var lines []string
			err := tx.ForEach(b, "", false, func(k string, v []byte) error {
				if Bookkeeping(b, k) {
					return nil
				}
				if b == BucketIdempotency {
					k = idempotencySlot(k) // a bbolt file files them by generation
				}
				rec, _ := json.Marshal([]string{string(b), k, string(v)})
				lines = append(lines, string(rec))
				return nil
			})
			if err != nil {
				return err
			}
			slices.Sort(lines)
			for _, l := range lines {
				buf.WriteString(l + "\n")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
