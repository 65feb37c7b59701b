package store

import "time"

// APIKey is a server credential as stored: its hash, never the key.
type APIKey struct {
	ID        string    `json:"id"`
	Role      Role      `json:"role"`
	Account   string    `json:"account,omitempty"` // merchant and payer keys act for this account
	Prefix    string    `json:"prefix"`            // first characters, to tell keys apart
	CreatedAt time.Time `json:"created_at"`
	// RevokedAt is when the key stops working: set when it is revoked, or when it is
	// rotated, to the end of the old key's grace (then it may lie ahead).
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Live reports whether the key still authenticates at now.
func (k APIKey) Live(now time.Time) bool { return k.RevokedAt == nil || now.Before(*k.RevokedAt) }

// CreateKeyRequest asks for a new API key.
type CreateKeyRequest struct {
	Role           Role   `json:"role"`
	Account        string `json:"account,omitempty"`
	IdempotencyKey string `json:"-"`
}

// CreatedKey is returned once, when a key is made: the only time the secret is shown.
type CreatedKey struct {
	APIKey
	Secret string `json:"secret"`
}

// RotateKeyRequest replaces key ID by a new key of the same role and account. The old
// key keeps working for GraceSeconds (0: it stops at once, at most MaxKeyGrace), so
// that the programs using it can move to the new one.
type RotateKeyRequest struct {
	ID             string `json:"-"`
	GraceSeconds   int64  `json:"grace_seconds,omitempty"`
	IdempotencyKey string `json:"-"`
}

// MaxKeyGrace bounds how long a rotated key keeps working.
const MaxKeyGrace = 7 * 24 * time.Hour

// RotatedKey is the new key of a rotation, its secret shown this once, and the key it
// replaces, with the time that one stops working (revoked_at).
type RotatedKey struct {
	CreatedKey
	Replaces APIKey `json:"replaces"`
}
