package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
	"time"
)

// SecretPrefix starts every API key secret, so that a leaked key is recognisable (secret
// scanners, logs) and a token of another kind is refused before any lookup.
const SecretPrefix = "tpk_"

// secretBytes of randomness: 256 bits, beyond any guessing.
const secretBytes = 32

// secretEncoding writes secrets in the alphabet of ids: lower case, no padding, no
// characters that need quoting in a shell or a header.
var secretEncoding = base32.NewEncoding(idAlphabet).WithPadding(base32.NoPadding)

var secretLen = len(SecretPrefix) + secretEncoding.EncodedLen(secretBytes)

// keyRecord is what BucketKeys holds: the key's description and the SHA-256 of its
// secret. The secret itself is never written anywhere.
type keyRecord struct {
	APIKey
	Hash string `json:"hash"`
}

// newSecret draws a fresh API key secret.
func newSecret() string {
	var raw [secretBytes]byte
	rand.Read(raw[:]) // never fails since Go 1.24
	return SecretPrefix + secretEncoding.EncodeToString(raw[:])
}

// hashSecret is the only form in which a secret is stored (a fast hash suffices: the
// secret has 256 random bits, so there is nothing to brute-force).
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// wellFormedSecret reports whether s could be a secret made by newSecret.
func wellFormedSecret(s string) bool {
	rest, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok || len(s) != secretLen {
		return false
	}
	for _, r := range rest {
		if !strings.ContainsRune(idAlphabet, r) {
			return false
		}
	}
	return true
}

// CreateKey makes an API key (admins only) and returns its secret, the only time the
// secret is ever seen. The idempotency record keeps the key's description without the
// secret, so a replay answers with the same key and an empty Secret.
func (db *DB) CreateKey(ctx context.Context, req CreateKeyRequest) (CreatedKey, error) {
	var out CreatedKey
	// Update, not Batch: a key is made rarely, and a single run keeps the secret drawn in
	// this call the one whose hash is stored.
	err := db.Update(ctx, func(tx *Tx) error {
		secret := ""
		k, _, err := Idempotent(tx, req.IdempotencyKey, "key.create", req, func() (APIKey, error) {
			var (
				k   APIKey
				err error
			)
			k, secret, err = tx.createKey(req)
			return k, err
		})
		out = CreatedKey{APIKey: k, Secret: secret}
		return err
	})
	if err != nil {
		return CreatedKey{}, err
	}
	return out, nil
}

func (tx *Tx) createKey(req CreateKeyRequest) (APIKey, string, error) {
	if err := tx.RequireRole(); err != nil { // key management: admins only
		return APIKey{}, "", err
	}
	if !ValidRole(req.Role) {
		return APIKey{}, "", Errorf(KindInvalid, "invalid_role", "role %q is not admin, merchant or payer", req.Role).WithParam("role")
	}
	switch req.Role {
	case RoleAdmin:
		if req.Account != "" {
			return APIKey{}, "", Errorf(KindInvalid, "invalid_account", "an admin key acts for every account; give no account").WithParam("account")
		}
	default:
		want := AccountMerchant
		if req.Role == RolePayer {
			want = AccountPerson
		}
		if req.Account == "" {
			return APIKey{}, "", Errorf(KindInvalid, "missing_account", "a %s key needs the %s account it acts for", req.Role, want).WithParam("account")
		}
		acct, err := tx.AccountUnchecked(req.Account)
		if err != nil {
			return APIKey{}, "", err
		}
		if acct.Kind != want {
			return APIKey{}, "", Errorf(KindInvalid, "invalid_account", "a %s key acts for a %s account; %s is a %s account", req.Role, want, acct.ID, acct.Kind).WithParam("account")
		}
	}
	secret := newSecret()
	rec := keyRecord{
		APIKey: APIKey{
			ID:        NewID(PrefixKey),
			Role:      req.Role,
			Account:   req.Account,
			Prefix:    secret[:len(SecretPrefix)+8],
			CreatedAt: tx.now,
		},
		Hash: hashSecret(secret),
	}
	if err := tx.Put(BucketKeys, rec.ID, rec); err != nil {
		return APIKey{}, "", err
	}
	if err := tx.PutRaw(BucketKeyIndex, rec.Hash, []byte(rec.ID)); err != nil {
		return APIKey{}, "", err
	}
	detail := map[string]string{"role": string(rec.Role)}
	if rec.Account != "" {
		detail["account"] = rec.Account
	}
	return rec.APIKey, secret, tx.Audit("key.create", rec.ID, detail)
}

// ListKeys lists every API key, oldest first, without secrets (admins only).
func (db *DB) ListKeys(ctx context.Context, p Page) ([]APIKey, error) {
	if err := p.Check(PrefixKey); err != nil {
		return nil, err
	}
	var out []APIKey
	err := db.View(ctx, func(tx *Tx) error {
		if err := tx.RequireRole(); err != nil {
			return err
		}
		var err error
		out, err = ReadPage(tx, BucketKeys, p, false, func(r keyRecord) (APIKey, bool) { return r.APIKey, true })
		return err
	})
	return out, err
}

// RevokeKey stops a key from authenticating, from the next request on (admins only).
// Revoking a revoked key changes nothing and returns it as it is.
func (db *DB) RevokeKey(ctx context.Context, id string) (APIKey, error) {
	var out APIKey
	err := db.Update(ctx, func(tx *Tx) error {
		if err := tx.RequireRole(); err != nil {
			return err
		}
		if !ValidID(id, PrefixKey) {
			return Errorf(KindNotFound, "key_not_found", "API key %q not found", id).WithParam("id")
		}
		k, _, err := Idempotent(tx, IdempotencyKeyFrom(ctx), "key.revoke", id, func() (APIKey, error) {
			rec, err := Load[keyRecord](tx, BucketKeys, id, "key")
			if err != nil || !rec.Live(tx.now) {
				return rec.APIKey, err
			}
			// A rotated key in its grace stops now.
			now := tx.now
			rec.RevokedAt = &now
			if err := tx.Put(BucketKeys, rec.ID, rec); err != nil {
				return rec.APIKey, err
			}
			return rec.APIKey, tx.Audit("key.revoke", rec.ID, nil)
		})
		out = k
		return err
	})
	return out, err
}

// RotateKey replaces a live key by a new one of the same role and account (admins only)
// and returns the new key's secret, the only time it is seen: the old key stops working
// once its grace is over. A replay with the same idempotency key answers with the same
// keys and an empty secret.
func (db *DB) RotateKey(ctx context.Context, req RotateKeyRequest) (RotatedKey, error) {
	var out RotatedKey
	// Update, not Batch, as for CreateKey: one run keeps the secret drawn here the one
	// whose hash is stored.
	err := db.Update(ctx, func(tx *Tx) error {
		if err := tx.RequireRole(); err != nil {
			return err
		}
		if !ValidID(req.ID, PrefixKey) {
			return Errorf(KindNotFound, "key_not_found", "API key %q not found", req.ID).WithParam("id")
		}
		grace := time.Duration(req.GraceSeconds) * time.Second
		if req.GraceSeconds < 0 || req.GraceSeconds > int64(MaxKeyGrace/time.Second) {
			return Errorf(KindInvalid, "invalid_grace", "a rotated key's grace is 0 to %d seconds (%s)", int64(MaxKeyGrace/time.Second), MaxKeyGrace).WithParam("grace_seconds")
		}
		secret := ""
		params := struct {
			ID    string
			Grace int64
		}{req.ID, req.GraceSeconds}
		r, _, err := Idempotent(tx, req.IdempotencyKey, "key.rotate", params, func() (RotatedKey, error) {
			old, err := Load[keyRecord](tx, BucketKeys, req.ID, "key")
			if err != nil {
				return RotatedKey{}, err
			}
			if !old.Live(tx.now) {
				return RotatedKey{}, Errorf(KindConflict, "key_revoked", "API key %s was revoked at %s; only a live key can be rotated", old.ID, old.RevokedAt.Format(time.RFC3339))
			}
			if old.RevokedAt != nil {
				return RotatedKey{}, Errorf(KindConflict, "key_revoked", "API key %s was rotated already and stops working at %s; rotate the key that replaces it", old.ID, old.RevokedAt.Format(time.RFC3339))
			}
			k, s, err := tx.createKey(CreateKeyRequest{Role: old.Role, Account: old.Account})
			if err != nil {
				return RotatedKey{}, err
			}
			stops := tx.now.Add(grace)
			old.RevokedAt = &stops
			if err := tx.Put(BucketKeys, old.ID, old); err != nil {
				return RotatedKey{}, err
			}
			secret = s
			detail := map[string]string{"key": k.ID, "stops_at": stops.Format(time.RFC3339)}
			return RotatedKey{CreatedKey: CreatedKey{APIKey: k}, Replaces: old.APIKey}, tx.Audit("key.rotate", old.ID, detail)
		})
		out = r
		out.Secret = secret
		return err
	})
	if err != nil {
		return RotatedKey{}, err
	}
	return out, nil
}

// Authenticate finds the actor holding secret. Missing, malformed, unknown and revoked
// keys are all unauthorized, each with its own code and a message that never repeats the
// secret.
func (db *DB) Authenticate(ctx context.Context, secret string) (Actor, error) {
	if secret == "" {
		return Actor{}, Errorf(KindUnauthorized, "missing_api_key", "no API key given; pass --token or set TAGPAY_TOKEN")
	}
	if !wellFormedSecret(secret) {
		return Actor{}, Errorf(KindUnauthorized, "malformed_api_key", "the API key is malformed; tagpay keys start with %q", SecretPrefix)
	}
	var actor Actor
	// Keys are written by Update only (settledBuckets): every request reads them, and
	// need not wait for a checkpoint of the taps before it.
	err := db.view(ctx, modeViewSettled, func(tx *Tx) error {
		id := tx.GetRaw(BucketKeyIndex, hashSecret(secret))
		if id == nil {
			return Errorf(KindUnauthorized, "unknown_api_key", "the API key is not known to this server")
		}
		rec, err := Load[keyRecord](tx, BucketKeys, string(id), "key")
		if err != nil {
			return err
		}
		if !rec.Live(tx.now) {
			return Errorf(KindUnauthorized, "revoked_api_key", "API key %s was revoked at %s", rec.ID, rec.RevokedAt.Format("2006-01-02T15:04:05Z07:00"))
		}
		actor = Actor{ID: rec.ID, Role: rec.Role}
		if rec.Account != "" {
			actor.Accounts = []string{rec.Account}
		}
		return nil
	})
	return actor, err
}

// BootstrapAdminKey makes a first admin key when the ledger has no key at all, for a
// server's first start; created is false (and nothing changes) when any key exists.
func (db *DB) BootstrapAdminKey(ctx context.Context) (key CreatedKey, created bool, err error) {
	ctx = WithActor(ctx, LocalActor)
	err = db.Update(ctx, func(tx *Tx) error {
		exists := false
		if err := tx.ForEach(BucketKeys, "", false, func(string, []byte) error {
			exists = true
			return ErrStop
		}); err != nil {
			return err
		}
		if exists {
			return nil
		}
		k, secret, err := tx.createKey(CreateKeyRequest{Role: RoleAdmin})
		if err != nil {
			return err
		}
		key, created = CreatedKey{APIKey: k, Secret: secret}, true
		return nil
	})
	if err != nil {
		return CreatedKey{}, false, err
	}
	return key, created, nil
}
