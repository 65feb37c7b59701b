package store

import "time"

// APIKey is a server credential as stored: its hash, never the key.
type APIKey struct {
	ID        string     `json:"id"`
	Role      Role       `json:"role"`
	Account   string     `json:"account,omitempty"` // merchant and payer keys act for this account
	Prefix    string     `json:"prefix"`            // first characters, to tell keys apart
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

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
