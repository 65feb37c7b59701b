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
// reports how many. It reads in one read transaction (which blocks no writer) and deletes
// in small write transactions, each checking the record's age again.
func (db *DB) PruneIdempotency(ctx context.Context) (int, error) {
	if db.idemTTL <= 0 {
		return 0, nil
	}
	var expired []string
	err := db.View(ctx, func(tx *Tx) error {
		expired = expired[:0]
		return tx.ForEach(BucketIdempotency, "", false, func(key string, v []byte) error {
			if tx.idemExpired(v) {
				expired = append(expired, key)
			}
			return ctx.Err()
		})
	})
	if err != nil {
		return 0, err
	}
	pruned := 0
	for len(expired) > 0 {
		n := min(pruneBatch, len(expired))
		batch := expired[:n]
		expired = expired[n:]
		deleted := 0
		err := db.Update(ctx, func(tx *Tx) error {
			deleted = 0
			for _, key := range batch {
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
	return pruned, nil
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
