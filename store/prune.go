package store

import (
	"context"
	"encoding/json"
	"time"
)

// pruneBatch is how many expired idempotency records one write transaction deletes, so
// that pruning never holds the writers up for long.
const pruneBatch = 500

// PruneIdempotency deletes the idempotency records older than the ledger's TTL and
// reports how many. It walks the records a batch at a time: a short read transaction
// (which blocks no writer) finds up to pruneBatch expired ones after the last key it
// looked at, and a small write transaction deletes them, checking each one's age again.
// So memory stays bounded however many records expire at once.
func (db *DB) PruneIdempotency(ctx context.Context) (int, error) {
	if db.idemTTL <= 0 {
		return 0, nil
	}
	pruned, cursor := 0, ""
	for {
		var (
			expired []string
			last    string
			done    bool
		)
		err := db.View(ctx, func(tx *Tx) error {
			expired, last, done = expired[:0], cursor, true
			return tx.ForEachFrom(BucketIdempotency, "", cursor, false, func(key string, v []byte) error {
				last = key
				if tx.idemExpired(v) {
					expired = append(expired, key)
				}
				if len(expired) == pruneBatch {
					done = false
					return ErrStop
				}
				return ctx.Err()
			})
		})
		if err != nil {
			return pruned, err
		}
		cursor = last
		if len(expired) > 0 {
			deleted := 0
			err := db.Update(ctx, func(tx *Tx) error {
				deleted = 0
				for _, key := range expired {
					v := tx.GetRaw(BucketIdempotency, key)
					if v == nil || !tx.idemExpired(v) {
						continue // used again since the read
					}
					if err := tx.Delete(BucketIdempotency, key); err != nil {
						return err
					}
					deleted++
				}
				return nil
			})
			if err != nil {
				return pruned, err
			}
			pruned += deleted
		}
		if done {
			return pruned, nil
		}
	}
}

// idemExpired reports whether a stored idempotency record is past the TTL; a record
// that does not decode is left for verify to report.
func (tx *Tx) idemExpired(raw []byte) bool {
	var rec struct {
		CreatedAt time.Time `json:"created_at"`
	}
	if json.Unmarshal(raw, &rec) != nil || rec.CreatedAt.IsZero() {
		return false
	}
	return tx.idemTTL > 0 && tx.now.Sub(rec.CreatedAt) > tx.idemTTL
}
