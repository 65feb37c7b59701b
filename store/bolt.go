package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"syscall"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// boltEngine keeps the ledger in one bbolt file.
type boltEngine struct {
	bolt       *bolt.DB
	path       string
	group      *groupCommit
	packedKeys bool // the file was created with packed keys (metaPackedKeys)
}

// bbolt's meta page: a 16-byte page header, then the meta's magic number.
const boltMagic = 0xED0CDAED

// openBoltEngine opens the ledger file at path, creating it (and its folder) when it
// does not exist.
func openBoltEngine(path string, opts Options) (*boltEngine, error) {
	fresh, err := checkFile(path)
	if err != nil {
		return nil, err
	}
	if fresh && opts.MustExist {
		return nil, Errorf(KindNotFound, "ledger_not_found", "there is no ledger at %s (a command that writes creates one)", path)
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
		err = (&boltEngine{bolt: b, path: path}).checkSchema()
		b.Close()
		if err != nil {
			return nil, err
		}
	}
	b, err := openBolt(path, opts, false)
	if err != nil {
		return nil, err
	}
	e := &boltEngine{bolt: b, path: path}
	if fresh {
		err = e.initialize()
	} else if err = e.checkSchema(); err == nil {
		err = e.upgrade()
	}
	var (
		log     *walFile
		pending [][]byte
		seq     uint64
	)
	if err == nil {
		log, pending, seq, err = openLog(b, path, opts.NoSync)
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	e.group = newGroupCommit(b, log, e.packedKeys, pending, seq)
	return e, nil
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
	// bbolt grows the file 16 MiB ahead of what it holds; 1 MiB ahead costs one more
	// fsync per thousand taps and keeps a ledger's file near the size of its pages.
	b.AllocSize = 1 << 20
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

func (e *boltEngine) initialize() error {
	return e.bolt.Update(func(tx *bolt.Tx) error {
		for _, b := range slices.Concat(allBuckets, boltBuckets) {
			if _, err := tx.CreateBucketIfNotExists([]byte(b)); err != nil {
				return err
			}
		}
		meta := tx.Bucket([]byte(BucketMeta))
		if err := meta.Put(metaMagic, magicValue); err != nil {
			return err
		}
		if err := meta.Put(metaPackedKeys, []byte{1}); err != nil {
			return err
		}
		e.packedKeys = true
		return meta.Put(metaSchema, binary.BigEndian.AppendUint32(nil, boltSchemaVersion))
	})
}

func (e *boltEngine) checkSchema() error {
	return e.view(func(tx *bolt.Tx) error {
		// A file shorter than its own high-water mark lost its tail: reading the pages
		// past the end would fault, so refuse it before reading any.
		if info, err := os.Stat(e.path); err != nil {
			return Wrap(KindUnavailable, "ledger_unreadable", err, "cannot read ledger %s", e.path)
		} else if info.Size() < tx.Size() {
			return Errorf(KindCorrupt, "ledger_corrupt", "ledger %s is damaged: the file holds %d bytes but its pages reach %d (truncated?)", e.path, info.Size(), tx.Size())
		}
		// The list of buckets and the small buckets it holds inline are a page or two:
		// check them before any cursor follows them (see treeProblems). Every bucket's
		// tree is walked by ledger verify only; that reads the whole file.
		ps := e.bolt.Info().PageSize
		if p := treeProblems(e.path, ps, uint64(tx.Size())/uint64(ps), map[string]uint64{bucketList: metaRoot(e.path, ps)}); len(p) > 0 {
			return Errorf(KindCorrupt, "ledger_corrupt", "ledger %s is damaged: %s", e.path, p[0])
		}
		meta := tx.Bucket([]byte(BucketMeta))
		if meta == nil || string(meta.Get(metaMagic)) != string(magicValue) {
			return Errorf(KindCorrupt, "not_a_ledger", "%s is a bbolt file but not a tagpay ledger; refusing to touch it", e.path)
		}
		v := meta.Get(metaSchema)
		if len(v) != 4 {
			return Errorf(KindCorrupt, "ledger_corrupt", "ledger %s has no readable schema version", e.path)
		}
		if got := binary.BigEndian.Uint32(v); got < 1 || got > boltSchemaVersion {
			return Errorf(KindConflict, "schema_version", "ledger %s has schema version %d; this tagpay reads version %d", e.path, got, boltSchemaVersion)
		}
		switch pk := meta.Get(metaPackedKeys); {
		case pk == nil:
			e.packedKeys = false
		case len(pk) == 1 && pk[0] == 1:
			e.packedKeys = true
		default:
			return Errorf(KindCorrupt, "ledger_corrupt", "ledger %s has a damaged key layout mark", e.path)
		}
		for _, b := range allBuckets {
			if tx.Bucket([]byte(b)) == nil && !slices.Contains(addedBuckets, b) {
				return Errorf(KindCorrupt, "ledger_corrupt", "ledger %s lacks bucket %q", e.path, b)
			}
		}
		return nil
	})
}

// upgrade brings a ledger written by an earlier tagpay to this layout: it creates the
// buckets added since, empty, and marks a file of an earlier schema version as this
// one. A ledger that needs neither is not written to.
func (e *boltEngine) upgrade() error {
	var missing []Bucket
	old := false
	err := e.view(func(tx *bolt.Tx) error {
		for _, b := range slices.Concat(addedBuckets, boltBuckets) {
			if tx.Bucket([]byte(b)) == nil {
				missing = append(missing, b)
			}
		}
		old = binary.BigEndian.Uint32(tx.Bucket([]byte(BucketMeta)).Get(metaSchema)) != boltSchemaVersion
		return nil
	})
	if err != nil || len(missing) == 0 && !old {
		return err
	}
	err = e.bolt.Update(func(tx *bolt.Tx) error {
		for _, b := range missing {
			if _, err := tx.CreateBucketIfNotExists([]byte(b)); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte(BucketMeta)).Put(metaSchema, binary.BigEndian.AppendUint32(nil, boltSchemaVersion))
	})
	return wrapWriteErr(e.path, err)
}

// view runs fn and turns a bbolt panic on a damaged page into an error.
func (e *boltEngine) view(fn func(*bolt.Tx) error) (err error) {
	defer guardFaults()()
	defer e.damaged(&err)
	return e.bolt.View(fn)
}

// damaged, deferred, turns a panic inside bbolt (a damaged page) into a corrupt-ledger
// error.
func (e *boltEngine) damaged(err *error) {
	if r := recover(); r != nil {
		*err = Errorf(KindCorrupt, "ledger_corrupt", "ledger %s is damaged: %v", e.path, r)
	}
}

func (e *boltEngine) target() string { return e.path }
func (e *boltEngine) name() string   { return "bbolt" }

// close checkpoints the shared transaction, so that the file alone holds the ledger.
func (e *boltEngine) close() error {
	e.group.close()
	err := e.bolt.Close()
	if cerr := e.group.log.close(); err == nil {
		err = cerr
	}
	return wrapWriteErr(e.path, err)
}

func (e *boltEngine) ping(ctx context.Context) error {
	err := e.view(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte(BucketMeta)) == nil {
			return Errorf(KindCorrupt, "ledger_corrupt", "ledger %s lacks its meta bucket", e.path)
		}
		return nil
	})
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return Wrap(KindUnavailable, "ledger_closed", err, "ledger %s is not open", e.path)
	}
	return err
}

func (e *boltEngine) run(ctx context.Context, mode txMode, fn func(engineTx) error) (err error) {
	view := func(held bool) error {
		return e.view(func(btx *bolt.Tx) error { return fn(boltTx{btx: btx, packedKeys: e.packedKeys, held: held}) })
	}
	switch mode {
	case modeViewSettled:
		return view(false)
	case modeView, modeViewHeld:
		held := mode == modeViewHeld
		err := e.group.read(held, func(shared *bolt.Tx) (err error) {
			if shared == nil {
				return view(held)
			}
			defer guardFaults()()
			defer e.damaged(&err)
			return fn(boltTx{btx: shared, packedKeys: e.packedKeys, readOnly: true, held: true})
		})
		if errors.Is(err, errUnsettled) {
			return e.unsettled(err)
		}
		return err
	}
	defer guardFaults()()
	defer e.damaged(&err)
	if mode == modeUpdate {
		err = e.group.exclusive(func() error {
			return e.bolt.Update(func(btx *bolt.Tx) error { return fn(boltTx{btx: btx, packedKeys: e.packedKeys}) })
		})
	} else {
		err = e.group.run(func(btx *bolt.Tx, log *walOps) error {
			return fn(boltTx{btx: btx, packedKeys: e.packedKeys, log: log})
		})
	}
	return wrapWriteErr(e.path, err)
}

// unsettled names a failed checkpoint before a read: the log holds the acknowledged
// writes, which the file does not yet, so a read now could miss some.
func (e *boltEngine) unsettled(err error) error {
	var se *Error
	if errors.As(err, &se) {
		return err
	}
	return Wrap(KindInternal, "ledger_write_failed", err, "ledger %s cannot take in the writes of its log, so it is not read now; they are safe in %s", e.path, walPath(e.path))
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

// boltTx is a value, so that two runs in one bbolt transaction compare equal.
type boltTx struct {
	btx        *bolt.Tx
	packedKeys bool
	// log, in a shared commit, collects the writes for the write-ahead log.
	log *walOps
	// held: no writer commits while this read runs (DB.ViewHeld).
	held bool
	// readOnly: a view that reads the shared transaction (groupCommit.read).
	readOnly bool
}

// key returns key as bucket b holds it.
func (t boltTx) key(b Bucket, key string) []byte {
	if t.packedKeys {
		return packKey(b, key)
	}
	return []byte(key)
}

func (t boltTx) bucket(b Bucket) *bolt.Bucket {
	bk := t.btx.Bucket([]byte(b))
	if bk == nil {
		// Open checks every bucket exists; reaching here is a programming error.
		panic("store: bucket " + string(b) + " is missing")
	}
	if appendOnly[b] {
		// Keys that only grow (time-ordered ids) fill pages whole: bbolt's default
		// split at half a page would leave every page of these buckets half empty.
		bk.FillPercent = 1
		if b == BucketOrderIndex {
			// It grows at one place per payer, payee and tag, in the middle of its
			// branch pages too: split whole, those were left a quarter full.
			bk.FillPercent = 0.9
		}
	}
	return bk
}

func (t boltTx) writable() bool { return t.btx.Writable() && !t.readOnly }

func (t boltTx) get(b Bucket, key string) ([]byte, error) {
	return t.record(b, key, t.bucket(b).Get(t.key(b, key)))
}

// snapshotMark begins a value that holds no record but the key of the event whose data
// is the record (see Tx.PutJSON). A record begins with '{' or packMark.
const snapshotMark = 0x02

func (t boltTx) putSnapshot(b Bucket, key, evtID string) error {
	return t.putRaw(b, t.key(b, key), append([]byte{snapshotMark}, t.key(BucketEvents, evtID)...))
}

// putRaw puts value at key as bucket b holds them, and logs the write in a shared commit.
func (t boltTx) putRaw(b Bucket, key, value []byte) error {
	if err := t.mayWrite(b); err != nil {
		return err
	}
	if err := t.bucket(b).Put(key, value); err != nil {
		return err
	}
	if t.log != nil {
		t.log.put(b, key, value)
	}
	return nil
}

// mayWrite refuses a write to b in a view of the shared transaction, and in a shared
// commit when b is settled.
func (t boltTx) mayWrite(b Bucket) error {
	if t.readOnly {
		return bolterrors.ErrTxNotWritable
	}
	if t.log != nil && settledBuckets[b] {
		return errSettledWrite
	}
	return nil
}

// settledBuckets are read by views that do not wait for a checkpoint (modeViewSettled:
// a server authenticates every request), so they are written in bbolt transactions of
// their own only, never in a shared commit whose writes may still be only in the log: a
// shared call that writes one fails there and runs again alone (groupCommit.run).
var settledBuckets = map[Bucket]bool{BucketKeys: true, BucketKeyIndex: true}

var errSettledWrite = errors.New("store: keys are not written in a shared commit; the call runs alone")

// record returns the record that v, read at key, holds: v unpacked (see packValue), or
// the data of the event v refers to.
func (t boltTx) record(b Bucket, key string, v []byte) ([]byte, error) {
	if len(v) == 0 || v[0] != snapshotMark || !snapshotBuckets[b] {
		return unpacked(b, key, v)
	}
	ev, err := unpacked(BucketEvents, key, t.bucket(BucketEvents).Get(v[1:]))
	if err != nil {
		return nil, err
	}
	var e struct {
		Data json.RawMessage `json:"data"`
	}
	if ev == nil {
		return nil, Errorf(KindCorrupt, "ledger_corrupt", "record %s/%s refers to an event that is not in the ledger", b, key)
	}
	if err := json.Unmarshal(ev, &e); err != nil || len(e.Data) == 0 {
		return nil, Errorf(KindCorrupt, "ledger_corrupt", "record %s/%s refers to a damaged event", b, key)
	}
	return e.Data, nil
}

func (t boltTx) put(b Bucket, key string, value []byte) error {
	return t.putRaw(b, t.key(b, key), packValue(b, value))
}

func (t boltTx) putWhileAny(b Bucket, key string, value []byte, guard Bucket) error {
	if k, _ := t.bucket(guard).Cursor().First(); k == nil {
		return nil
	}
	return t.put(b, key, value)
}

// unpacked returns the record that v, read at key, holds (see packValue).
func unpacked(b Bucket, key string, v []byte) ([]byte, error) {
	out, err := unpackValue(b, v)
	if err != nil {
		return nil, Wrap(KindCorrupt, "ledger_corrupt", err, "record %s/%s is damaged", b, key)
	}
	return out, nil
}

func (t boltTx) del(b Bucket, key string) error {
	return t.delRaw(b, t.key(b, key))
}

// delRaw deletes key as bucket b holds it, and logs the delete in a shared commit.
func (t boltTx) delRaw(b Bucket, k []byte) error {
	if err := t.mayWrite(b); err != nil {
		return err
	}
	if err := t.bucket(b).Delete(k); err != nil {
		return err
	}
	if t.log != nil {
		t.log.del(b, k)
	}
	return nil
}

func (t boltTx) scan(b Bucket, prefix, from string, reverse bool, fn func(key string, value []byte) error) error {
	c := t.bucket(b).Cursor()
	p, f, exact := []byte(prefix), []byte(from), true
	if t.packedKeys {
		p = packKey(b, prefix)
		f, exact = packSeek(b, from)
	}
	end := prefixEnd(p)
	var k, v []byte
	switch {
	case from != "" && !reverse && string(f) >= string(p):
		if k, v = c.Seek(f); k != nil && exact && string(k) == string(f) {
			k, v = c.Next()
		}
	case from != "" && reverse && (end == nil || string(f) < string(end)):
		if k, _ = c.Seek(f); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	case !reverse:
		k, v = c.Seek(p)
	default:
		k, v = seekLast(c, p)
	}
	for ; k != nil && hasPrefix(k, p); k, v = step(c, reverse) {
		key := string(k)
		if t.packedKeys {
			var err error
			if key, err = unpackKey(b, k); err != nil {
				return Wrap(KindCorrupt, "ledger_corrupt", err, "bucket %s is damaged", b)
			}
		}
		record, err := t.record(b, key, v)
		if err != nil {
			return err
		}
		if err := fn(key, record); err != nil {
			return err
		}
	}
	return nil
}

// check runs bbolt's consistency check: bbolt keeps no checksums on data pages, but the
// check at least finds pages that are unreachable, doubly used or malformed.
//
// The check compares the pages it reaches with the database's free list, which a writer
// committing meanwhile changes (a server's webhook dispatcher writes in the background):
// from a read-only transaction it would report the pages of that commit as damage. So it
// runs in a write transaction of its own, which keeps writers out and is rolled back.
func (t boltTx) check() ([]Violation, error) {
	var out []Violation
	db := t.btx.DB()
	// bbolt's check trusts page headers: a damaged overflow count makes it loop for
	// billions of steps, and its walk runs on a goroutine of its own, where a fault on
	// the memory map cannot be recovered. Look at the headers first, and leave a file
	// with insane ones to this report alone.
	if problems := insanePages(db.Path(), db.Info().PageSize, uint64(t.btx.Size())/uint64(db.Info().PageSize)); len(problems) > 0 {
		for _, p := range problems {
			out = append(out, Violation{Check: "file_structure", Subject: db.Path(), Message: p})
		}
		return out, nil
	}
	btx := t.btx
	if !btx.Writable() && !t.held {
		// A file opened read-only has no writers to keep out: check it as it is.
		if w, err := db.Begin(true); err == nil {
			defer w.Rollback()
			btx = w
		}
	}
	// bbolt's cursors follow a branch's children without a bound: a damaged page that
	// names itself or an ancestor sends them down for ever, growing their stack until
	// the process runs out of memory. Walk each bucket's tree from the file first.
	pageSize := db.Info().PageSize
	hwm := uint64(btx.Size()) / uint64(pageSize)
	roots := map[string]uint64{bucketList: metaRoot(db.Path(), pageSize)}
	for range 2 {
		if problems := treeProblems(db.Path(), pageSize, hwm, roots); len(problems) > 0 {
			for _, p := range problems {
				out = append(out, Violation{Check: "file_structure", Subject: db.Path(), Message: p})
			}
			return out, nil
		}
		// The list of buckets is sound: walk each bucket's tree next.
		roots = map[string]uint64{}
		btx.ForEach(func(name []byte, b *bolt.Bucket) error {
			roots[string(name)] = uint64(b.Root())
			return nil
		})
	}
	// bbolt checks in a goroutine of its own, where a fault on a damaged key offset would
	// crash the process: touch every key and value here first, where a fault is a panic
	// that view recovers as a corrupt-ledger error.
	touchAll(btx)
	for err := range btx.Check() {
		out = append(out, Violation{Check: "file_structure", Subject: db.Path(), Message: err.Error()})
	}
	if len(out) > 0 {
		return out, nil
	}
	return idempotencyProblems(boltTx{btx: btx}, db.Path()), nil
}

// touchAll reads every key and value once. The sum keeps the reads from being optimized
// away.
func touchAll(btx *bolt.Tx) {
	var touched byte
	defer func() { runtime.KeepAlive(touched) }()
	var walk func(b *bolt.Bucket)
	walk = func(b *bolt.Bucket) {
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) > 0 {
				touched ^= k[0] ^ k[len(k)-1]
			}
			if v == nil {
				if sub := b.Bucket(k); sub != nil {
					walk(sub)
				}
				continue
			}
			if len(v) > 0 {
				touched ^= v[0] ^ v[len(v)-1]
			}
		}
	}
	btx.ForEach(func(_ []byte, b *bolt.Bucket) error { walk(b); return nil })
}

func step(c *bolt.Cursor, reverse bool) ([]byte, []byte) {
	if reverse {
		return c.Prev()
	}
	return c.Next()
}

// seekLast positions c at the last key with prefix p.
func seekLast(c *bolt.Cursor, p []byte) ([]byte, []byte) {
	end := prefixEnd(p)
	if end == nil {
		return c.Last()
	}
	if k, _ := c.Seek(end); k == nil {
		return c.Last()
	}
	return c.Prev()
}

func hasPrefix(k, p []byte) bool {
	return len(k) >= len(p) && string(k[:len(p)]) == string(p)
}

// Page flags of bbolt's file format.
const (
	boltBranchPage = 0x01
	boltLeafPage   = 0x02
	boltPageHeader = 16 // id uint64, flags uint16, count uint16, overflow uint32
	boltElemSize   = 16 // a branch or leaf element header
)

// insanePages reads the header of every page below the high-water mark hwm and names
// the branch and leaf pages whose overflow runs past the file's pages or whose element
// count cannot fit in them. A page whose header does not name its own id is free space
// or the tail of a longer page, and is passed over.
func insanePages(path string, pageSize int, hwm uint64) []string {
	if pageSize <= 0 {
		return []string{"the page size is not readable"}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	hdr := make([]byte, boltPageHeader)
	for id := uint64(2); id < hwm && len(out) < 10; {
		if _, err := f.ReadAt(hdr, int64(id)*int64(pageSize)); err != nil {
			return append(out, fmt.Sprintf("page %d cannot be read: %v", id, err))
		}
		pid := binary.LittleEndian.Uint64(hdr[0:])
		flags := binary.LittleEndian.Uint16(hdr[8:])
		count := uint64(binary.LittleEndian.Uint16(hdr[10:]))
		overflow := uint64(binary.LittleEndian.Uint32(hdr[12:]))
		if pid != id || (flags != boltBranchPage && flags != boltLeafPage) {
			id++
			continue
		}
		if id+overflow >= hwm {
			out = append(out, fmt.Sprintf("page %d: its overflow of %d pages runs past the last page %d", id, overflow, hwm-1))
			id++
			continue
		}
		if count*boltElemSize > (overflow+1)*uint64(pageSize)-boltPageHeader {
			out = append(out, fmt.Sprintf("page %d: %d elements cannot fit in %d page(s)", id, count, overflow+1))
		}
		id += 1 + overflow
	}
	return out
}

// treeProblems walks the tree of each bucket of roots (its root page; 0: a bucket held
// inline in its parent's leaf) in the file at path, reading each page once: a child
// that is past the last page hwm-1, is not a tree page, or was reached before (a loop,
// or a page in two places), or a tree deeper than any bbolt builds, is damage.
func treeProblems(path string, pageSize int, hwm uint64, roots map[string]uint64) []string {
	f, err := os.Open(path)
	if err != nil || pageSize <= boltPageHeader {
		return nil
	}
	defer f.Close()
	const maxDepth = 32 // 4 KB pages hold at least 2 children: 2^32 pages is beyond any file
	var out []string
	seen := map[uint64]string{}
	hdr := make([]byte, boltPageHeader)
	var walk func(bucket string, id uint64, depth int) bool
	walk = func(bucket string, id uint64, depth int) bool {
		switch {
		case id < 2 || id >= hwm:
			out = append(out, fmt.Sprintf("bucket %s names page %d, outside the file's pages 2 to %d", bucket, id, hwm-1))
			return false
		case seen[id] != "":
			out = append(out, fmt.Sprintf("bucket %s reaches page %d a second time (it is also in %s): the tree loops or shares a page", bucket, id, seen[id]))
			return false
		case depth > maxDepth:
			out = append(out, fmt.Sprintf("bucket %s is deeper than %d pages", bucket, maxDepth))
			return false
		}
		seen[id] = bucket
		if _, err := f.ReadAt(hdr, int64(id)*int64(pageSize)); err != nil {
			out = append(out, fmt.Sprintf("page %d of bucket %s cannot be read: %v", id, bucket, err))
			return false
		}
		flags := binary.LittleEndian.Uint16(hdr[8:])
		count := int(binary.LittleEndian.Uint16(hdr[10:]))
		switch {
		case binary.LittleEndian.Uint64(hdr) != id || flags != boltBranchPage && flags != boltLeafPage:
			out = append(out, fmt.Sprintf("bucket %s names page %d, which is not a page of its tree", bucket, id))
			return false
		case flags == boltLeafPage && bucket == bucketList:
			return inlineBucketsSound(f, id, pageSize, count, &out)
		case flags == boltLeafPage:
			return true
		}
		elems := make([]byte, count*boltElemSize)
		if _, err := f.ReadAt(elems, int64(id)*int64(pageSize)+boltPageHeader); err != nil {
			out = append(out, fmt.Sprintf("page %d of bucket %s cannot be read: %v", id, bucket, err))
			return false
		}
		for i := range count {
			// A branch element: position and key size (4 bytes each), then the child.
			if !walk(bucket, binary.LittleEndian.Uint64(elems[i*boltElemSize+8:]), depth+1) {
				return false
			}
		}
		return true
	}
	for _, name := range slices.Sorted(maps.Keys(roots)) {
		if roots[name] != 0 && !walk(name, roots[name], 1) {
			break
		}
	}
	return out
}

// bucketList names the tree of the buckets themselves in treeProblems' reports.
const bucketList = "list"

// inlineBucketsSound checks the buckets that leaf page id of the bucket list holds in
// their value (a small bucket's one page, inline). That page must be a leaf: bbolt reads
// the children of an inline page that claims to be a branch from the same page again,
// for ever.
func inlineBucketsSound(f *os.File, id uint64, pageSize, count int, out *[]string) bool {
	const bucketHeader = 16 // the bucket's root page and sequence
	hdr := make([]byte, boltPageHeader)
	if _, err := f.ReadAt(hdr, int64(id)*int64(pageSize)); err != nil {
		return false
	}
	page := make([]byte, (int(binary.LittleEndian.Uint32(hdr[12:]))+1)*pageSize)
	if _, err := f.ReadAt(page, int64(id)*int64(pageSize)); err != nil {
		*out = append(*out, fmt.Sprintf("page %d of the bucket list cannot be read: %v", id, err))
		return false
	}
	for i := range count {
		// A leaf element: flags, the key's position from the element, key size, value size.
		e := boltPageHeader + i*boltElemSize
		flags := binary.LittleEndian.Uint32(page[e:])
		pos, ksize, vsize := int(binary.LittleEndian.Uint32(page[e+4:])), int(binary.LittleEndian.Uint32(page[e+8:])), int(binary.LittleEndian.Uint32(page[e+12:]))
		start := e + pos + ksize
		if flags&0x01 == 0 || pos < 0 || start < e || start+vsize > len(page) || vsize < bucketHeader {
			continue // not a bucket, or bounds that bbolt's own check reports
		}
		v := page[start : start+vsize]
		if binary.LittleEndian.Uint64(v) != 0 || vsize < bucketHeader+boltPageHeader {
			continue
		}
		if pf := binary.LittleEndian.Uint16(v[bucketHeader+8:]); pf != boltLeafPage {
			*out = append(*out, fmt.Sprintf("bucket %q on page %d is held inline in a page marked %#x, not a leaf", page[e+pos:start], id, pf))
			return false
		}
	}
	return true
}

// metaRoot is the root page of the list of buckets, as the newer of the file's two meta
// pages names it (0 when neither reads).
func metaRoot(path string, pageSize int) uint64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	var root, txid uint64
	meta := make([]byte, 80)
	for i := range 2 {
		// After the page header: magic, version, page size and flags (4 bytes each), the
		// root bucket (its page, its sequence), the free list's page, the page count, the
		// transaction id.
		if _, err := f.ReadAt(meta, int64(i*pageSize)); err != nil || binary.LittleEndian.Uint32(meta[16:]) != boltMagic {
			continue
		}
		if id := binary.LittleEndian.Uint64(meta[64:]); root == 0 || id > txid {
			root, txid = binary.LittleEndian.Uint64(meta[32:]), id
		}
	}
	return root
}

// compactBoltFile rewrites the closed ledger file at path with its live records only,
// so that no freed page keeps a deleted value: the copy is written and synced beside
// the file, then renamed over it while the original is still held.
func compactBoltFile(path string, opts Options) error {
	src, err := openBolt(path, opts, false)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tagpay-compact-*")
	if err != nil {
		return Wrap(KindUnavailable, "ledger_unwritable", err, "cannot rewrite ledger %s", path)
	}
	name := tmp.Name()
	tmp.Close()
	os.Remove(name)
	defer os.Remove(name)
	dst, err := bolt.Open(name, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if err != nil {
		return Wrap(KindUnavailable, "ledger_unwritable", err, "cannot rewrite ledger %s", path)
	}
	if err := bolt.Compact(dst, src, 0); err != nil {
		dst.Close()
		return Wrap(KindInternal, "ledger_write_failed", err, "rewriting ledger %s failed; it is unchanged", path)
	}
	if err := dst.Close(); err != nil {
		return Wrap(KindInternal, "ledger_write_failed", err, "rewriting ledger %s failed; it is unchanged", path)
	}
	if err := os.Rename(name, path); err != nil {
		return Wrap(KindInternal, "ledger_write_failed", err, "rewriting ledger %s failed; it is unchanged", path)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
