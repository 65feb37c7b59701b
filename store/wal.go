package store

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// The write-ahead log of a bbolt ledger. bbolt commits a transaction by writing every
// page it dirtied and syncing twice (pages, then meta): half of a shared commit's time,
// and more as the trees grow. Shared commits (groupcommit.go) instead append the writes they
// made (each put and delete, as bytes) to the log and sync it once; bbolt commits the
// accumulated transaction now and then (a checkpoint), and records in the file which log
// record it holds last. Opening the ledger applies the records it does not hold yet.
//
// A record is a header (magic, the ledger's log id, sequence number, payload length,
// CRC-32C of all of them and the payload) and the payload, the writes in order. After a
// checkpoint the log is written from its start again, over the records bbolt holds: a
// replay takes the records that continue the ledger's sequence without a gap, and stops
// at the first that does not (an older record, a torn write, bytes of another file).

const (
	walMagic      = 0x7470776c // "tpwl"
	walHeaderSize = 28
	walPut        = 'p'
	walDelete     = 'd'
)

var (
	// metaWALID names the ledger in its log's records, so that a log beside a file that
	// was replaced (a restored copy, a new ledger at the same path) is never applied to it.
	metaWALID = []byte("wal_id")
	// metaWALApplied is the sequence number of the last log record the file holds.
	metaWALApplied = []byte("wal_applied")
)

var walCRC = crc32.MakeTable(crc32.Castagnoli)

// walPath is the log of the ledger at path: beside it, as SQLite keeps its -wal file.
func walPath(path string) string { return path + "-wal" }

// walOps collects the writes of a shared commit, encoded as a log record's payload.
type walOps struct{ buf []byte }

func (w *walOps) put(b Bucket, key, value []byte) {
	w.buf = append(w.buf, walPut)
	w.buf = appendBytes(appendBytes(appendBytes(w.buf, []byte(b)), key), value)
}

func (w *walOps) del(b Bucket, key []byte) {
	w.buf = append(w.buf, walDelete)
	w.buf = appendBytes(appendBytes(w.buf, []byte(b)), key)
}

func appendBytes(buf, p []byte) []byte {
	return append(binary.AppendUvarint(buf, uint64(len(p))), p...)
}

// walRecord encodes a record of payload.
func walRecord(id []byte, seq uint64, payload []byte) []byte {
	rec := make([]byte, walHeaderSize, walHeaderSize+len(payload))
	binary.LittleEndian.PutUint32(rec[0:], walMagic)
	copy(rec[4:12], id)
	binary.LittleEndian.PutUint64(rec[12:], seq)
	binary.LittleEndian.PutUint32(rec[20:], uint32(len(payload)))
	rec = append(rec, payload...)
	binary.LittleEndian.PutUint32(rec[24:], walChecksum(rec))
	return rec
}

func walChecksum(rec []byte) uint32 {
	c := crc32.Update(0, walCRC, rec[:24])
	return crc32.Update(c, walCRC, rec[walHeaderSize:])
}

// nextWALRecord reads the record at the start of data: its sequence number, payload and
// length, or ok false when data does not begin with a whole, intact record of log id.
func nextWALRecord(data, id []byte) (seq uint64, payload []byte, size int, ok bool) {
	if len(data) < walHeaderSize || binary.LittleEndian.Uint32(data) != walMagic || string(data[4:12]) != string(id) {
		return 0, nil, 0, false
	}
	n := binary.LittleEndian.Uint32(data[20:])
	if uint64(n) > uint64(len(data)-walHeaderSize) {
		return 0, nil, 0, false
	}
	size = walHeaderSize + int(n)
	if walChecksum(data[:size]) != binary.LittleEndian.Uint32(data[24:]) {
		return 0, nil, 0, false
	}
	return binary.LittleEndian.Uint64(data[12:]), data[walHeaderSize:size], size, true
}

// eachWALOp calls fn for each write of payload, in order, and fails on a payload that
// does not parse: it has passed its checksum, so that is a damaged log, not a torn one.
func eachWALOp(payload []byte, fn func(op byte, b Bucket, key, value []byte) error) error {
	for len(payload) > 0 {
		op := payload[0]
		if op != walPut && op != walDelete {
			return fmt.Errorf("unknown write %#x", op)
		}
		rest := payload[1:]
		var fields [3][]byte
		n := 2
		if op == walPut {
			n = 3
		}
		for i := range n {
			l, k := binary.Uvarint(rest)
			if k <= 0 || l > uint64(len(rest)-k) {
				return errors.New("a write runs past the end of its record")
			}
			fields[i], rest = rest[k:k+int(l)], rest[k+int(l):]
		}
		if len(fields[0]) == 0 || len(fields[1]) == 0 {
			return errors.New("a write names no bucket or no key")
		}
		if err := fn(op, Bucket(fields[0]), fields[1], fields[2]); err != nil {
			return err
		}
		payload = rest
	}
	return nil
}

// applyWAL does the writes of payload in tx.
func applyWAL(tx *bolt.Tx, packedKeys bool, payload []byte) error {
	t := boltTx{btx: tx, packedKeys: packedKeys}
	return eachWALOp(payload, func(op byte, b Bucket, key, value []byte) error {
		bk := tx.Bucket([]byte(b))
		if bk == nil {
			return fmt.Errorf("a write names bucket %q, which the ledger lacks", b)
		}
		bk = t.bucket(b) // its fill percent
		if op == walDelete {
			return bk.Delete(key)
		}
		return bk.Put(key, value)
	})
}

// walFile is the log file, written by the one goroutine that holds the shared
// transaction.
type walFile struct {
	path   string   // of the ledger
	f      *os.File // nil until the first record (prepare)
	id     []byte
	off    int64 // where the next record goes
	noSync bool
	// idStored: the ledger holds id (metaWALID); records may be written.
	idStored bool
	// failSync, in tests, fails a sync before it is done.
	failSync func() error
}

// openWAL opens the log of the ledger at path, whose log id is id, if there is one: a
// ledger only read gets none (see create).
func openWAL(path string, id []byte, noSync bool) (*walFile, error) {
	w := &walFile{path: path, id: id, noSync: noSync}
	f, err := os.OpenFile(walPath(path), os.O_RDWR, 0)
	switch {
	case err == nil:
		w.f = f
	case !errors.Is(err, fs.ErrNotExist):
		return nil, Wrap(KindUnavailable, "ledger_unwritable", err, "cannot open the log %s of ledger %s", walPath(path), path)
	}
	return w, nil
}

// prepare makes the log ready for records: the file exists, and the ledger holds the
// log id that its records carry.
func (w *walFile) prepare(b *bolt.DB) error {
	if w.f == nil {
		name := walPath(w.path)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return Wrap(KindUnavailable, "ledger_unwritable", err, "cannot create the log %s of ledger %s", name, w.path)
		}
		if !w.noSync {
			// The log's name must outlast a crash as its records do.
			if d, err := os.Open(filepath.Dir(name)); err == nil {
				d.Sync()
				d.Close()
			}
		}
		w.f = f
	}
	if w.idStored {
		return nil
	}
	err := b.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte(BucketMeta)).Put(metaWALID, w.id) })
	w.idStored = err == nil
	return err
}

// write writes rec at the log's end; sync makes it durable. A failed write leaves the
// end where it was, so the next record overwrites whatever part of rec was written.
func (w *walFile) write(rec []byte) error {
	if _, err := w.f.WriteAt(rec, w.off); err != nil {
		return err
	}
	w.off += int64(len(rec))
	return nil
}

// sync makes what was written durable. It runs beside the next write: the kernel makes
// durable at least what was written before it began.
func (w *walFile) sync() error {
	if w.failSync != nil {
		if err := w.failSync(); err != nil {
			return err
		}
	}
	if w.noSync || w.f == nil {
		return nil
	}
	return unix.Fdatasync(int(w.f.Fd()))
}

// restart makes the next record go to the log's start: the file holds every record.
func (w *walFile) restart() { w.off = 0 }

func (w *walFile) close() error {
	if w.f == nil {
		return nil
	}
	return w.f.Close()
}

// pending returns, in order, the payloads of the records that follow applied, and the
// sequence number of the last.
func (w *walFile) pending(applied uint64) (payloads [][]byte, last uint64, err error) {
	if w.f == nil {
		return nil, applied, nil
	}
	data, err := io.ReadAll(io.NewSectionReader(w.f, 0, 1<<62))
	if err != nil {
		return nil, 0, err
	}
	last = applied
	for pos := 0; pos < len(data); {
		seq, payload, size, ok := nextWALRecord(data[pos:], w.id)
		if !ok || seq > last+1 || (seq <= applied && len(payloads) > 0) {
			break
		}
		pos += size
		if seq == last+1 {
			// New records go after the ones still to be applied.
			payloads, last, w.off = append(payloads, payload), seq, int64(pos)
		}
	}
	return payloads, last, nil
}

// openLog opens the log of the bbolt ledger b at path and returns, with it, the records
// it holds that the file does not (what was acknowledged before a crash) and the sequence
// number of the last: the shared transaction begins with them, and the first checkpoint
// writes them into the file. A ledger that has no log id yet gets one in memory: its
// first shared commit stores it (see walFile.prepare), so a ledger only read is never
// written.
func openLog(b *bolt.DB, path string, noSync bool) (w *walFile, pending [][]byte, last uint64, err error) {
	var id []byte
	err = b.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte(BucketMeta))
		if v := meta.Get(metaWALID); len(v) == 8 {
			id = append([]byte(nil), v...)
		}
		if v := meta.Get(metaWALApplied); len(v) == 8 {
			last = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		return nil, nil, 0, err
	}
	stored := id != nil
	if !stored {
		id = make([]byte, 8)
		rand.Read(id)
	}
	if w, err = openWAL(path, id, noSync); err != nil {
		return nil, nil, 0, err
	}
	w.idStored = stored
	if stored {
		applied := last
		if pending, last, err = w.pending(applied); err != nil {
			w.close()
			return nil, nil, 0, Wrap(KindUnavailable, "ledger_unreadable", err, "cannot read the log %s of ledger %s", walPath(path), path)
		}
		for i, p := range pending {
			if err := eachWALOp(p, func(byte, Bucket, []byte, []byte) error { return nil }); err != nil {
				w.close()
				return nil, nil, 0, Wrap(KindCorrupt, "ledger_corrupt", err, "the log %s of ledger %s is damaged at record %d", walPath(path), path, applied+1+uint64(i))
			}
		}
		// A record written but not yet synced when the process died is taken in now:
		// make it durable before anything reads it.
		if len(pending) > 0 {
			if err := w.sync(); err != nil {
				w.close()
				return nil, nil, 0, Wrap(KindUnavailable, "ledger_unwritable", err, "cannot sync the log %s of ledger %s", walPath(path), path)
			}
		}
	}
	return w, pending, last, nil
}
