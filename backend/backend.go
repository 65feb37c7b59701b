// Package backend is what a client may ask of a ledger: the Backend interface, which
// the local ledger (Local) and the HTTP client of package api both implement, so the
// command line never knows which one it talks to.
package backend

import (
	"context"

	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/events"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
	"github.com/tagpay/tagpay/webhook"
)

// Backend is every ledger operation of the command line. Local (a bbolt file) and Client
// (a tagpay server) implement it with the same results and the same error kinds.
// Mutating requests carry their idempotency key in the request struct.
type Backend interface {
	// Accounts and the ledger.
	CreateAccount(ctx context.Context, req store.CreateAccountRequest) (store.Account, error)
	ListAccounts(ctx context.Context, p store.Page) ([]store.Account, error)
	GetAccount(ctx context.Context, id string) (store.Account, error)
	FundAccount(ctx context.Context, req store.FundRequest) (store.Transfer, error)
	Journal(ctx context.Context, p store.Page) ([]store.Transfer, error)
	Verify(ctx context.Context) ([]store.Violation, error)

	// Tags (flow 1).
	RegisterTag(ctx context.Context, req orders.RegisterRequest) (orders.Tag, error)
	ConfirmTag(ctx context.Context, req orders.ConfirmRequest) (orders.Tag, error)
	FailTag(ctx context.Context, req orders.TagStateRequest) (orders.Tag, error)
	RevokeTag(ctx context.Context, req orders.TagStateRequest) (orders.Tag, error)
	ListTags(ctx context.Context, f orders.TagFilter) ([]orders.Tag, error)
	GetTag(ctx context.Context, refOrUID string) (orders.Tag, error)
	// InspectTag says what the ledger knows of a tag in hand; it writes nothing.
	InspectTag(ctx context.Context, req orders.PaymentRequest) (orders.Inspection, error)
	// TagSecrets gives a provisioning reader a tag's own keys or password; the tag's
	// merchant only, never printed.
	TagSecrets(ctx context.Context, req orders.TagSecretsRequest) (orders.TagSecrets, error)

	// Payments (flow 1). Tap runs the whole flow in one transaction; PreviewTap shows
	// the parsing reply of a tap and writes nothing; the other steps are for QA.
	Tap(ctx context.Context, req orders.TapRequest) (orders.Receipt, error)
	PreviewTap(ctx context.Context, req orders.PaymentRequest) (orders.ParsingReply, error)
	ParsePaymentRequest(ctx context.Context, req orders.PaymentRequest) (orders.ParsingReply, error)
	CreateOrder(ctx context.Context, req orders.OrderRequest) (orders.Order, error)
	PayOrder(ctx context.Context, req orders.PayRequest) (orders.Order, error)
	RefundOrder(ctx context.Context, req orders.RefundRequest) (orders.Order, error)
	CancelOrder(ctx context.Context, req orders.CancelRequest) (orders.Order, error)
	ListOrders(ctx context.Context, f orders.OrderFilter) ([]orders.Order, error)
	GetOrder(ctx context.Context, id string) (orders.Order, error)

	// Devices, cards and tokens (flows 2 and 3).
	Login(ctx context.Context, req cards.LoginRequest) (cards.Login, error)
	Logout(ctx context.Context, req cards.LogoutRequest) ([]cards.Login, error)
	ListLogins(ctx context.Context, account string) ([]cards.Login, error)
	AddCard(ctx context.Context, req cards.AddCardRequest) (cards.Card, error)
	ListCards(ctx context.Context, account string, p store.Page) ([]cards.Card, error)
	GetCard(ctx context.Context, id string) (cards.Card, error)
	ActivateCard(ctx context.Context, req cards.ActivateRequest) (cards.Activation, error)
	DeactivateCard(ctx context.Context, req cards.DeactivateRequest) ([]cards.Token, error)
	MigrateCard(ctx context.Context, req cards.MigrateRequest) (cards.Migration, error)
	ListTokens(ctx context.Context, card string, p store.Page) ([]cards.Token, error)
	GetToken(ctx context.Context, idOrNumber string) (cards.Token, error)
	ChangeToken(ctx context.Context, req cards.TokenStatusRequest) (cards.Token, error)

	// API keys (server only; the local backend answers with its own store).
	CreateKey(ctx context.Context, req store.CreateKeyRequest) (store.CreatedKey, error)
	ListKeys(ctx context.Context, p store.Page) ([]store.APIKey, error)
	RevokeKey(ctx context.Context, id string) (store.APIKey, error)
	// RotateKey replaces a key by a new one of the same role; the old one works on for
	// the request's grace.
	RotateKey(ctx context.Context, req store.RotateKeyRequest) (store.RotatedKey, error)

	// Events: what changed, each actor seeing the events of its accounts. FollowEvents
	// calls each for every event as it is written until ctx ends (nil) or each fails.
	ListEvents(ctx context.Context, q events.Query) ([]events.Event, error)
	GetEvent(ctx context.Context, id string) (events.Event, error)
	FollowEvents(ctx context.Context, q events.Query, each func(events.Event) error) error

	// Webhooks: endpoints the server delivers events to (a merchant: for its accounts).
	CreateWebhook(ctx context.Context, req webhook.CreateRequest) (webhook.Created, error)
	ListWebhooks(ctx context.Context) ([]webhook.Webhook, error)
	DeleteWebhook(ctx context.Context, id string) (webhook.Webhook, error)
	TestWebhook(ctx context.Context, id string) (webhook.Attempt, error)
	ListDeliveries(ctx context.Context, id string, limit int) ([]webhook.Attempt, error)

	// The audit trail (admins only), newest first, a page at a time.
	AuditEvents(ctx context.Context, f store.AuditFilter) ([]store.Event, error)
}
