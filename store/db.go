package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Options tune Open.
type Options struct {
	// LockTimeout is how long to wait for another process to release the file.
	LockTimeout time.Duration
	// NoSync skips fsync; for benchmarks that compare against durable runs only.
	NoSync bool
}

// DB is an open ledger file.
type DB struct {
	bolt *bolt.DB
	path string
}

// batchDelay is how long a Batch waits for more writers before it commits.
const batchDelay = time.Millisecond

// bbolt's meta page: a 16-byte page header, then the meta's magic number.
const boltMagic = 0xED0CDAED

// Open opens the ledger at path, creating it (and its folder) when it does not exist.
// A file that is not a tagpay ledger, or of another schema version, is refused without
// being modified.
func Open(path string, opts Options) (*DB, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	fresh, err := checkFile(path)
	if err != nil {
		return nil, err
	}
	if fresh {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, Wrap(KindInternal, "ledger_unwritable", err, "cannot create the folder of ledger %s", path)
		}
	} else {
		// Look read-only first: bbolt may write while opening a file read-write (it
		// rewrites a freelist that an etcd-style file does not keep), and a file that is
		// not ours must not be touched at all.
		b, err := openBolt(path, opts, true)
		if err != nil {
			return nil, err
		}
		err = (&DB{bolt: b, path: path}).checkSchema()
		b.Close()
		if err != nil {
			return nil, err
		}
	}
	b, err := openBolt(path, opts, false)
	if err != nil {
		return nil, err
	}
	// bbolt waits up to 10ms to gather a batch; with a fast fsync that wait, not the
	// disk, bounds 16 concurrent writers below one writer committing alone. Writers
	// released by one commit arrive within microseconds, so a short window still
	// gathers them.
	b.MaxBatchDelay = batchDelay
	db := &DB{bolt: b, path: path}
	if fresh {
		err = db.initialize()
	} else {
		err = db.checkSchema()
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	return db, nil
}

// openBolt opens the bbolt file and names each way that can fail. A damaged file can
// make bbolt panic or fault on its memory map while opening; both become a corrupt-ledger
// error, and the file it opened is closed so its lock does not outlive the failure.
func openBolt(path string, opts Options, readOnly bool) (b *bolt.DB, err error) {
	var file *os.File
	defer guardFaults()()
	defer func() {
		if r := recover(); r != nil {
			if file != nil {
				file.Close()
			}
			b, err = nil, Errorf(KindCorrupt, "ledger_corrupt", "ledger %s is damaged: %v", path, r)
		}
	}()
	b, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout: opts.LockTimeout, NoSync: opts.NoSync, ReadOnly: readOnly,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
	})
	if err != nil {
		switch {
		case errors.Is(err, bolterrors.ErrTimeout):
			return nil, Errorf(KindUnavailable, "ledger_in_use", "ledger %s is in use by another process; use --server or stop it", path)
		case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum), errors.Is(err, bolterrors.ErrVersionMismatch):
			return nil, Wrap(KindCorrupt, "ledger_corrupt", err, "ledger %s is damaged or not a tagpay ledger", path)
		case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
			return nil, Wrap(KindUnavailable, "ledger_unwritable", err, "cannot open ledger %s for writing", path)
		}
		return nil, Wrap(KindCorrupt, "ledger_corrupt", err, "cannot open ledger %s", path)
	}
	return b, nil
}

// guardFaults turns a fault on the memory-mapped file (a truncated or damaged ledger)
// into a panic that the caller recovers, instead of a crash of the whole process. It
// returns the function that restores the previous setting.
func guardFaults() func() {
	old := debug.SetPanicOnFault(true)
	return func() { debug.SetPanicOnFault(old) }
}

// checkFile looks at the file before bbolt does: bbolt would happily initialize an empty
// file, and a file of another kind must never be written to.
func checkFile(path string) (fresh bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, Wrap(KindUnavailable, "ledger_unreadable", err, "cannot read ledger %s", path)
	}
	defer f.Close()
	var head [20]byte
	if _, err := io.ReadFull(f, head[:]); err != nil || binary.LittleEndian.Uint32(head[16:]) != boltMagic {
		return false, Errorf(KindCorrupt, "not_a_ledger", "%s is not a tagpay ledger (not a bbolt file); refusing to touch it", path)
	}
	return false, nil
}

func (db *DB) initialize() error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists([]byte(b)); err != nil {
				return err
			}
		}
		meta := tx.Bucket([]byte(BucketMeta))
		if err := meta.Put(metaMagic, magicValue); err != nil {
			return err
		}
		return meta.Put(metaSchema, binary.BigEndian.AppendUint32(nil, SchemaVersion))
	})
}

func (db *DB) checkSchema() error {
	return db.view(func(tx *bolt.Tx) error {
		// A file shorter than its own high-water mark lost its tail: reading the pages
		// past the end would fault, so refuse it before reading any.
		if info, err := os.Stat(db.path); err != nil {
			return Wrap(KindUnavailable, "ledger_unreadable", err, "cannot read ledger %s", db.path)
		} else if info.Size() < tx.Size() {
			return Errorf(KindCorrupt, "ledger_corrupt", "ledger %s is damaged: the file holds %d bytes but its pages reach %d (truncated?)", db.path, info.Size(), tx.Size())
		}
		meta := tx.Bucket([]byte(BucketMeta))
		if meta == nil || string(meta.Get(metaMagic)) != string(magicValue) {
			return Errorf(KindCorrupt, "not_a_ledger", "%s is a bbolt file but not a tagpay ledger; refusing to touch it", db.path)
		}
		v := meta.Get(metaSchema)
		if len(v) != 4 {
			return Errorf(KindCorrupt, "ledger_corrupt", "ledger %s has no readable schema version", db.path)
		}
		if got := binary.BigEndian.Uint32(v); got != SchemaVersion {
			return Errorf(KindConflict, "schema_version", "ledger %s has schema version %d; this tagpay reads version %d", db.path, got, SchemaVersion)
		}
		for _, b := range allBuckets {
			if tx.Bucket([]byte(b)) == nil {
				return Errorf(KindCorrupt, "ledger_corrupt", "ledger %s lacks bucket %q", db.path, b)
			}
		}
		return nil
	})
}

// view runs fn and turns a bbolt panic on a damaged page into an error.
func (db *DB) view(fn func(*bolt.Tx) error) (err error) {
	defer guardFaults()()
	defer db.damaged(&err)
	return db.bolt.View(fn)
}

// damaged, deferred, turns a panic inside bbolt (a damaged page) into a corrupt-ledger
// error.
func (db *DB) damaged(err *error) {
	if r := recover(); r != nil {
		*err = Errorf(KindCorrupt, "ledger_corrupt", "ledger %s is damaged: %v", db.path, r)
	}
}

// Path is the file the ledger lives in.
func (db *DB) Path() string { return db.path }

// Close releases the file.
func (db *DB) Close() error { return db.bolt.Close() }

// View runs fn in a read-only transaction.
func (db *DB) View(ctx context.Context, fn func(*Tx) error) error {
	return db.view(func(btx *bolt.Tx) error {
		return fn(newTx(ctx, btx))
	})
}

// Update runs fn in one read-write transaction: all of it is written, or none.
func (db *DB) Update(ctx context.Context, fn func(*Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer guardFaults()()
	defer db.damaged(&err)
	return wrapWriteErr(db.path, db.bolt.Update(func(btx *bolt.Tx) error {
		return fn(newTx(ctx, btx))
	}))
}

// Batch is Update for concurrent writers: calls from many goroutines share one commit
// (one fsync). fn may run more than once, so it must have no effects outside tx.
//
// A business rejection (any error with a kind other than internal) returned before fn
// wrote anything is handed to the caller without failing the shared transaction, so one
// payer's empty balance never rolls back the others' payments.
func (db *DB) Batch(ctx context.Context, fn func(*Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer guardFaults()()
	defer db.damaged(&err)
	var rejection error
	err = db.bolt.Batch(func(btx *bolt.Tx) error {
		// fn runs on whichever goroutine leads the batch: guard that one too.
		defer guardFaults()()
		rejection = nil
		tx := newTx(ctx, btx)
		ferr := fn(tx)
		if ferr != nil && !tx.dirty && KindOf(ferr) != KindInternal {
			rejection = ferr
			return nil
		}
		return ferr
	})
	if err != nil {
		return wrapWriteErr(db.path, err)
	}
	return rejection
}

func wrapWriteErr(path string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, bolterrors.ErrDatabaseReadOnly) || errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return Wrap(KindUnavailable, "ledger_unwritable", err, "cannot write ledger %s", path)
	}
	return Wrap(KindInternal, "ledger_write_failed", err, "writing ledger %s failed; nothing was changed", path)
}

// Tx is one ledger transaction. Values read through it are copies, safe after it ends.
type Tx struct {
	btx   *bolt.Tx
	ctx   context.Context
	now   time.Time
	dirty bool
}

func newTx(ctx context.Context, btx *bolt.Tx) *Tx {
	return &Tx{btx: btx, ctx: ctx, now: time.Now().UTC()}
}

// Context is the context of the call that opened the transaction.
func (tx *Tx) Context() context.Context { return tx.ctx }

// Now is the transaction's clock: one instant for everything it writes.
func (tx *Tx) Now() time.Time { return tx.now }

// Writable reports whether the transaction may write.
func (tx *Tx) Writable() bool { return tx.btx.Writable() }

func (tx *Tx) bucket(b Bucket) *bolt.Bucket {
	bk := tx.btx.Bucket([]byte(b))
	if bk == nil {
		// Open checks every bucket exists; reaching here is a programming error.
		panic(fmt.Sprintf("store: bucket %q is not declared", b))
	}
	return bk
}

// GetRaw returns a copy of the value at key, or nil.
func (tx *Tx) GetRaw(b Bucket, key string) []byte {
	v := tx.bucket(b).Get([]byte(key))
	if v == nil {
		return nil
	}
	return append([]byte(nil), v...)
}

// PutRaw stores value at key.
func (tx *Tx) PutRaw(b Bucket, key string, value []byte) error {
	tx.dirty = true
	return tx.bucket(b).Put([]byte(key), value)
}

// Get decodes the JSON record at key into v and reports whether it was there.
func (tx *Tx) Get(b Bucket, key string, v any) (bool, error) {
	raw := tx.bucket(b).Get([]byte(key))
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, Wrap(KindCorrupt, "ledger_corrupt", err, "record %s/%s is damaged", b, key)
	}
	return true, nil
}

// Put stores v as JSON at key.
func (tx *Tx) Put(b Bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s/%s: %w", b, key, err)
	}
	return tx.PutRaw(b, key, raw)
}

// Delete removes key.
func (tx *Tx) Delete(b Bucket, key string) error {
	tx.dirty = true
	return tx.bucket(b).Delete([]byte(key))
}

// ForEach calls fn for every key with the given prefix, in key order (oldest first for
// time-ordered ids), or newest first when reverse is set. fn's value is only valid during
// the call; decode or copy it. Returning ErrStop ends the walk early without error.
func (tx *Tx) ForEach(b Bucket, prefix string, reverse bool, fn func(key string, value []byte) error) error {
	c := tx.bucket(b).Cursor()
	p := []byte(prefix)
	var k, v []byte
	if !reverse {
		k, v = c.Seek(p)
	} else {
		k, v = seekLast(c, p)
	}
	for ; k != nil && hasPrefix(k, p); k, v = step(c, reverse) {
		if err := fn(string(k), v); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

// ErrStop ends a ForEach walk early.
var ErrStop = errors.New("stop")

func step(c *bolt.Cursor, reverse bool) ([]byte, []byte) {
	if reverse {
		return c.Prev()
	}
	return c.Next()
}

// seekLast positions c at the last key with prefix p.
func seekLast(c *bolt.Cursor, p []byte) ([]byte, []byte) {
	if len(p) == 0 {
		return c.Last()
	}
	// The first key after every key with prefix p is p with its last byte incremented.
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xFF {
			end[i]++
			end = end[:i+1]
			if k, _ := c.Seek(end); k == nil {
				return c.Last()
			}
			return c.Prev()
		}
	}
	return c.Last()
}

func hasPrefix(k, p []byte) bool {
	return len(k) >= len(p) && string(k[:len(p)]) == string(p)
}

// Each decodes every JSON record of bucket b with the given prefix into a T.
func Each[T any](tx *Tx, b Bucket, prefix string, reverse bool, fn func(key string, v T) error) error {
	return tx.ForEach(b, prefix, reverse, func(key string, raw []byte) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return Wrap(KindCorrupt, "ledger_corrupt", err, "record %s/%s is damaged", b, key)
		}
		return fn(key, v)
	})
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
