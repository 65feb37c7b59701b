// Package orders holds flow 1, NFC tag payment (US11562344B2): tag registration and the
// content a tag carries, the payment request and its parsing reply, order generation,
// payment and refunds. Every step is one store transaction.
package orders

import (
	"time"

	"github.com/tagpay/tagpay/store"
)

// TagStatus is where a tag registration stands.
type TagStatus string

const (
	TagPending TagStatus = "pending" // registered for provisioning, content not yet confirmed on the tag
	TagActive  TagStatus = "active"  // good: payments may be parsed from it
	TagFailed  TagStatus = "failed"  // provisioning failed: never good
	TagRevoked TagStatus = "revoked" // taken out of service
)

// TagKind says how a tag proves itself.
type TagKind string

const (
	TagStatic TagKind = "static" // NDEF URI with a MAC over UID and reference
	TagSUN    TagKind = "sun"    // NTAG 424 DNA: a fresh SUN URL on every tap
)

// Tag is a registered merchant tag. Its keys (SUN) are stored apart and never here.
type Tag struct {
	ID        string       `json:"id"`
	Ref       string       `json:"ref"` // short reference in the URL
	UID       string       `json:"uid"` // upper-case hex
	Kind      TagKind      `json:"kind"`
	Merchant  string       `json:"merchant"`
	Label     string       `json:"label,omitempty"`
	Amount    *store.Money `json:"amount,omitempty"` // fixed amount, if any
	Currency  string       `json:"currency"`
	BaseURL   string       `json:"base_url"`
	Content   string       `json:"content"` // the URL the tag must carry (static tags)
	Status    TagStatus    `json:"status"`
	Reason    string       `json:"reason,omitempty"` // why failed or revoked
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
}

// RegisterRequest registers a tag to a merchant. Pending is set by provisioning: the tag
// becomes active only once its content has been read back (ConfirmTag).
type RegisterRequest struct {
	UID            string `json:"uid"`
	Merchant       string `json:"merchant"`
	Amount         string `json:"amount,omitempty"` // typed by a person, in the merchant's currency
	Label          string `json:"label,omitempty"`
	BaseURL        string `json:"base_url,omitempty"`
	SUN            bool   `json:"sun,omitempty"`
	MetaKey        string `json:"meta_key,omitempty"` // hex, SUN only; stored, never returned
	FileKey        string `json:"file_key,omitempty"`
	Pending        bool   `json:"pending,omitempty"`
	IdempotencyKey string `json:"-"`
}

// ConfirmRequest reports what was read back from a provisioned tag.
type ConfirmRequest struct {
	Tag            string `json:"tag"` // id, ref or UID
	UID            string `json:"uid"`
	Content        string `json:"content"`
	IdempotencyKey string `json:"-"`
}

// TagStateRequest fails or revokes a tag.
type TagStateRequest struct {
	Tag            string `json:"tag"` // id, ref or UID
	Reason         string `json:"reason"`
	IdempotencyKey string `json:"-"`
}

// TagFilter narrows a tag listing.
type TagFilter struct {
	Merchant string `json:"merchant,omitempty"`
}

// PaymentRequest is the NFC tag payment request: what the payer's device read.
type PaymentRequest struct {
	UID            string `json:"uid"`
	Content        string `json:"content"`
	IdempotencyKey string `json:"-"`
}

// ParsingReply is the server's answer to a payment request: who is paid, how much.
type ParsingReply struct {
	ID        string       `json:"id"`
	Tag       string       `json:"tag"`
	TagRef    string       `json:"tag_ref"`
	Payee     string       `json:"payee"`
	PayeeName string       `json:"payee_name"`
	Amount    *store.Money `json:"amount,omitempty"` // fixed amount of the tag
	Currency  string       `json:"currency"`
	Caller    string       `json:"caller,omitempty"` // the key (or "local") that asked; only it may order
	ExpiresAt time.Time    `json:"expires_at"`
	Used      bool         `json:"used"`
	CreatedAt time.Time    `json:"created_at"`
}

// OrderRequest is the order generation request: first account (payer), the current
// transaction information, and the second account taken from the reply.
type OrderRequest struct {
	Reply          string `json:"reply"`
	Payer          string `json:"payer"`
	Amount         string `json:"amount,omitempty"`
	Memo           string `json:"memo,omitempty"`
	IdempotencyKey string `json:"-"`
}

// OrderStatus is where an order stands.
type OrderStatus string

const (
	OrderCreated   OrderStatus = "created"
	OrderPaid      OrderStatus = "paid"
	OrderRefunded  OrderStatus = "refunded" // wholly refunded; partial refunds keep "paid"
	OrderCancelled OrderStatus = "cancelled"
)

// Instrument is what paid an order.
type Instrument struct {
	Kind  string `json:"kind"` // "balance" or "token"
	Card  string `json:"card,omitempty"`
	Token string `json:"token,omitempty"` // token id, never its number
}

// Order is a payment from payer to payee.
type Order struct {
	ID         string      `json:"id"`
	Reply      string      `json:"reply"`
	Tag        string      `json:"tag"`
	Payer      string      `json:"payer"`
	Payee      string      `json:"payee"`
	PayeeName  string      `json:"payee_name"`
	Amount     store.Money `json:"amount"`
	Refunded   store.Money `json:"refunded"`
	Memo       string      `json:"memo,omitempty"`
	Status     OrderStatus `json:"status"`
	Reason     string      `json:"reason,omitempty"`
	Instrument *Instrument `json:"instrument,omitempty"`
	Transfer   string      `json:"transfer,omitempty"` // the payment transfer
	Refunds    []string    `json:"refunds,omitempty"`  // refund transfers
	CreatedAt  time.Time   `json:"created_at"`
	PaidAt     *time.Time  `json:"paid_at,omitempty"`
}

// PayRequest is the payment step. Without Card and Token the payer's balance pays.
type PayRequest struct {
	Order          string `json:"order"`
	Card           string `json:"card,omitempty"`          // pay with the card's active nfc token on Device
	PaymentToken   string `json:"payment_token,omitempty"` // pay with this token (id or number)
	Device         string `json:"device,omitempty"`        // the paying device, for Card
	IdempotencyKey string `json:"-"`
}

// RefundRequest returns money to the payer; an empty Amount refunds what is left.
type RefundRequest struct {
	Order          string `json:"order"`
	Amount         string `json:"amount,omitempty"`
	IdempotencyKey string `json:"-"`
}

// CancelRequest cancels an unpaid order.
type CancelRequest struct {
	Order          string `json:"order"`
	IdempotencyKey string `json:"-"`
}

// OrderFilter narrows an order listing.
type OrderFilter struct {
	Payer  string      `json:"payer,omitempty"`
	Payee  string      `json:"payee,omitempty"`
	Tag    string      `json:"tag,omitempty"` // tag id
	Status OrderStatus `json:"status,omitempty"`
	Limit  int         `json:"limit,omitempty"` // 0: all
	After  string      `json:"after,omitempty"` // an order id: list the orders older than it
}
