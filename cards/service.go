package cards

import (
	"crypto/rand"
	"io"
	"strings"
	"time"

	"github.com/tagpay/tagpay/store"
)

// DefaultBIN is the issuer prefix of tagpay's tokens. It sits at the very end of the
// ISO/IEC 7812 range of major industry identifier 9 (national assignment), which no
// card scheme is known to issue from, so a tagpay token is never mistaken for, or
// collides with, a real card number. Deployments that talk to a real token service set
// their own range.
const DefaultBIN = "999999"

// DefaultTokenTTL is how long a payment token lives: three years of 365 days, the usual
// validity of a card.
const DefaultTokenTTL = 3 * 365 * 24 * time.Hour

// Config tunes a Service. The zero value means the defaults.
type Config struct {
	// BIN is the six-digit prefix of every token number and QR payment code.
	BIN string
	// TokenTTL is the lifetime of a new token.
	TokenTTL time.Duration
	// Now is the clock for new records and expiry checks; nil uses the transaction's.
	Now func() time.Time
}

// Validate reports a configuration that cannot issue tokens.
func (c Config) Validate() error {
	c = c.withDefaults()
	if len(c.BIN) != 6 || !allDigits(c.BIN) {
		return store.Errorf(store.KindInvalid, "invalid_bin", "token BIN %q is not six digits", c.BIN).WithParam("bin")
	}
	if c.TokenTTL < 0 {
		return store.Errorf(store.KindInvalid, "invalid_token_ttl", "token lifetime %s is negative", c.TokenTTL).WithParam("token_ttl")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.BIN == "" {
		c.BIN = DefaultBIN
	}
	if c.TokenTTL == 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	return c
}

// Service runs the device, card and token operations against a ledger. Its exported
// methods are part of backend.Backend.
type Service struct {
	db  *store.DB
	cfg Config
	// random feeds token numbers; tests replace it to force collisions.
	random io.Reader
}

// New returns a Service on db. A bad Config is reported by the first operation that
// issues a token (and by Config.Validate, for callers that check early).
func New(db *store.DB, cfg Config) *Service {
	return &Service{db: db, cfg: cfg.withDefaults(), random: rand.Reader}
}

// now is the instant of everything a transaction writes.
func (s *Service) now(tx *store.Tx) time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now().UTC()
	}
	return tx.Now()
}

// requireCardsRole refuses merchant keys: devices, cards and tokens belong to payers.
func requireCardsRole(tx *store.Tx) error {
	return tx.RequireRole(store.RolePayer)
}

// personAccount loads an account the actor owns and checks it is a person's: only
// people log in on devices and hold cards.
func personAccount(tx *store.Tx, id string) (store.Account, error) {
	if err := requireCardsRole(tx); err != nil {
		return store.Account{}, err
	}
	a, err := tx.Account(id)
	if err != nil {
		return a, err
	}
	if a.Kind != store.AccountPerson {
		return a, store.Errorf(store.KindInvalid, "account_not_person", "account %s is a %s account; only person accounts use devices and cards", a.ID, a.Kind).WithParam("account")
	}
	return a, nil
}

func checkDeviceID(id, param string) error {
	if !ValidDeviceID(id) {
		return store.Errorf(store.KindInvalid, "invalid_device", "%s %q is not a device id (1 to 64 of A-Z a-z 0-9 . _ : -)", param, truncate(id, 80)).WithParam(param)
	}
	return nil
}

// ValidDeviceID reports whether id can name a device: what a real device brings (an
// Android ID, a UUID, "old-phone") is 1 to 64 of A-Z a-z 0-9 . _ : -, and so are the
// dev_… ids tagpay mints for itself.
func ValidDeviceID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func joinIDs(ts []Token) string {
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	return strings.Join(ids, ",")
}

// describeFunctions lists the valid function identifiers for error messages.
func describeFunctions() string { return functionList(Functions, ", ") }
