package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgEngine keeps the ledger in a PostgreSQL database, one row per record of tagpay_kv
// (bucket, key, value), so that the domain code runs on it unchanged and many replicas
// share one ledger.
//
// Write transactions run at READ COMMITTED. Every read in them locks the row it finds
// (SELECT … FOR UPDATE), so a hot account is serialised by its row lock rather than by
// serialization failures; a key read as absent is inserted without ON CONFLICT, so two
// transactions that both saw it absent cannot both win (the loser gets a unique
// violation and runs again). A scan in a write transaction takes its bucket's advisory
// lock exclusively and every write takes it shared, so a decision made on "no such
// record in the bucket" holds until commit. Writes are queued and sent together, in
// order, before the next read or scan and before COMMIT: a tap's transaction is its
// reads, one round trip of writes and the commit. Read-only transactions see one
// snapshot (REPEATABLE READ).
type pgEngine struct {
	pool    *pgxpool.Pool
	url     string   // for messages: the URL without its password
	secrets []string // scrubbed from every message
	schema  string   // current_schema(); advisory locks are per database, so keyed by it
	closed  atomic.Bool
}

const (
	// pgMaxConflicts bounds the runs after serialization failures, deadlocks and
	// concurrent inserts of one key.
	pgMaxConflicts = 30
	// pgMaxReconnects bounds the runs after a connection lost before commit.
	pgMaxReconnects = 2
	// pgSetupTimeout bounds connecting and waiting for another replica's schema upgrade.
	pgSetupTimeout = 30 * time.Second
)

func openPG(target string, opts Options) (*pgEngine, error) {
	shown, secrets := redactURL(target)
	cfg, err := pgxpool.ParseConfig(target)
	if err != nil {
		// The parser's message may quote the URL, password and all.
		return nil, &Error{Kind: KindInvalid, Code: "invalid_database_url",
			Message: fmt.Sprintf("database URL %s is not valid", shown),
			Err:     pgFailure{err: err, text: "check its host, port and parameters"}}
	}
	if pw := cfg.ConnConfig.Password; pw != "" {
		secrets = append(secrets, pw)
	}
	params := cfg.ConnConfig.RuntimeParams
	if params["application_name"] == "" {
		params["application_name"] = "tagpay"
	}
	if opts.NoSync {
		params["synchronous_commit"] = "off"
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	e := &pgEngine{url: shown, secrets: secrets}
	ctx, cancel := context.WithTimeout(context.Background(), max(opts.LockTimeout, pgSetupTimeout))
	defer cancel()
	if err := e.migrate(ctx, cfg.ConnConfig); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, e.classify(e.failure(err), modeView, false)
	}
	e.pool = pool
	err = e.run(ctx, modeView, func(etx engineTx) error {
		return checkMeta(newTx(ctx, etx), e.url)
	})
	if err != nil {
		pool.Close()
		return nil, err
	}
	return e, nil
}

func (e *pgEngine) target() string { return e.url }
func (e *pgEngine) name() string   { return "postgres" }

func (e *pgEngine) close() error {
	if e.closed.CompareAndSwap(false, true) {
		e.pool.Close()
	}
	return nil
}

// ping reads the schema version: the database answers, and no newer tagpay has upgraded
// it under this one.
func (e *pgEngine) ping(ctx context.Context) error {
	return e.run(ctx, modeView, func(etx engineTx) error {
		t := etx.(*pgTx)
		var v int
		if err := t.tx.QueryRow(ctx, "SELECT version FROM tagpay_schema").Scan(&v); err != nil {
			return e.failure(err)
		}
		if v != pgSchemaVersion {
			return Errorf(KindConflict, "schema_version", "database %s has schema version %d; this tagpay reads version %d", e.url, v, pgSchemaVersion)
		}
		return nil
	})
}

// lockKey names an advisory lock of this ledger.
func (e *pgEngine) lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("tagpay\x00" + e.schema + "\x00" + name))
	return int64(h.Sum64())
}

func (e *pgEngine) run(ctx context.Context, mode txMode, fn func(engineTx) error) error {
	if mode == modeViewSettled || mode == modeViewHeld {
		mode = modeView // every commit is PostgreSQL's own: each view sees it
	}
	conflicts, reconnects := 0, 0
	for {
		if e.closed.Load() {
			return Errorf(KindUnavailable, "ledger_closed", "ledger %s is closed", e.url)
		}
		committing, err := e.attempt(ctx, mode, fn)
		if err == nil {
			return nil
		}
		var f pgFailure
		if !errors.As(err, &f) {
			// fn's own error: a rule's refusal passes unchanged, anything else is a bug
			// that rolled the transaction back.
			var se *Error
			if mode == modeView || errors.As(err, &se) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return Wrap(KindInternal, "ledger_write_failed", err, "writing ledger %s failed; nothing was changed", e.url)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch {
		case isConflict(err) && conflicts < pgMaxConflicts:
			conflicts++
			if err := sleep(ctx, backoff(conflicts)); err != nil {
				return err
			}
			continue
		case isConnLoss(err) && !committing && reconnects < pgMaxReconnects:
			// A server restart or a failover takes every connection with it: start over
			// with fresh ones rather than trying the dead ones one by one.
			reconnects++
			e.pool.Reset()
			continue
		}
		return e.classify(err, mode, committing)
	}
}

// backoff is a random wait of up to 1ms doubling per conflict, at most 50ms, so that
// transactions that collided do not collide again in step.
func backoff(n int) time.Duration {
	ceiling := min(time.Millisecond<<min(n-1, 10), 50*time.Millisecond)
	return time.Duration(rand.Int64N(int64(ceiling)) + 1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// attempt runs fn once in a transaction; committing reports whether COMMIT was sent,
// after which a lost connection leaves the outcome unknown.
func (e *pgEngine) attempt(ctx context.Context, mode txMode, fn func(engineTx) error) (committing bool, err error) {
	opts := pgx.TxOptions{IsoLevel: pgx.ReadCommitted, AccessMode: pgx.ReadWrite}
	if mode == modeView {
		opts = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	}
	ptx, err := e.pool.BeginTx(ctx, opts)
	if err != nil {
		return false, e.failure(err)
	}
	// Also when fn panics, so that the connection goes back to the pool; after a commit
	// this does nothing.
	defer rollback(ptx)
	t := &pgTx{e: e, tx: ptx, ctx: ctx, write: mode != modeView}
	if err := fn(t); err != nil || mode == modeView {
		return false, err
	}
	if err := t.flush(); err != nil {
		return false, err
	}
	if err := ptx.Commit(ctx); err != nil {
		return true, e.failure(err)
	}
	return true, nil
}

// rollback ends a transaction even when its context is done.
func rollback(tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tx.Rollback(ctx)
}

// classify gives an engine failure its kind. Messages name the database without its
// password and carry PostgreSQL's message without the statement's parameters.
func (e *pgEngine) classify(err error, mode txMode, committing bool) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) {
			return Wrap(KindUnavailable, "ledger_unavailable", err, "database %s did not answer in time", e.url)
		}
		return err
	}
	var pe *pgconn.PgError
	errors.As(err, &pe)
	switch {
	case isConflict(err):
		return Wrap(KindUnavailable, "ledger_busy", err, "database %s is too busy: the transaction collided with others %d times; nothing was changed", e.url, pgMaxConflicts+1)
	case isConnLoss(err) && committing && mode != modeView:
		return Wrap(KindUnavailable, "ledger_unavailable", err, "lost database %s while committing: the change may or may not have been made; retry with the same idempotency key", e.url)
	case isConnLoss(err):
		return Wrap(KindUnavailable, "ledger_unavailable", err, "cannot reach database %s", e.url)
	case pe != nil && pe.Code == "25006": // read_only_sql_transaction: a standby
		return Wrap(KindUnavailable, "ledger_unwritable", err, "database %s is read-only", e.url)
	case pe != nil && (strings.HasPrefix(pe.Code, "53") || pe.Code == "57014"): // out of resources; statement timeout
		return Wrap(KindUnavailable, "ledger_unavailable", err, "database %s cannot serve the request now", e.url)
	case pe != nil && (pe.Code == "28P01" || pe.Code == "28000" || pe.Code == "3D000"):
		return Wrap(KindUnavailable, "ledger_unavailable", err, "database %s refused the connection", e.url)
	case pe != nil && pe.Code == "42501": // insufficient_privilege
		return Wrap(KindUnavailable, "ledger_unwritable", err, "database %s does not let this user do that", e.url)
	case errors.As(err, new(*pgconn.ConnectError)):
		// Whatever the server said while refusing (a database closed to connections,
		// shutting down, not yet accepting), no transaction began: try again later.
		return Wrap(KindUnavailable, "ledger_unavailable", err, "cannot connect to database %s", e.url)
	case mode == modeView:
		return Wrap(KindInternal, "ledger_read_failed", err, "reading ledger %s failed", e.url)
	}
	return Wrap(KindInternal, "ledger_write_failed", err, "writing ledger %s failed; nothing was changed", e.url)
}

// isConflict: the transaction lost a race with another and can simply run again.
func isConflict(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40001", "40P01", "23505": // serialization_failure, deadlock_detected, unique_violation
		return true
	}
	return false
}

// isConnLoss: the connection failed or could not be made.
func isConnLoss(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03":
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return pgconn.SafeToRetry(err) || errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}

// pgFailure is a failure of the database, as opposed to an error of fn. Its text is
// PostgreSQL's message without detail (which quotes values) or the driver's message with
// the secrets scrubbed.
type pgFailure struct {
	err  error
	text string
}

func (f pgFailure) Error() string { return f.text }
func (f pgFailure) Unwrap() error { return f.err }

func (e *pgEngine) failure(err error) error {
	if err == nil {
		return nil
	}
	var f pgFailure
	if errors.As(err, &f) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pgFailure{err: err, text: fmt.Sprintf("%s (SQLSTATE %s)", scrub(pe.Message, e.secrets), pe.Code)}
	}
	return pgFailure{err: err, text: scrub(err.Error(), e.secrets)}
}

// scrub removes every secret (and its URL-escaped forms) from s.
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			s = strings.ReplaceAll(s, form, "xxxxx")
		}
	}
	return s
}

var userinfoPassword = regexp.MustCompile(`^[a-zA-Z]+://[^/@:]*:([^@/]*)@`)

// redactURL returns target fit for messages and logs (password, in the user info or as
// a parameter, replaced by xxxxx) and the secrets it held.
func redactURL(target string) (shown string, secrets []string) {
	u, err := url.Parse(target)
	if err != nil {
		if m := userinfoPassword.FindStringSubmatch(target); m != nil {
			secrets = append(secrets, m[1])
		}
		scheme, _, _ := strings.Cut(target, "://")
		return scheme + "://(unparsable URL)", secrets
	}
	if pw, ok := u.User.Password(); ok {
		secrets = append(secrets, pw)
	}
	q := u.Query()
	if pw := q.Get("password"); pw != "" {
		secrets = append(secrets, pw)
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted(), secrets
}

type kvKey struct {
	b   Bucket
	key string
}

// pgTx is one PostgreSQL transaction behind a Tx.
type pgTx struct {
	e     *pgEngine
	tx    pgx.Tx
	ctx   context.Context
	write bool
	// absent holds the keys this transaction read and did not find: writing one inserts,
	// so that a concurrent insert of the same key fails one of the two.
	absent map[kvKey]bool
	// locks holds the buckets whose advisory lock is taken (or queued to be, by a
	// write): true exclusive, false shared.
	locks map[Bucket]bool
	// queued holds the writes not sent yet. They go in one round trip, in order, before
	// the next read or the commit: a tap's dozen writes cost one round trip instead of a
	// dozen. A write that fails (a unique violation) fails that read or the commit.
	queued pgx.Batch
	// written holds the queued writes by key, so that a read sees them without a flush
	// (nil: a delete).
	written map[kvKey][]byte
}

func (t *pgTx) writable() bool { return t.write }

const (
	sqlGet          = "SELECT value FROM tagpay_kv WHERE bucket = $1 AND key = $2"
	sqlGetForUpdate = sqlGet + " FOR UPDATE"
	sqlInsert       = "INSERT INTO tagpay_kv (bucket, key, value) VALUES ($1, $2, $3)"
	sqlUpsert       = sqlInsert + " ON CONFLICT (bucket, key) DO UPDATE SET value = EXCLUDED.value"
	// The first write to a bucket takes its shared lock in the same round trip.
	sqlLockedInsert = "WITH l AS (SELECT pg_advisory_xact_lock_shared($4::bigint)) " +
		"INSERT INTO tagpay_kv (bucket, key, value) SELECT $1::text, $2::bytea, $3::bytea FROM l"
	sqlLockedUpsert = sqlLockedInsert + " ON CONFLICT (bucket, key) DO UPDATE SET value = EXCLUDED.value"
	sqlDelete       = "DELETE FROM tagpay_kv WHERE bucket = $1 AND key = $2"
	// putWhileAny: the row goes in only while bucket $5 has one, decided in the batch.
	sqlLockedUpsertWhileAny = "WITH l AS (SELECT pg_advisory_xact_lock_shared($4::bigint)) " +
		"INSERT INTO tagpay_kv (bucket, key, value) SELECT $1::text, $2::bytea, $3::bytea FROM l " +
		"WHERE EXISTS (SELECT 1 FROM tagpay_kv WHERE bucket = $5) " +
		"ON CONFLICT (bucket, key) DO UPDATE SET value = EXCLUDED.value"
)

// idempotencyKey and newIdempotencyKey are slot: one table holds every record, indexed
// as PostgreSQL does.
func (t *pgTx) idempotencyKey(slot string) (string, error)       { return slot, nil }
func (t *pgTx) newIdempotencyKey(slot, _ string) (string, error) { return slot, nil }

func (t *pgTx) get(b Bucket, key string) ([]byte, error) {
	if v, ok := t.written[kvKey{b, key}]; ok {
		return v, nil
	}
	if err := t.flush(); err != nil {
		return nil, err
	}
	q := sqlGet
	if t.write {
		q = sqlGetForUpdate
	}
	var v []byte
	err := t.tx.QueryRow(t.ctx, q, string(b), []byte(key)).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		if t.write {
			if t.absent == nil {
				t.absent = map[kvKey]bool{}
			}
			t.absent[kvKey{b, key}] = true
		}
		return nil, nil
	}
	if err != nil {
		return nil, t.e.failure(err)
	}
	delete(t.absent, kvKey{b, key})
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

func (t *pgTx) put(b Bucket, key string, value []byte) error {
	if !t.write {
		return t.e.failure(errors.New("put in a read-only transaction"))
	}
	if value == nil {
		value = []byte{}
	}
	k := kvKey{b, key}
	insert := t.absent[k]
	_, locked := t.locks[b]
	switch {
	case locked && insert:
		t.queued.Queue(sqlInsert, string(b), []byte(key), value)
	case locked:
		t.queued.Queue(sqlUpsert, string(b), []byte(key), value)
	case insert:
		t.queued.Queue(sqlLockedInsert, string(b), []byte(key), value, t.e.lockKey(string(b)))
	default:
		t.queued.Queue(sqlLockedUpsert, string(b), []byte(key), value, t.e.lockKey(string(b)))
	}
	if !locked {
		t.setLock(b, false)
	}
	delete(t.absent, k)
	t.remember(k, value)
	return nil
}

// putWhileAny queues the write with its condition, so it costs no round trip of its own
// and no lock on guard. Whether it happened is known only in the database: a later read
// of the key goes there.
func (t *pgTx) putWhileAny(b Bucket, key string, value []byte, guard Bucket) error {
	if !t.write {
		return t.e.failure(errors.New("put in a read-only transaction"))
	}
	if value == nil {
		value = []byte{}
	}
	t.queued.Queue(sqlLockedUpsertWhileAny, string(b), []byte(key), value, t.e.lockKey(string(b)), string(guard))
	if _, locked := t.locks[b]; !locked {
		t.setLock(b, false)
	}
	k := kvKey{b, key}
	delete(t.absent, k)
	delete(t.written, k)
	return nil
}

// remember keeps a queued write for reads of its key (value nil: deleted).
func (t *pgTx) remember(k kvKey, value []byte) {
	if t.written == nil {
		t.written = map[kvKey][]byte{}
	}
	t.written[k] = value
}

// flush sends the queued writes in one round trip.
func (t *pgTx) flush() error {
	if t.queued.Len() == 0 {
		return nil
	}
	batch := t.queued
	t.queued = pgx.Batch{}
	clear(t.written)
	return t.e.failure(t.tx.SendBatch(t.ctx, &batch).Close())
}

func (t *pgTx) del(b Bucket, key string) error {
	if !t.write {
		return t.e.failure(errors.New("delete in a read-only transaction"))
	}
	if err := t.lock(b, false); err != nil {
		return err
	}
	t.queued.Queue(sqlDelete, string(b), []byte(key))
	t.remember(kvKey{b, key}, nil)
	return nil
}

func (t *pgTx) setLock(b Bucket, exclusive bool) {
	if t.locks == nil {
		t.locks = map[Bucket]bool{}
	}
	t.locks[b] = exclusive
}

// lock takes the bucket's advisory lock for the rest of the transaction, unless held.
func (t *pgTx) lock(b Bucket, exclusive bool) error {
	if held, ok := t.locks[b]; ok && (held || !exclusive) {
		return nil
	}
	if err := t.flush(); err != nil {
		return err
	}
	q := "SELECT pg_advisory_xact_lock_shared($1)"
	if exclusive {
		q = "SELECT pg_advisory_xact_lock($1)"
	}
	if _, err := t.tx.Exec(t.ctx, q, t.e.lockKey(string(b))); err != nil {
		return t.e.failure(err)
	}
	t.setLock(b, exclusive)
	return nil
}

// scan reads the range page by page, so that ending early reads little and fn may use
// the transaction between pages.
func (t *pgTx) scan(b Bucket, prefix, from string, reverse bool, fn func(key string, value []byte) error) error {
	if err := t.flush(); err != nil {
		return err
	}
	if t.write {
		if err := t.lock(b, true); err != nil {
			return err
		}
	}
	lo, hi := []byte(prefix), prefixEnd([]byte(prefix))
	loOpen := false // lo is exclusive once a forward walk has passed it
	switch {
	case from != "" && !reverse && from >= prefix:
		lo, loOpen = []byte(from), true
	case from != "" && reverse && (hi == nil || from < string(hi)):
		hi = []byte(from) // exclusive, like the end of the prefix
	}
	for page := 64; ; page = 512 {
		var sql strings.Builder
		sql.WriteString("SELECT key, value FROM tagpay_kv WHERE bucket = $1 AND key ")
		if loOpen {
			sql.WriteString("> $2")
		} else {
			sql.WriteString(">= $2")
		}
		args := []any{string(b), lo}
		if hi != nil {
			sql.WriteString(" AND key < $3")
			args = append(args, hi)
		}
		if reverse {
			sql.WriteString(" ORDER BY key DESC")
		} else {
			sql.WriteString(" ORDER BY key")
		}
		fmt.Fprintf(&sql, " LIMIT %d", page)
		got, err := t.page(sql.String(), args, fn)
		if err != nil || len(got) < page {
			return err
		}
		last := got[len(got)-1].k
		if reverse {
			hi = last
		} else {
			lo, loOpen = last, true
		}
	}
}

// pgKV is one row of a page.
type pgKV struct{ k, v []byte }

// page reads one page of rows with sql, then hands each to fn: the rows are all read
// before fn runs, so fn may query in the same transaction.
func (t *pgTx) page(sql string, args []any, fn func(key string, value []byte) error) ([]pgKV, error) {
	rows, err := t.tx.Query(t.ctx, sql, args...)
	if err != nil {
		return nil, t.e.failure(err)
	}
	var got []pgKV
	for rows.Next() {
		var r pgKV
		if err := rows.Scan(&r.k, &r.v); err != nil {
			rows.Close()
			return nil, t.e.failure(err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		return nil, t.e.failure(err)
	}
	for _, r := range got {
		if err := fn(string(r.k), r.v); err != nil {
			return nil, err
		}
	}
	return got, nil
}

// check finds rows outside the buckets tagpay declares: the table is reachable with
// psql, and such rows are nobody's records.
func (t *pgTx) check() ([]Violation, error) {
	names := make([]string, len(allBuckets))
	for i, b := range allBuckets {
		names[i] = string(b)
	}
	rows, err := t.tx.Query(t.ctx, "SELECT bucket, count(*) FROM tagpay_kv WHERE NOT (bucket = ANY($1)) GROUP BY bucket ORDER BY bucket", names)
	if err != nil {
		return nil, t.e.failure(err)
	}
	defer rows.Close()
	var out []Violation
	for rows.Next() {
		var b string
		var n int64
		if err := rows.Scan(&b, &n); err != nil {
			return nil, t.e.failure(err)
		}
		out = append(out, Violation{Check: "undeclared_bucket", Subject: b, Message: fmt.Sprintf("%d rows in a bucket tagpay does not declare", n)})
	}
	if err := rows.Err(); err != nil {
		return nil, t.e.failure(err)
	}
	return out, nil
}

// vacuum rewrites the records table, so that no dead row keeps a deleted value.
func (e *pgEngine) vacuum(ctx context.Context) error {
	if _, err := e.pool.Exec(ctx, "VACUUM FULL tagpay_kv"); err != nil {
		return e.classify(e.failure(err), modeUpdate, false)
	}
	return nil
}
