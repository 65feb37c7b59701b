package api

import (
	"net/http"

	"github.com/tagpay/tagpay/store"
)

// route is one row of the API's map.
type route struct {
	method string
	path   string
	access access
	serve  handler
}

// access says who may call a route.
type access int

const (
	// apiKey routes need a valid API key; they are rate limited per key, and a POST
	// gets the idempotency bookkeeping of its Idempotency-Key.
	apiKey access = iota
	// public routes need no key and go through none of that, so they must reveal
	// nothing of the ledger's contents.
	public
)

// routeTable is every route the server answers, grouped by resource; api/openapi.yaml
// describes each one and a test keeps the two in step. The handlers are in the
// handlers_*.go files, under the same groups.
func (s *Server) routeTable() []route {
	const get, post = http.MethodGet, http.MethodPost
	return []route{
		// Probes for load balancers.
		{get, "/healthz", public, s.healthz},
		{get, "/readyz", public, s.readyz},

		// Accounts and the ledger.
		{post, "/v1/accounts", apiKey, s.createAccount},
		{get, "/v1/accounts", apiKey, s.listAccounts},
		{get, "/v1/accounts/{id}", apiKey, s.getAccount},
		{post, "/v1/accounts/{id}/fund", apiKey, s.fundAccount},
		{get, "/v1/journal", apiKey, s.journal},
		{get, "/v1/audit", apiKey, s.audit},
		{get, "/v1/verify", apiKey, s.verify},

		// Tags.
		{post, "/v1/tags", apiKey, s.registerTag},
		{get, "/v1/tags", apiKey, s.listTags},
		{get, "/v1/tags/{tag}", apiKey, s.getTag},
		{post, "/v1/tags/inspect", apiKey, s.inspectTag},
		{post, "/v1/tags/{tag}/secrets", apiKey, s.tagSecrets},
		{post, "/v1/tags/{tag}/confirm", apiKey, s.confirmTag},
		{post, "/v1/tags/{tag}/fail", apiKey, s.failTag},
		{post, "/v1/tags/{tag}/revoke", apiKey, s.revokeTag},

		// Payments.
		{post, "/v1/payment-requests", apiKey, s.parsePaymentRequest},
		{post, "/v1/taps", apiKey, s.tap},
		{post, "/v1/taps/preview", apiKey, s.previewTap},
		{post, "/v1/orders", apiKey, s.createOrder},
		{get, "/v1/orders", apiKey, s.listOrders},
		{get, "/v1/orders/{id}", apiKey, s.getOrder},
		{post, "/v1/orders/{id}/pay", apiKey, s.payOrder},
		{post, "/v1/orders/{id}/refund", apiKey, s.refundOrder},
		{post, "/v1/orders/{id}/cancel", apiKey, s.cancelOrder},

		// Devices and logins.
		{post, "/v1/devices/{device}/login", apiKey, s.login},
		{post, "/v1/devices/{device}/logout", apiKey, s.logout},
		{get, "/v1/logins", apiKey, s.listLogins},

		// Cards, activation and migration.
		{post, "/v1/cards", apiKey, s.addCard},
		{get, "/v1/cards", apiKey, s.listCards},
		{get, "/v1/cards/{id}", apiKey, s.getCard},
		{post, "/v1/cards/{id}/activate", apiKey, s.activateCard},
		{post, "/v1/cards/{id}/deactivate", apiKey, s.deactivateCard},
		{post, "/v1/migrations", apiKey, s.migrateCard},

		// Tokens.
		{get, "/v1/tokens", apiKey, s.listTokens},
		{get, "/v1/tokens/{token}", apiKey, s.getToken},
		{post, "/v1/tokens/{token}/suspend", apiKey, s.suspendToken},
		{post, "/v1/tokens/{token}/resume", apiKey, s.resumeToken},
		{post, "/v1/tokens/{token}/delete", apiKey, s.deleteToken},

		// API keys.
		{post, "/v1/keys", apiKey, s.createKey},
		{get, "/v1/keys", apiKey, s.listKeys},
		{post, "/v1/keys/{id}/revoke", apiKey, s.revokeKey},
		{post, "/v1/keys/{id}/rotate", apiKey, s.rotateKey},

		// Events and webhooks.
		{get, "/v1/events", apiKey, s.listEvents},
		{get, "/v1/events/stream", apiKey, s.streamEvents},
		{get, "/v1/events/{id}", apiKey, s.getEvent},
		{post, "/v1/webhooks", apiKey, s.createWebhook},
		{get, "/v1/webhooks", apiKey, s.listWebhooks},
		{post, "/v1/webhooks/{id}/delete", apiKey, s.deleteWebhook},
		{post, "/v1/webhooks/{id}/test", apiKey, s.testWebhook},
		{get, "/v1/webhooks/{id}/deliveries", apiKey, s.listDeliveries},
	}
}

// routes registers every row of the table.
func (s *Server) routes() {
	for _, rt := range s.routeTable() {
		if rt.access == public {
			s.handlePublic(rt.method, rt.path, rt.serve)
		} else {
			s.handle(rt.method, rt.path, rt.serve)
		}
	}
}

// healthz answers 200 while the process serves: a liveness probe. It does not touch the
// ledger, so a database that is down for a while does not get every replica restarted;
// readyz says whether the store answers. It needs no key.
func (s *Server) healthz(c *call) (any, error) {
	return map[string]string{"status": "ok"}, nil
}

// readyz answers 200 while the store is reachable (a PostgreSQL replica's database
// answers, its schema is one this build reads), 503 ledger_unavailable otherwise, so a
// load balancer takes a replica that lost its database out of rotation and back in once
// it reconnects, without a restart. It needs no key.
func (s *Server) readyz(c *call) (any, error) {
	if err := s.be.DB.Ping(c.ctx); err != nil {
		return nil, store.Wrap(store.KindUnavailable, "ledger_unavailable", err, "the ledger is not reachable")
	}
	return map[string]string{"status": "ready"}, nil
}
