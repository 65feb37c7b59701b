package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"

	"github.com/jackc/pgx/v5"
)

// CopyStats counts the records Copy wrote, bucket by bucket (the meta records that
// every ledger makes for itself are not counted).
type CopyStats struct {
	Buckets map[Bucket]int `json:"buckets"`
}

// Total is the number of records copied.
func (s CopyStats) Total() int {
	n := 0
	for _, c := range s.Buckets {
		n += c
	}
	return n
}

// record is one key of one bucket.
type record struct {
	b   Bucket
	key string
	val []byte
}

// bulkLoader is an engine that can take a whole ledger faster than one put at a time.
type bulkLoader interface {
	// load writes records, ending at the first error it yields.
	load(ctx context.Context, records iter.Seq2[record, error], stats *CopyStats) error
}

var errCopyStopped = errors.New("copy stopped")

// Copy copies every record of ledger from into ledger to, which must hold none yet
// (typically a bbolt file into a fresh PostgreSQL database), in one transaction on each
// side: to gets all of from as it was at one instant, or nothing.
func Copy(ctx context.Context, from, to *DB) (CopyStats, error) {
	stats := CopyStats{Buckets: map[Bucket]int{}}
	if from == to || (from.Engine() == to.Engine() && from.Path() == to.Path()) {
		return stats, Errorf(KindInvalid, "same_ledger", "cannot copy ledger %s onto itself", from.Path())
	}
	if err := to.View(ctx, func(tx *Tx) error { return requireEmpty(tx, to.Path()) }); err != nil {
		return stats, err
	}
	// Sealed records open only under the key file they were sealed with: the copy must
	// be keyed by the source's key file, or by none yet.
	var fromKeys, toKeys string
	from.View(ctx, func(tx *Tx) error { fromKeys = string(tx.GetRaw(BucketMeta, metaKeysCheck)); return nil })
	to.View(ctx, func(tx *Tx) error { toKeys = string(tx.GetRaw(BucketMeta, metaKeysCheck)); return nil })
	if toKeys != "" && toKeys != fromKeys {
		return stats, Errorf(KindConflict, "keys_differ", "ledger %s is keyed by another key file than ledger %s; open both with the same --keys", to.Path(), from.Path())
	}
	records := func(yield func(record, error) bool) {
		err := from.View(ctx, func(tx *Tx) error {
			for _, b := range allBuckets {
				err := tx.ForEach(b, "", false, func(k string, v []byte) error {
					if b == BucketMeta && (ownMeta(k) || (k == metaKeysCheck && toKeys != "")) {
						return nil
					}
					if b == BucketIdempotency {
						// A record leaves its generation (idemgen.go): the target files
						// it as it files its own. One used again past its time leaves
						// the newer one only.
						slot := idempotencySlot(k)
						if at, err := tx.idempotencyKey(slot); err != nil || at != k {
							return err
						}
						k = slot
					}
					// Never nil: an empty value (an index entry) must not become NULL.
					if !yield(record{b: b, key: k, val: append([]byte{}, v...)}, nil) {
						return errCopyStopped
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, errCopyStopped) {
			yield(record{}, err)
		}
	}
	var err error
	if bl, ok := to.eng.(bulkLoader); ok {
		err = bl.load(ctx, records, &stats)
	} else {
		err = to.Update(ctx, func(tx *Tx) error {
			clear(stats.Buckets)
			if err := requireEmpty(tx, to.Path()); err != nil {
				return err
			}
			for r, err := range records {
				if err != nil {
					return err
				}
				if err := tx.PutRaw(r.b, r.key, r.val); err != nil {
					return err
				}
				if !Bookkeeping(r.b, r.key) {
					stats.Buckets[r.b]++
				}
			}
			return shareEventData(tx)
		})
	}
	if err != nil {
		return CopyStats{}, err
	}
	for _, b := range allBuckets {
		if _, ok := stats.Buckets[b]; !ok {
			stats.Buckets[b] = 0
		}
	}
	return stats, nil
}

// shareEventData stores each record of the copy that is exactly the data of one of its
// events as a reference to that event, as the transaction that wrote both did (see
// Tx.PutJSON): the copy of a ledger file is no larger than the file. On an engine that
// keeps every record whole it does nothing.
func shareEventData(tx *Tx) error {
	refs, ok := tx.etx.(snapshotRefs)
	if !ok {
		return nil
	}
	return tx.ForEach(BucketEvents, "", false, func(id string, raw []byte) error {
		var e struct {
			Subject string          `json:"subject"`
			Data    json.RawMessage `json:"data"`
		}
		if json.Unmarshal(raw, &e) != nil || len(e.Data) == 0 {
			return nil // verify names a damaged event; the copy keeps it as it was
		}
		for b := range snapshotBuckets {
			if rec := tx.GetRaw(b, e.Subject); rec != nil && bytes.Equal(rec, e.Data) {
				if err := tx.write(b, e.Subject, func() error { return refs.putSnapshot(b, e.Subject, id) }); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// ownMeta reports whether a meta key is one every ledger writes for itself when made (a
// bbolt file marks its key layout).
func ownMeta(key string) bool {
	switch key {
	case string(metaMagic), string(metaSchema), string(metaPackedKeys), string(metaWALID), string(metaWALApplied),
		string(metaIdemGens):
		return true
	}
	return strings.HasPrefix(key, MetaMigrationPrefix)
}

// Bookkeeping reports whether a record is a ledger's note about itself (its schema, its
// key file binding, its upgrades) rather than a record of the ledger: counts of records
// leave these out.
func Bookkeeping(b Bucket, key string) bool {
	return b == BucketMeta && (ownMeta(key) || key == metaKeysCheck)
}

// MetaMigrationPrefix starts the meta keys that record a one-time upgrade of a ledger's
// records (an index built): bookkeeping of that ledger, which a copy rebuilds on its own
// rather than carries.
const MetaMigrationPrefix = "migration:"

// requireEmpty refuses a ledger that holds any record beyond those it made for itself.
func requireEmpty(tx *Tx, target string) error {
	for _, b := range allBuckets {
		found := ""
		err := tx.ForEach(b, "", false, func(k string, _ []byte) error {
			if b == BucketMeta && (ownMeta(k) || k == metaKeysCheck) {
				return nil // the binding to a key file is no record; Copy checks it apart
			}
			found = k
			return ErrStop
		})
		if err != nil {
			return err
		}
		if found != "" {
			return Errorf(KindConflict, "ledger_not_empty", "ledger %s already holds records (bucket %s has some); copy only into an empty ledger", target, b)
		}
	}
	return nil
}

// load writes the records with COPY, in one transaction that holds the table against
// other writers, checks it is empty first and counts the rows after.
func (e *pgEngine) load(ctx context.Context, records iter.Seq2[record, error], stats *CopyStats) error {
	if e.closed.Load() {
		return Errorf(KindUnavailable, "ledger_closed", "ledger %s is closed", e.url)
	}
	tx, err := e.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return e.classify(e.failure(err), modeUpdate, false)
	}
	defer rollback(tx)
	fail := func(err error) error {
		var se *Error
		if errors.As(err, &se) {
			return err
		}
		return e.classify(e.failure(err), modeUpdate, false)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE tagpay_kv IN SHARE ROW EXCLUSIVE MODE"); err != nil {
		return fail(err)
	}
	if err := requireEmpty(newTx(ctx, &pgTx{e: e, tx: tx, ctx: ctx}), e.url); err != nil {
		return fail(err)
	}
	next, stop := iter.Pull2(records)
	defer stop()
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"tagpay_kv"}, []string{"bucket", "key", "value"},
		pgx.CopyFromFunc(func() ([]any, error) {
			r, err, ok := next()
			if !ok {
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			if !Bookkeeping(r.b, r.key) {
				stats.Buckets[r.b]++
			}
			return []any{string(r.b), []byte(r.key), r.val}, nil
		}))
	stop()
	if err != nil {
		return fail(err)
	}
	// Count what landed, so that a copy that lost rows on the way fails rather than
	// leaving a ledger that verifies but is short.
	rows, err := tx.Query(ctx, "SELECT bucket, key FROM tagpay_kv")
	if err != nil {
		return fail(err)
	}
	landed := map[Bucket]int{}
	for rows.Next() {
		var b string
		var k []byte
		if err := rows.Scan(&b, &k); err != nil {
			rows.Close()
			return fail(err)
		}
		if !Bookkeeping(Bucket(b), string(k)) {
			landed[Bucket(b)]++
		}
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	for _, b := range allBuckets {
		if landed[b] != stats.Buckets[b] {
			return Errorf(KindInternal, "copy_mismatch", "copy into %s: bucket %s holds %d records after copying %d; nothing was changed", e.url, b, landed[b], stats.Buckets[b])
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return e.classify(e.failure(err), modeUpdate, true)
	}
	return nil
}

// String is the counts of the non-empty buckets, for a command's report.
func (s CopyStats) String() string {
	out := ""
	for _, b := range allBuckets {
		if n := s.Buckets[b]; n > 0 {
			if out != "" {
				out += ", "
			}
			out += fmt.Sprintf("%s %d", b, n)
		}
	}
	if out == "" {
		return "nothing"
	}
	return out
}
