// Package events is what the ledger tells the outside about itself: the types of events
// written with each state change, the filter over them, and the service that lists,
// shows and follows them, each actor seeing only the events of accounts it owns.
package events

import "github.com/tagpay/tagpay/store"

// Event is one state change as the API shows it.
type Event = store.DomainEvent

// The types of events. A tap that pays writes one order.paid carrying the order (with its
// created_at and paid_at), not order.created first: the order never waited for payment.
const (
	TagRegistered  = "tag.registered"
	TagProvisioned = "tag.provisioned"
	TagFailed      = "tag.failed"
	TagRevoked     = "tag.revoked"
	OrderCreated   = "order.created"
	OrderPaid      = "order.paid"
	OrderRefunded  = "order.refunded"
	OrderCancelled = "order.cancelled"
	CardActivated  = "card.activated"
	CardMigrated   = "card.migrated"
	TokenSuspended = "token.suspended"
	TokenResumed   = "token.resumed"
	TokenDeleted   = "token.deleted"
	AccountFunded  = "account.funded"
)

// Types lists every event type, grouped by object.
var Types = []string{
	TagRegistered, TagProvisioned, TagFailed, TagRevoked,
	OrderCreated, OrderPaid, OrderRefunded, OrderCancelled,
	CardActivated, CardMigrated,
	TokenSuspended, TokenResumed, TokenDeleted,
	AccountFunded,
}

// WebhookTest is the type of the event `webhook test` sends; it is never stored.
const WebhookTest = "webhook.test"
