package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"time"
)

// Options tune Open.
type Options struct {
	// LockTimeout is how long to wait for another process to release the file, or on
	// PostgreSQL at least how long to wait for another replica's schema upgrade.
	LockTimeout time.Duration
	// NoSync skips fsync (bbolt: of its file and of its write-ahead log) or the wait for
	// the WAL flush (PostgreSQL's synchronous_commit off); for tests and for benchmarks
	// that compare against durable runs only.
	NoSync bool
	// IdempotencyTTL is how long an idempotency key holds its first result (0: 24
	// hours, as payment APIs keep them; negative: for ever). Older records are ignored
	// and pruned (PruneIdempotency).
	IdempotencyTTL time.Duration
	// KeysPath is the key file of the ledger's master secrets, kept outside the ledger
	// (see Keyring). A ledger with nothing keyed yet is bound to it, and the file is made
	// when missing. Empty: no key file; everything that needs a secret (tags, SUN keys,
	// card numbers) is refused.
	KeysPath string
	// MustExist refuses to create a ledger file that is not there (KindNotFound), for
	// callers that only read: a mistyped path must not leave an empty ledger behind.
	MustExist bool
}

// DefaultIdempotencyTTL is how long idempotency keys are kept unless told otherwise.
const DefaultIdempotencyTTL = 24 * time.Hour

// DB is an open ledger: a bbolt file or a PostgreSQL database.
type DB struct {
	eng     engine
	retries atomic.Int64
	idemTTL time.Duration
	keys    atomic.Pointer[keyState]
}

// engine is what a storage engine provides: transactions over the buckets of
// schema.go, and its own housekeeping. The rules of the ledger live above it, in Tx.
type engine interface {
	// run runs fn in one transaction of the given mode. It may run fn more than once
	// (bbolt's group commit, PostgreSQL's retries); fn's errors come back unchanged, the
	// engine's own failures with a kind.
	run(ctx context.Context, mode txMode, fn func(engineTx) error) error
	ping(ctx context.Context) error
	close() error
	// target names the ledger for people: a file path, or a URL without its password.
	target() string
	name() string
}

// engineTx is one engine transaction: bytes at string keys, bucket by bucket.
type engineTx interface {
	// get returns the value at key or nil; the slice may be valid only until the
	// transaction ends.
	get(b Bucket, key string) ([]byte, error)
	put(b Bucket, key string, value []byte) error
	// putWhileAny is put, done only if bucket guard holds a record when it is done. It
	// reads nothing back and takes no lock on guard, so a write on every tap may depend
	// on a bucket that seldom changes.
	putWhileAny(b Bucket, key string, value []byte, guard Bucket) error
	del(b Bucket, key string) error
	// scan calls fn in key order (reverse: descending) for the keys with prefix, past
	// the key from when it is set (after it, or before it in reverse), reading only
	// those; fn's value is valid only during the call, and fn's error ends the scan and
	// is returned.
	scan(b Bucket, prefix, from string, reverse bool, fn func(key string, value []byte) error) error
	writable() bool
	// idempotencyKey is the key of the idempotency bucket that holds slot's record, or
	// the one a record from before would be at; newIdempotencyKey is the key that slot's
	// new record is to be written at, after idempotencyKey answered at.
	idempotencyKey(slot string) (string, error)
	newIdempotencyKey(slot, at string) (string, error)
	// check reports what the engine itself finds inconsistent, for VerifyLedger.
	check() ([]Violation, error)
}

type txMode int

const (
	modeView   txMode = iota
	modeUpdate        // one read-write transaction
	modeBatch         // read-write, possibly sharing a commit with concurrent callers
	// modeViewSettled reads what bbolt has committed, not waiting for the writes of
	// shared commits that the log holds: only for buckets that shared commits never
	// write (settledBuckets).
	modeViewSettled
	modeViewHeld // a view during which no writer commits
)

// Open opens the ledger at target, creating it when it does not exist: a file path for
// a bbolt ledger, or a postgres:// (postgresql://) URL for a PostgreSQL database. A file
// or database that is not a tagpay ledger, or of a newer schema, is refused without
// being modified.
func Open(target string, opts Options) (*DB, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	var (
		eng engine
		err error
	)
	if IsDatabaseURL(target) {
		eng, err = openPG(target, opts)
	} else {
		eng, err = openBoltEngine(target, opts)
	}
	if err != nil {
		return nil, err
	}
	ttl := opts.IdempotencyTTL
	if ttl == 0 {
		ttl = DefaultIdempotencyTTL
	}
	db := &DB{eng: eng, idemTTL: ttl}
	if err := db.attachKeys(context.Background(), opts.KeysPath); err != nil {
		eng.close()
		return nil, err
	}
	return db, nil
}

// IsDatabaseURL reports whether target names a PostgreSQL database rather than a file.
func IsDatabaseURL(target string) bool {
	t := strings.ToLower(target)
	return strings.HasPrefix(t, "postgres://") || strings.HasPrefix(t, "postgresql://")
}

// Path names the ledger: its file, or its database URL with the password removed.
func (db *DB) Path() string { return db.eng.target() }

// Engine is "bbolt" or "postgres".
func (db *DB) Engine() string { return db.eng.name() }

// Close releases the file or the database connections.
func (db *DB) Close() error { return db.eng.close() }

// Ping checks that the ledger can be read now, for a readiness probe: the database is
// reachable and its schema is still one this tagpay reads.
func (db *DB) Ping(ctx context.Context) error { return db.eng.ping(ctx) }

// Retries counts the transaction functions run again since Open: after a conflict
// (PostgreSQL: serialization failure, deadlock, a key inserted concurrently; bbolt: a
// call taken out of a shared batch) or a connection lost before commit.
func (db *DB) Retries() int64 { return db.retries.Load() }

// View runs fn in a read-only transaction, which sees one consistent state.
func (db *DB) View(ctx context.Context, fn func(*Tx) error) error {
	return db.view(ctx, modeView, fn)
}

func (db *DB) view(ctx context.Context, mode txMode, fn func(*Tx) error) error {
	return db.eng.run(ctx, mode, func(etx engineTx) error {
		tx := db.newTx(ctx, etx)
		tx.idemTTL = db.idemTTL
		err := fn(tx)
		if tx.err != nil {
			return tx.err
		}
		return err
	})
}

// ViewHeld is View with every writer held off until fn returns: bbolt's check of its
// pages (VerifyLedger) must not see a commit halfway. On PostgreSQL it is View.
func (db *DB) ViewHeld(ctx context.Context, fn func(*Tx) error) error {
	return db.view(ctx, modeViewHeld, fn)
}

// Update runs fn in one read-write transaction: all of it is written, or none. fn may
// run more than once, so it must have no effects outside tx.
func (db *DB) Update(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := db.writable(); err != nil {
		return err
	}
	runs := 0
	return db.eng.run(ctx, modeUpdate, func(etx engineTx) error {
		if runs++; runs > 1 {
			db.retries.Add(1)
		}
		tx := db.newTx(ctx, etx)
		tx.idemTTL = db.idemTTL
		err := fn(tx)
		if tx.err != nil {
			return tx.err
		}
		return err
	})
}

// Batch is Update for concurrent writers: on bbolt, calls from many goroutines share one
// commit, one record of the write-ahead log and one sync of it; on PostgreSQL each is
// its own transaction and concurrency comes from the connection pool. fn may run more
// than once, so it must have no effects outside tx.
//
// A business rejection (any error with a kind other than internal) returned before fn
// wrote anything is handed to the caller without failing the shared transaction, so one
// payer's empty balance never rolls back the others' payments.
func (db *DB) Batch(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := db.writable(); err != nil {
		return err
	}
	var rejection error
	runs := 0
	err := db.eng.run(ctx, modeBatch, func(etx engineTx) error {
		if runs++; runs > 1 {
			db.retries.Add(1)
		}
		rejection = nil
		tx := db.newTx(ctx, etx)
		tx.idemTTL = db.idemTTL
		ferr := fn(tx)
		if tx.err != nil {
			return tx.err
		}
		if ferr != nil && !tx.dirty && KindOf(ferr) != KindInternal {
			rejection = ferr
			return nil
		}
		return ferr
	})
	if err != nil {
		return err
	}
	return rejection
}

// Tx is one ledger transaction. Values read through it are copies, safe after it ends.
type Tx struct {
	etx   engineTx
	ctx   context.Context
	now   time.Time
	dirty bool
	// idemTTL is how long an idempotency record holds (negative: for ever).
	idemTTL time.Duration
	keys    *keyState
	// err is the first failure of the engine (a lost connection, a lock conflict): it
	// fails the whole transaction whatever fn makes of the reads that returned nothing.
	err error
	// accounts are the accounts this transaction decoded and has not written since: a
	// tap asks for its payer and payee several times, and decoding is most of a read.
	accounts map[string]Account
	// idBody and idPrefixes are what NewID gave out.
	idBody     string
	idPrefixes []string
	// snapshots are the events emitted so far, whose data PutJSON may refer to.
	snapshots []emitted
}

func newTx(ctx context.Context, etx engineTx) *Tx {
	return &Tx{etx: etx, ctx: ctx, now: time.Now().UTC()}
}

func (db *DB) newTx(ctx context.Context, etx engineTx) *Tx {
	tx := newTx(ctx, etx)
	tx.keys = db.keys.Load()
	return tx
}

// fail records the engine's failure and returns it.
func (tx *Tx) fail(err error) error {
	if tx.err == nil {
		tx.err = err
	}
	return err
}

// Context is the context of the call that opened the transaction.
func (tx *Tx) Context() context.Context { return tx.ctx }

// Now is the transaction's clock: one instant for everything it writes.
func (tx *Tx) Now() time.Time { return tx.now }

// Writable reports whether the transaction may write.
func (tx *Tx) Writable() bool { return tx.etx.writable() }

// declared checks b is a bucket of schema.go; Open created every one of them, so
// reaching an undeclared one is a programming error.
func declared(b Bucket) {
	if !bucketSet[b] {
		panic(fmt.Sprintf("store: bucket %q is not declared", b))
	}
}

var bucketSet = func() map[Bucket]bool {
	m := map[Bucket]bool{}
	for _, b := range allBuckets {
		m[b] = true
	}
	return m
}()

// GetRaw returns a copy of the value at key, or nil. A failure of the engine returns nil
// and fails the transaction.
func (tx *Tx) GetRaw(b Bucket, key string) []byte {
	declared(b)
	if tx.err != nil {
		return nil
	}
	v, err := tx.etx.get(b, key)
	if err != nil {
		tx.fail(err)
		return nil
	}
	if v == nil {
		return nil
	}
	return append([]byte(nil), v...)
}

// PutRaw stores value at key.
func (tx *Tx) PutRaw(b Bucket, key string, value []byte) error {
	return tx.write(b, key, func() error { return tx.etx.put(b, key, value) })
}

// PutRawWhileAny stores value at key if bucket guard holds any record.
func (tx *Tx) PutRawWhileAny(b Bucket, key string, value []byte, guard Bucket) error {
	declared(guard)
	return tx.write(b, key, func() error { return tx.etx.putWhileAny(b, key, value, guard) })
}

// write runs put, which writes key of bucket b, unless the transaction failed already.
func (tx *Tx) write(b Bucket, key string, put func() error) error {
	declared(b)
	if tx.err != nil {
		return tx.err
	}
	tx.dirty = true
	if b == BucketAccounts {
		delete(tx.accounts, key)
	}
	if err := put(); err != nil {
		return tx.fail(err)
	}
	return nil
}

// Get decodes the JSON record at key into v and reports whether it was there.
func (tx *Tx) Get(b Bucket, key string, v any) (bool, error) {
	declared(b)
	if tx.err != nil {
		return false, tx.err
	}
	raw, err := tx.etx.get(b, key)
	if err != nil {
		return false, tx.fail(err)
	}
	if raw == nil {
		return false, nil
	}
	// An account in the layout it is written in is read without encoding/json's check
	// of the whole text first (decodeAccountFast accepts valid JSON only).
	if a, ok := v.(*Account); ok && decodeAccountFast(raw, a) {
		return true, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, Wrap(KindCorrupt, "ledger_corrupt", err, "record %s/%s is damaged", b, key)
	}
	return true, nil
}

// Put stores v as JSON at key.
func (tx *Tx) Put(b Bucket, key string, v any) error {
	raw, err := encodeRecord(v)
	if err != nil {
		return fmt.Errorf("encoding %s/%s: %w", b, key, err)
	}
	return tx.PutJSON(b, key, raw)
}

// encodeRecord is json.Marshal, except that a value that encodes itself is asked
// directly: json.Marshal would check and copy what it wrote (the hand-written encoders of
// the records a tap writes, which their tests hold to encoding/json's output).
func encodeRecord(v any) ([]byte, error) {
	// A pointer goes through json.Marshal, which writes a nil one as null.
	if m, ok := v.(json.Marshaler); ok && reflect.TypeOf(v).Kind() != reflect.Pointer {
		return m.MarshalJSON()
	}
	return json.Marshal(v)
}

// PutJSON stores a record already encoded as the API shows it (by json.Marshal), for a
// caller that needs the encoding for more than the record, such as its event.
//
// A record of a snapshotBuckets bucket that is exactly the data of an event this
// transaction emitted about it (a paid order and its order.paid event) is, where the
// engine can (a bbolt file), stored as a reference to that event: the ledger keeps one
// copy, and reading the record reads it from the event.
func (tx *Tx) PutJSON(b Bucket, key string, raw []byte) error {
	raw = stripFormatted(raw)
	if r, ok := tx.etx.(snapshotRefs); ok && snapshotBuckets[b] {
		for _, s := range tx.snapshots {
			if s.subject == key && bytes.Equal(s.data, raw) {
				return tx.write(b, key, func() error { return r.putSnapshot(b, key, s.event) })
			}
		}
	}
	return tx.PutRaw(b, key, raw)
}

// snapshotBuckets are the buckets whose records may be stored as references to an
// event's data (see PutJSON): their keys are the events' subjects.
var snapshotBuckets = map[Bucket]bool{BucketOrders: true}

// snapshotRefs is an engine transaction that stores a record as a reference to the data
// of event evtID, and reads it back as that data.
type snapshotRefs interface {
	putSnapshot(b Bucket, key, evtID string) error
}

// emitted is an event this transaction emitted, with its data as stored.
type emitted struct {
	subject, event string
	data           []byte
}

// formattedField is how Money.MarshalJSON writes its derived text. Inside a JSON string
// a quote is escaped, so this exact run can only be that field.
var formattedField = []byte(`,"formatted":"`)

// stripFormatted drops the "formatted" text of every Money in a record before it is
// stored: it is derived from the amount and currency, and the ledger keeps one copy of
// each fact. Money decodes without it.
func stripFormatted(raw []byte) []byte {
	i := bytes.Index(raw, formattedField)
	if i < 0 {
		return raw
	}
	out := make([]byte, 0, len(raw))
	for i >= 0 {
		end := bytes.IndexByte(raw[i+len(formattedField):], '"')
		if end < 0 {
			break
		}
		out = append(out, raw[:i]...)
		raw = raw[i+len(formattedField)+end+1:]
		i = bytes.Index(raw, formattedField)
	}
	return append(out, raw...)
}

// Delete removes key.
func (tx *Tx) Delete(b Bucket, key string) error {
	declared(b)
	if tx.err != nil {
		return tx.err
	}
	tx.dirty = true
	if b == BucketAccounts {
		delete(tx.accounts, key)
	}
	if err := tx.etx.del(b, key); err != nil {
		return tx.fail(err)
	}
	return nil
}

// ForEach calls fn for every key with the given prefix, in key order (oldest first for
// time-ordered ids), or newest first when reverse is set. Keys compare as bytes. fn's
// value is only valid during the call; decode or copy it. Returning ErrStop ends the
// walk early without error.
func (tx *Tx) ForEach(b Bucket, prefix string, reverse bool, fn func(key string, value []byte) error) error {
	return tx.ForEachFrom(b, prefix, "", reverse, fn)
}

// ForEachFrom is ForEach starting past the key from (the keys after it, or before it
// when reverse is set), which it seeks to instead of walking up to it: a page that
// starts at a cursor costs the same however deep the cursor is. An empty from starts
// at the first key with prefix (the last, in reverse).
func (tx *Tx) ForEachFrom(b Bucket, prefix, from string, reverse bool, fn func(key string, value []byte) error) error {
	declared(b)
	if tx.err != nil {
		return tx.err
	}
	return tx.walk(fn, func(walk func(string, []byte) error) error {
		return tx.etx.scan(b, prefix, from, reverse, walk)
	})
}

// walk runs scan with fn as its callback and tells fn's error (ErrStop: none) from the
// engine's, which fails the transaction.
func (tx *Tx) walk(fn func(key string, value []byte) error, scan func(func(string, []byte) error) error) error {
	var fnErr error
	err := scan(func(k string, v []byte) error {
		fnErr = fn(k, v)
		return fnErr
	})
	switch {
	case err == nil:
		return nil
	case fnErr == nil:
		return tx.fail(err)
	case errors.Is(fnErr, ErrStop):
		return nil
	}
	return fnErr
}

// ErrStop ends a ForEach walk early.
var ErrStop = errors.New("stop")

// prefixEnd is the first key after every key with prefix p, or nil when there is none
// (p is empty or all 0xFF).
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Each decodes every JSON record of bucket b with the given prefix into a T.
func Each[T any](tx *Tx, b Bucket, prefix string, reverse bool, fn func(key string, v T) error) error {
	return EachFrom(tx, b, prefix, "", reverse, fn)
}

// EachFrom is Each starting past the key from, as ForEachFrom.
func EachFrom[T any](tx *Tx, b Bucket, prefix, from string, reverse bool, fn func(key string, v T) error) error {
	return tx.ForEachFrom(b, prefix, from, reverse, func(key string, raw []byte) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return Wrap(KindCorrupt, "ledger_corrupt", err, "record %s/%s is damaged", b, key)
		}
		return fn(key, v)
	})
}

// ReadPage reads one page of bucket b: its records (each decoded into an R) past p.After,
// newest first when reverse is set, and returns what pick makes of those it keeps, at
// most p.Limit of them (0: all). The walk stops at the page's last record.
func ReadPage[R, T any](tx *Tx, b Bucket, p Page, reverse bool, pick func(R) (T, bool)) ([]T, error) {
	var out []T
	err := EachFrom(tx, b, "", p.After, reverse, func(_ string, r R) error {
		if v, ok := pick(r); ok {
			out = append(out, v)
		}
		if p.Limit > 0 && len(out) >= p.Limit {
			return ErrStop
		}
		return nil
	})
	return out, err
}

// Load reads the record at key, with a not-found error naming what when it is absent.
func Load[T any](tx *Tx, b Bucket, key, what string) (T, error) {
	var v T
	ok, err := tx.Get(b, key, &v)
	if err != nil {
		return v, err
	}
	if !ok {
		return v, Errorf(KindNotFound, what+"_not_found", "%s %s not found", what, key)
	}
	return v, nil
}

// checkMeta refuses a ledger that is not tagpay's or of another layout version; both
// engines keep the same meta records.
func checkMeta(tx *Tx, target string) error {
	if string(tx.GetRaw(BucketMeta, string(metaMagic))) != string(magicValue) {
		if tx.err != nil {
			return tx.err
		}
		return Errorf(KindCorrupt, "not_a_ledger", "%s is not a tagpay ledger; refusing to touch it", target)
	}
	v := tx.GetRaw(BucketMeta, string(metaSchema))
	if len(v) != 4 {
		return Errorf(KindCorrupt, "ledger_corrupt", "ledger %s has no readable schema version", target)
	}
	if got := beUint32(v); got != SchemaVersion {
		return Errorf(KindConflict, "schema_version", "ledger %s has schema version %d; this tagpay reads version %d", target, got, SchemaVersion)
	}
	return nil
}

func beUint32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
