package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// IdempotencyRecord remembers the first result of a mutating request.
type IdempotencyRecord struct {
	Op        string          `json:"op"`
	Hash      string          `json:"hash"` // of the request parameters
	Result    json.RawMessage `json:"result"`
	CreatedAt time.Time       `json:"created_at"`
}

// MarshalJSON writes the record by hand (see JSONObject): one is written with every tap
// that carries a key.
func (r IdempotencyRecord) MarshalJSON() ([]byte, error) {
	o := NewJSONObject(128 + len(r.Result))
	o.Str("op", r.Op)
	o.Str("hash", r.Hash)
	if len(r.Result) > 0 && !json.Valid(r.Result) {
		return nil, fmt.Errorf("idempotency record: its result is not JSON")
	}
	o.Raw("result", r.Result)
	if err := o.Time("created_at", r.CreatedAt); err != nil {
		return nil, err
	}
	return o.Bytes(), nil
}

// Idempotent runs fn once per (actor, key): the first result is stored in the same
// transaction as the change; a repeat with the same operation and parameters returns
// that result with replayed set, a repeat with anything else is a conflict. An empty key
// runs fn every time.
func Idempotent[T any](tx *Tx, key, op string, params any, fn func() (T, error)) (result T, replayed bool, err error) {
	if key == "" {
		result, err = fn()
		return result, false, err
	}
	if err := CheckIdempotencyKey(key); err != nil {
		return result, false, err
	}
	sum, err := paramsSum(op, params)
	if err != nil {
		return result, false, err
	}
	// 128 bits of the hash tell two requests apart; records written before kept 256.
	hash, long := hex.EncodeToString(sum[:16]), hex.EncodeToString(sum[:])
	slot := tx.Actor().ID + "/" + key

	at, err := tx.idempotencyKey(slot)
	if err != nil {
		return result, false, err
	}
	var rec IdempotencyRecord
	found, err := tx.Get(BucketIdempotency, at, &rec)
	if err != nil {
		return result, false, err
	}
	// A record past its time is gone as far as the caller is concerned: the key may be
	// used again, as if pruned.
	if found && tx.idemTTL > 0 && tx.now.Sub(rec.CreatedAt) > tx.idemTTL {
		found = false
	}
	if found {
		if rec.Op != op || rec.Hash != hash && rec.Hash != long {
			return result, false, Errorf(KindConflict, "idempotency_key_reused", "idempotency key %q was already used with different parameters", key).WithParam("idempotency_key")
		}
		if err := json.Unmarshal(rec.Result, &result); err != nil {
			return result, false, Wrap(KindCorrupt, "ledger_corrupt", err, "stored result of idempotency key %q is damaged", key)
		}
		if flag, ok := tx.ctx.Value(replayKey{}).(*bool); ok {
			*flag = true
		}
		return result, true, nil
	}
	result, err = fn()
	if err != nil {
		return result, false, err
	}
	raw, err := json.Marshal(result)
	if err != nil {
		return result, false, fmt.Errorf("storing result of idempotency key: %w", err)
	}
	rec = IdempotencyRecord{Op: op, Hash: hash, Result: raw, CreatedAt: tx.now}
	k, err := tx.engineKey(func() (string, error) { return tx.etx.newIdempotencyKey(slot, at) })
	if err != nil {
		return result, false, err
	}
	return result, false, tx.Put(BucketIdempotency, k, rec)
}

// paramsSum is the hash of an operation and its parameters that a record keeps.
func paramsSum(op string, params any) ([32]byte, error) {
	p, err := json.Marshal(params)
	if err != nil {
		return [32]byte{}, fmt.Errorf("hashing request parameters: %w", err)
	}
	return sha256.Sum256(append([]byte(op+"\x00"), p...)), nil
}

// getIdempotency reads the record of slot (actor/key) into rec.
func (tx *Tx) getIdempotency(slot string, rec *IdempotencyRecord) (bool, error) {
	k, err := tx.idempotencyKey(slot)
	if err != nil {
		return false, err
	}
	return tx.Get(BucketIdempotency, k, rec)
}

// idempotencyKey is the key that holds slot's record (engineTx.idempotencyKey).
func (tx *Tx) idempotencyKey(slot string) (string, error) {
	return tx.engineKey(func() (string, error) { return tx.etx.idempotencyKey(slot) })
}

// engineKey is the key the engine answers, failing the transaction when it cannot.
func (tx *Tx) engineKey(answer func() (string, error)) (string, error) {
	if tx.err != nil {
		return "", tx.err
	}
	k, err := answer()
	if err != nil {
		return "", tx.fail(err)
	}
	return k, nil
}

// CheckIdempotencyKey refuses keys that could not be stored, sent as a header or printed
// safely: 1 to 255 visible ASCII characters.
func CheckIdempotencyKey(k string) error {
	if len(k) > 255 {
		return Errorf(KindInvalid, "invalid_idempotency_key", "idempotency key is longer than 255 characters").WithParam("idempotency_key")
	}
	for _, r := range k {
		if r < 0x21 || r > 0x7e {
			return Errorf(KindInvalid, "invalid_idempotency_key", "idempotency key may hold only visible ASCII characters").WithParam("idempotency_key")
		}
	}
	return nil
}

type replayKey struct{}

// WithReplayFlag returns a ctx in which an idempotent replay sets *flag, so that a server
// can mark a response as the stored one without every method returning the fact.
func WithReplayFlag(ctx context.Context, flag *bool) context.Context {
	return context.WithValue(ctx, replayKey{}, flag)
}

type idempotencyKeyKey struct{}

// WithIdempotencyKey carries a request's idempotency key for the few operations whose
// request is a bare id (revoking an API key), so that a server can honour the header on
// every POST without widening their signatures.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKeyKey{}, key)
}

// IdempotencyKeyFrom is the key of WithIdempotencyKey, or "".
func IdempotencyKeyFrom(ctx context.Context) string {
	k, _ := ctx.Value(idempotencyKeyKey{}).(string)
	return k
}
