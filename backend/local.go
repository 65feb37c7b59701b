package backend

import (
	"context"

	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/events"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
	"github.com/tagpay/tagpay/webhook"
)

// Orders and Cards name the two domain services, so that Local can embed both: two
// embedded fields may not share the name Service.
type (
	Orders   = orders.Service
	Cards    = cards.Service
	Events   = events.Service
	Webhooks = webhook.Service
)

// Local is the backend of a ledger file on this machine: the store's own operations
// (accounts, journal, keys) and the two domain services, promoted side by side.
type Local struct {
	*store.DB
	*Orders
	*Cards
	*Events
	*Webhooks
}

var _ Backend = (*Local)(nil)

// LocalOptions tune OpenLocal; the zero value means the defaults of each part.
type LocalOptions struct {
	Store  store.Options
	Orders orders.Config
	Cards  cards.Config
	// Webhooks tune deliveries (`webhook test` locally, the dispatcher of a server).
	Webhooks webhook.Options
}

// OpenLocal opens (or creates) the ledger file at path, with the key file of
// o.Store.KeysPath holding its master secrets (made when the ledger is new). Without a
// key file, whatever needs a secret (tags, SUN keys, card numbers) is refused. At most
// one LocalOptions is used.
func OpenLocal(path string, opts ...LocalOptions) (*Local, error) {
	var o LocalOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	db, err := store.Open(path, o.Store)
	if err != nil {
		return nil, err
	}
	// A ledger from before the order index gets its orders indexed, once.
	if err := orders.IndexOrders(store.WithActor(context.Background(), store.LocalActor), db); err != nil {
		db.Close()
		return nil, err
	}
	return NewLocal(db, o), nil
}

// NewLocal serves the ledger db, already open; closing the Local closes db.
func NewLocal(db *store.DB, o LocalOptions) *Local {
	return &Local{DB: db, Orders: orders.New(db, o.Orders), Cards: cards.New(db, o.Cards), Events: events.New(db), Webhooks: webhook.New(db, o.Webhooks)}
}

// Close releases the ledger file.
func (l *Local) Close() error { return l.DB.Close() }

// Verify runs every invariant check of the ledger (money, orders, cards and tokens) in
// one read transaction, so the checks see one consistent state. Admins only.
func (l *Local) Verify(ctx context.Context) ([]store.Violation, error) {
	out := []store.Violation{}
	err := l.DB.ViewHeld(ctx, func(tx *store.Tx) error {
		for _, check := range []func(*store.Tx) ([]store.Violation, error){store.VerifyLedger, orders.Verify, cards.Verify} {
			v, err := check(tx)
			if err != nil {
				return err
			}
			out = append(out, v...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
