package orders

import (
	"context"
	"time"

	"github.com/tagpay/tagpay/store"
)

// Config tunes a Service.
type Config struct {
	// BaseURL starts the content of tags registered without their own base URL.
	BaseURL string
	// ReplyTTL is how long a parsing reply may be turned into an order.
	ReplyTTL time.Duration
	// Now is the clock of reply expiry; nil means time.Now. Tests move it forward.
	Now func() time.Time
}

// DefaultBaseURL is the base of tag content when none is configured.
const DefaultBaseURL = "https://tagpay.example"

// DefaultReplyTTL is how long a parsing reply lives when none is configured.
const DefaultReplyTTL = 2 * time.Minute

// Service runs flow 1 against a ledger. Every method is one store transaction: writers
// share commits through db.Batch, readers use db.View.
type Service struct {
	db  *store.DB
	cfg Config
}

// New returns the flow 1 service of db, with defaults filled into cfg.
func New(db *store.DB, cfg Config) *Service {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.ReplyTTL <= 0 {
		cfg.ReplyTTL = DefaultReplyTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{db: db, cfg: cfg}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// write runs one idempotent mutating step in a batched transaction. fn may run more than
// once (group commit), so it only touches tx. params may be a func(*store.Tx) any that
// normalizes the request inside the transaction.
func write[T any](s *Service, ctx context.Context, key, op string, params any, fn func(tx *store.Tx) (T, error)) (T, error) {
	var out T
	err := s.db.Batch(ctx, func(tx *store.Tx) error {
		p := params
		if normalize, ok := params.(func(*store.Tx) any); ok {
			p = normalize(tx)
		}
		v, _, err := store.Idempotent(tx, key, op, p, func() (T, error) { return fn(tx) })
		out = v
		return err
	})
	return out, err
}

// read runs fn in a read-only transaction.
func read[T any](s *Service, ctx context.Context, fn func(tx *store.Tx) (T, error)) (T, error) {
	var out T
	err := s.db.View(ctx, func(tx *store.Tx) (err error) {
		out, err = fn(tx)
		return err
	})
	return out, err
}

// checkText refuses free text (labels, memos, reasons) that is too long or carries
// control or invisible format characters; the rule is the store's, shared by every
// package.
func checkText(param, v string, max int) error { return store.CheckText(param, v, max) }
