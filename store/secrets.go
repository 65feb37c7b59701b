package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Meta records of the key file binding. keys_check names the key file a ledger belongs
// to (a digest, see keyCheck); "secret:<name>" is where tagpay kept its secrets inside
// the ledger before they moved to the key file.
const (
	metaKeysCheck      = "keys_check"
	legacySecretPrefix = "secret:"
)

// keyState is what a DB knows of its key file.
type keyState struct {
	ring *Keyring // nil: every operation that needs a secret fails with err
	err  error
	// readOnly: a key file is configured for a ledger keyed by one, and it is missing or
	// another ledger's; the ledger then answers reads only, so nothing half works.
	readOnly bool
	// legacy: the ledger still holds its secrets (MoveSecrets takes them out).
	legacy bool
}

func (db *DB) keyState() *keyState {
	if s := db.keys.Load(); s != nil {
		return s
	}
	return &keyState{err: Errorf(KindInternal, "secret_missing", "the key file of ledger %s is not loaded yet", db.Path())}
}

// writable refuses a write while the ledger's key file is missing.
func (db *DB) writable() error {
	if s := db.keys.Load(); s != nil && s.readOnly {
		return s.err
	}
	return nil
}

// attachKeys reads the key file at path for the ledger, and binds a ledger that has
// nothing keyed yet to it, creating the key file when there is none. A ledger already
// keyed by another key file is never bound to a new one.
func (db *DB) attachKeys(ctx context.Context, path string) error {
	if strings.TrimSpace(path) == "" {
		db.keys.Store(&keyState{err: Errorf(KindUnavailable, "keys_not_configured",
			"ledger %s has no key file configured; tags, SUN keys and card numbers need one (--keys)", db.Path())})
		return nil
	}
	path = cleanKeysPath(path)
	var check string
	var legacy bool
	err := db.View(ctx, func(tx *Tx) (err error) {
		check = string(tx.GetRaw(BucketMeta, metaKeysCheck))
		legacy, err = hasLegacySecrets(tx)
		return err
	})
	if err != nil {
		return err
	}
	switch {
	case check != "":
		db.keys.Store(db.boundState(path, check))
		return nil
	case legacy:
		db.keys.Store(&keyState{legacy: true, err: Errorf(KindUnavailable, "secrets_in_ledger",
			"ledger %s still keeps its secrets inside; move them to key file %s with 'tagpay ledger secrets move'", db.Path(), path)})
		return nil
	}
	ring, err := LoadKeyring(path)
	created := false
	if IsCode(err, "keys_missing") {
		ring, err = createKeyFile(path, freshKeys(nil))
		created = err == nil
	}
	if err != nil {
		db.keys.Store(&keyState{err: err, readOnly: true})
		return nil
	}
	var bound string
	err = db.Update(ctx, func(tx *Tx) error {
		bound = string(tx.GetRaw(BucketMeta, metaKeysCheck))
		if bound != "" {
			return nil
		}
		if l, err := hasLegacySecrets(tx); err != nil || l {
			bound = "legacy"
			return err
		}
		return tx.PutRaw(BucketMeta, metaKeysCheck, []byte(ring.sum))
	})
	if err != nil {
		if created {
			os.Remove(path)
		}
		return err
	}
	if bound == "" || bound == ring.sum {
		db.keys.Store(&keyState{ring: ring})
		return nil
	}
	// Another process bound the ledger meanwhile, to another key file.
	if created {
		os.Remove(path)
	}
	return db.attachKeys(ctx, path)
}

// boundState checks the key file of a ledger keyed by the key file whose digest is
// check.
func (db *DB) boundState(path, check string) *keyState {
	ring, err := LoadKeyring(path)
	switch {
	case IsCode(err, "keys_missing"):
		err = Wrap(KindUnavailable, "keys_missing", errors.Unwrap(err),
			"key file %s is missing: ledger %s is keyed by key %s; restore the key file from its backup or point --keys at it (until then the ledger is read-only)", path, db.Path(), check[:min(12, len(check))])
	case err != nil:
	case ring.sum != check:
		err = Errorf(KindUnavailable, "keys_mismatch",
			"key file %s (key %s) is not the key file of ledger %s (key %s); point --keys at the ledger's own key file (until then the ledger is read-only)", path, ring.ID(), db.Path(), check[:min(12, len(check))])
	default:
		return &keyState{ring: ring}
	}
	return &keyState{err: err, readOnly: true}
}

// hasLegacySecrets reports whether the ledger keeps secrets of an older tagpay inside:
// secrets in its meta records or SUN keys in clear. Only an unbound ledger can: a bound
// one never stores either.
func hasLegacySecrets(tx *Tx) (bool, error) {
	found := false
	stop := func(string, []byte) error { found = true; return ErrStop }
	if err := tx.ForEach(BucketMeta, legacySecretPrefix, false, stop); err != nil || found {
		return found, err
	}
	err := tx.ForEach(BucketSUNKeys, "", false, stop)
	return found, err
}

// IsCode reports whether err carries the store error code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// Keyring is the key file of the ledger, or why there is none to use.
func (db *DB) Keyring() (*Keyring, error) {
	s := db.keyState()
	if s.ring == nil {
		return nil, s.err
	}
	return s.ring, nil
}

// Keyring is the key file of the ledger, or why there is none to use: missing,
// another ledger's, not configured, or secrets not yet moved out of an older ledger.
func (tx *Tx) Keyring() (*Keyring, error) {
	if tx.keys == nil {
		return nil, Errorf(KindInternal, "secret_missing", "this transaction has no key file")
	}
	if tx.keys.ring == nil {
		return nil, tx.keys.err
	}
	return tx.keys.ring, nil
}

// Secret returns the named 32-byte secret of the ledger's key file (the tag MAC key,
// the PAN hash key). Callers use it to compute MACs and hashes, and never print or
// store it.
func (tx *Tx) Secret(name string) ([]byte, error) {
	k, err := tx.Keyring()
	if err != nil {
		return nil, err
	}
	return k.Secret(name), nil
}

// PutSealed stores v as JSON encrypted under the key file (AES-256-GCM), bound to
// bucket b and key: for what must be kept in the ledger and may not be read from a copy
// of it, such as a SUN tag's keys.
func (tx *Tx) PutSealed(b Bucket, key string, v any) error {
	k, err := tx.Keyring()
	if err != nil {
		return err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s/%s: %w", b, key, err)
	}
	return tx.PutRaw(b, key, k.seal(b, key, raw))
}

// GetSealed decrypts the record PutSealed stored at key into v and reports whether it
// was there. A record in clear, or one that does not open, is refused.
func (tx *Tx) GetSealed(b Bucket, key string, v any) (bool, error) {
	raw := tx.GetRaw(b, key)
	if tx.err != nil {
		return false, tx.err
	}
	if raw == nil {
		return false, nil
	}
	k, err := tx.Keyring()
	if err != nil {
		return true, err
	}
	plain, err := k.open(b, key, raw)
	if err != nil {
		return true, err
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return true, Wrap(KindCorrupt, "ledger_corrupt", err, "record %s/%s is damaged", b, key)
	}
	return true, nil
}

// MoveReport says what MoveSecrets did.
type MoveReport struct {
	Ledger         string   `json:"ledger"`
	KeyFile        string   `json:"key_file"`
	KeyFileCreated bool     `json:"key_file_created"`
	Moved          []string `json:"moved"`           // secrets taken out of the ledger
	SealedSUNKeys  int      `json:"sealed_sun_keys"` // SUN key records encrypted in place
	// Compacted: the ledger was rewritten so that no freed page (bbolt) or dead row
	// (PostgreSQL) still holds the secrets; false with CompactError when that failed.
	Compacted    bool   `json:"compacted"`
	CompactError string `json:"compact_error,omitempty"`
	// AlreadyDone: the ledger kept no secret inside; nothing was changed but its binding
	// to the key file, when it had none.
	AlreadyDone bool `json:"already_done"`
}

// MoveSecrets upgrades a ledger of an older tagpay in place: its secrets are copied,
// unchanged, into the key file at opts.KeysPath (created when missing; an existing one
// must already hold the same values), its SUN keys are encrypted under that file, the
// secrets are deleted from the ledger, and the ledger is rewritten so that no freed space
// still holds them. Tag contents and card hashes stay valid. Run it with no server
// using the ledger.
func MoveSecrets(ctx context.Context, target string, opts Options) (MoveReport, error) {
	if strings.TrimSpace(opts.KeysPath) == "" {
		return MoveReport{}, Errorf(KindInvalid, "keys_not_configured", "moving secrets needs the key file to move them to (--keys)").WithParam("keys")
	}
	path := cleanKeysPath(opts.KeysPath)
	opts.KeysPath = path
	db, err := Open(target, opts)
	if err != nil {
		return MoveReport{}, err
	}
	rep, err := moveSecrets(ctx, db, path)
	if err != nil || rep.AlreadyDone {
		db.Close()
		return rep, err
	}
	// Deleted values stay in freed pages (bbolt) or dead rows (PostgreSQL) until the
	// ledger is rewritten; the move is not done before they are gone too.
	cerr := db.compact(ctx)
	if err := db.Close(); err != nil && cerr == nil {
		cerr = err
	}
	if cerr == nil && db.Engine() == "bbolt" {
		cerr = compactBoltFile(db.Path(), opts)
	}
	if cerr != nil {
		rep.CompactError = cerr.Error()
	} else {
		rep.Compacted = true
	}
	return rep, nil
}

func moveSecrets(ctx context.Context, db *DB, path string) (MoveReport, error) {
	rep := MoveReport{Ledger: db.Path(), KeyFile: path, Moved: []string{}}
	s := db.keyState()
	if !s.legacy {
		if s.ring == nil {
			return rep, s.err
		}
		rep.AlreadyDone = true
		return rep, nil
	}
	moved := map[string][]byte{}
	err := db.View(ctx, func(tx *Tx) error {
		return tx.ForEach(BucketMeta, legacySecretPrefix, false, func(k string, v []byte) error {
			name := strings.TrimPrefix(k, legacySecretPrefix)
			if len(v) != keyLen || name == "" || name == keyRoot {
				return Errorf(KindCorrupt, "ledger_corrupt", "secret %q of ledger %s is damaged", name, db.Path())
			}
			moved[name] = bytes.Clone(v)
			return nil
		})
	})
	if err != nil {
		return rep, err
	}
	ring, err := LoadKeyring(path)
	if IsCode(err, "keys_missing") {
		ring, err = createKeyFile(path, freshKeys(moved))
		rep.KeyFileCreated = err == nil
	} else if err == nil {
		for name, v := range moved {
			if have, ok := ring.keys[name]; !ok || !bytes.Equal(have, v) {
				return rep, Errorf(KindConflict, "keys_in_use",
					"key file %s already holds other keys than ledger %s; give --keys a new file to move its secrets to", path, db.Path())
			}
		}
	}
	if err != nil {
		return rep, err
	}
	err = db.Update(ctx, func(tx *Tx) error {
		tx.keys = &keyState{ring: ring}
		if bound := tx.GetRaw(BucketMeta, metaKeysCheck); bound != nil {
			return Errorf(KindConflict, "keys_bound", "ledger %s was bound to a key file while its secrets were moving; run the move again", db.Path())
		}
		rep.SealedSUNKeys = 0
		type clearRecord struct {
			key string
			val json.RawMessage
		}
		var clearKeys []clearRecord
		err := tx.ForEach(BucketSUNKeys, "", false, func(k string, v []byte) error {
			if isSealed(v) {
				return nil
			}
			if !json.Valid(v) {
				return Errorf(KindCorrupt, "ledger_corrupt", "the SUN keys of tag %s are damaged", k)
			}
			clearKeys = append(clearKeys, clearRecord{k, bytes.Clone(v)})
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range clearKeys {
			if err := tx.PutRaw(BucketSUNKeys, r.key, ring.seal(BucketSUNKeys, r.key, r.val)); err != nil {
				return err
			}
		}
		rep.SealedSUNKeys = len(clearKeys)
		for name := range moved {
			if err := tx.Delete(BucketMeta, legacySecretPrefix+name); err != nil {
				return err
			}
		}
		if err := tx.PutRaw(BucketMeta, metaKeysCheck, []byte(ring.sum)); err != nil {
			return err
		}
		return tx.Audit("ledger.secrets_move", "ledger", map[string]string{"key_file_key": ring.ID()})
	})
	if err != nil {
		return rep, err
	}
	for name := range moved {
		rep.Moved = append(rep.Moved, name)
	}
	slices.Sort(rep.Moved)
	db.keys.Store(&keyState{ring: ring})
	return rep, nil
}

// compact removes deleted values from a PostgreSQL ledger; a bbolt file is rewritten
// once closed (compactBoltFile).
func (db *DB) compact(ctx context.Context) error {
	if pg, ok := db.eng.(*pgEngine); ok {
		return pg.vacuum(ctx)
	}
	return nil
}
