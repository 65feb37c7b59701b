package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
	"github.com/tagpay/tagpay/webhook"
)

// routes registers every Backend method under /v1 (api/openapi.yaml describes them; a
// test keeps the two in step).
func (s *Server) routes() {
	be := s.be
	const get, post = http.MethodGet, http.MethodPost

	s.handlePublic(get, "/healthz", s.healthz)
	s.handlePublic(get, "/readyz", s.readyz)

	// Accounts and the ledger.
	s.handle(post, "/v1/accounts", func(c *call) (any, error) {
		var req store.CreateAccountRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		req.IdempotencyKey = c.idemKey
		return be.CreateAccount(c.ctx, req)
	})
	s.handle(get, "/v1/accounts", func(c *call) (any, error) {
		p, err := c.page()
		if err != nil {
			return nil, err
		}
		return orEmpty(be.ListAccounts(c.ctx, p))
	})
	s.handle(get, "/v1/accounts/{id}", func(c *call) (any, error) {
		id, err := c.id("id", store.PrefixAccount, "account")
		if err != nil {
			return nil, err
		}
		return be.GetAccount(c.ctx, id)
	})
	s.handle(post, "/v1/accounts/{id}/fund", func(c *call) (any, error) {
		id, err := c.id("id", store.PrefixAccount, "account")
		if err != nil {
			return nil, err
		}
		var req store.FundRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		if err := bind(&req.Account, "account", id); err != nil {
			return nil, err
		}
		req.IdempotencyKey = c.idemKey
		return be.FundAccount(c.ctx, req)
	})
	s.handle(get, "/v1/journal", func(c *call) (any, error) {
		p, err := c.page()
		if err != nil {
			return nil, err
		}
		return orEmpty(be.Journal(c.ctx, p))
	})
	s.handle(get, "/v1/audit", func(c *call) (any, error) {
		q, err := c.query("limit", "after")
		if err != nil {
			return nil, err
		}
		limit, err := intParam(q, "limit")
		if err != nil {
			return nil, err
		}
		return orEmpty(be.AuditEvents(c.ctx, store.AuditFilter{Limit: limit, After: q["after"]}))
	})
	s.handle(get, "/v1/verify", func(c *call) (any, error) {
		if _, err := c.query(); err != nil {
			return nil, err
		}
		return orEmpty(be.Verify(c.ctx))
	})

	// Tags.
	s.handle(post, "/v1/tags", func(c *call) (any, error) {
		var req orders.RegisterRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		req.IdempotencyKey = c.idemKey
		return be.RegisterTag(c.ctx, req)
	})
	s.handle(get, "/v1/tags", func(c *call) (any, error) {
		q, err := c.query("merchant")
		if err != nil {
			return nil, err
		}
		return orEmpty(be.ListTags(c.ctx, orders.TagFilter{Merchant: q["merchant"]}))
	})
	s.handle(get, "/v1/tags/{tag}", func(c *call) (any, error) {
		tag, err := c.segment("tag", "tag")
		if err != nil {
			return nil, err
		}
		return be.GetTag(c.ctx, tag)
	})
	s.handle(post, "/v1/tags/inspect", func(c *call) (any, error) {
		var req orders.ParseRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		return be.InspectTag(c.ctx, req)
	})
	s.handle(post, "/v1/tags/{tag}/secrets", func(c *call) (any, error) {
		tag, err := c.segment("tag", "tag")
		if err != nil {
			return nil, err
		}
		var req orders.TagSecretsRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		if err := bind(&req.Tag, "tag", tag); err != nil {
			return nil, err
		}
		return be.TagSecrets(c.ctx, req)
	})
	s.handle(post, "/v1/tags/{tag}/confirm", func(c *call) (any, error) {
		tag, err := c.segment("tag", "tag")
		if err != nil {
			return nil, err
		}
		var req orders.ConfirmRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		if err := bind(&req.Tag, "tag", tag); err != nil {
			return nil, err
		}
		req.IdempotencyKey = c.idemKey
		return be.ConfirmTag(c.ctx, req)
	})
	tagState := func(change func(*call, orders.TagStateRequest) (orders.Tag, error)) handler {
		return func(c *call) (any, error) {
			tag, err := c.segment("tag", "tag")
			if err != nil {
				return nil, err
			}
			var req orders.TagStateRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			if err := bind(&req.Tag, "tag", tag); err != nil {
				return nil, err
			}
			req.IdempotencyKey = c.idemKey
			return change(c, req)
		}
	}
	s.handle(post, "/v1/tags/{tag}/fail", tagState(func(c *call, req orders.TagStateRequest) (orders.Tag, error) {
		return be.FailTag(c.ctx, req)
	}))
	s.handle(post, "/v1/tags/{tag}/revoke", tagState(func(c *call, req orders.TagStateRequest) (orders.Tag, error) {
		return be.RevokeTag(c.ctx, req)
	}))

	// Payments.
	s.handle(post, "/v1/payment-requests", func(c *call) (any, error) {
		var req orders.ParseRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		req.IdempotencyKey = c.idemKey
		return be.ParseTag(c.ctx, req)
	})
	s.handle(post, "/v1/taps", func(c *call) (any, error) {
		var req orders.TapRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		req.IdempotencyKey = c.idemKey
		return be.Tap(c.ctx, req)
	})
	s.handle(post, "/v1/taps/preview", func(c *call) (any, error) {
		var req orders.ParseRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		return be.PreviewTap(c.ctx, req)
	})
	s.handle(post, "/v1/orders", func(c *call) (any, error) {
		var req orders.CreateRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		req.IdempotencyKey = c.idemKey
		return be.CreateOrder(c.ctx, req)
	})
	s.handle(get, "/v1/orders", func(c *call) (any, error) {
		q, err := c.query("payer", "payee", "tag", "status", "limit", "after")
		if err != nil {
			return nil, err
		}
		limit, err := intParam(q, "limit")
		if err != nil {
			return nil, err
		}
		return orEmpty(be.ListOrders(c.ctx, orders.OrderFilter{
			Payer: q["payer"], Payee: q["payee"], Tag: q["tag"], Status: orders.OrderStatus(q["status"]),
			Limit: limit, After: q["after"],
		}))
	})
	s.handle(get, "/v1/orders/{id}", func(c *call) (any, error) {
		id, err := c.id("id", store.PrefixOrder, "order")
		if err != nil {
			return nil, err
		}
		return be.GetOrder(c.ctx, id)
	})
	s.handle(post, "/v1/orders/{id}/pay", func(c *call) (any, error) {
		id, err := c.id("id", store.PrefixOrder, "order")
		if err != nil {
			return nil, err
		}
		var req orders.PayRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		if err := bind(&req.Order, "order", id); err != nil {
			return nil, err
		}
		req.IdempotencyKey = c.idemKey
		return be.PayOrder(c.ctx, req)
	})
	s.handle(post, "/v1/orders/{id}/refund", func(c *call) (any, error) {
		id, err := c.id("id", store.PrefixOrder, "order")
		if err != nil {
			return nil, err
		}
		var req orders.RefundRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		if err := bind(&req.Order, "order", id); err != nil {
			return nil, err
		}
		req.IdempotencyKey = c.idemKey
		return be.RefundOrder(c.ctx, req)
	})
	s.handle(post, "/v1/orders/{id}/cancel", func(c *call) (any, error) {
		id, err := c.id("id", store.PrefixOrder, "order")
		if err != nil {
			return nil, err
		}
		var req orders.CancelRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		if err := bind(&req.Order, "order", id); err != nil {
			return nil, err
		}
		req.IdempotencyKey = c.idemKey
		return be.CancelOrder(c.ctx, req)
	})

	// Devices and logins.
	s.handle(post, "/v1/devices/{device}/login", func(c *call) (any, error) {
		// The domain checks device ids, so a malformed one gets the same answer as locally.
		dev := c.r.PathValue("device")
		var req cards.LoginRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		if err := bind(&req.Device, "device", dev); err != nil {
			return nil, err
		}
		req.IdempotencyKey = c.idemKey
		return be.Login(c.ctx, req)
	})
	s.handle(post, "/v1/devices/{device}/logout", func(c *call) (any, error) {
		// The domain checks device ids, so a malformed one gets the same answer as locally.
		dev := c.r.PathValue("device")
		var req cards.LogoutRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		if err := bind(&req.Device, "device", dev); err != nil {
			return nil, err
		}
		req.IdempotencyKey = c.idemKey
		return orEmpty(be.Logout(c.ctx, req))
	})
	s.handle(get, "/v1/logins", func(c *call) (any, error) {
		q, err := c.query("account")
		if err != nil {
			return nil, err
		}
		return orEmpty(be.ListLogins(c.ctx, q["account"]))
	})

	// Cards, activation and migration.
	s.handle(post, "/v1/cards", func(c *call) (any, error) {
		var req cards.AddCardRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		req.IdempotencyKey = c.idemKey
		return be.AddCard(c.ctx, req)
	})
	s.handle(get, "/v1/cards", func(c *call) (any, error) {
		q, err := c.query("account", "limit", "after")
		if err != nil {
			return nil, err
		}
		limit, err := intParam(q, "limit")
		if err != nil {
			return nil, err
		}
		return orEmpty(be.ListCards(c.ctx, q["account"], store.Page{Limit: limit, After: q["after"]}))
	})
	s.handle(get, "/v1/cards/{id}", func(c *call) (any, error) {
		id, err := c.id("id", store.PrefixCard, "card")
		if err != nil {
			return nil, err
		}
		return be.GetCard(c.ctx, id)
	})
	s.handle(post, "/v1/cards/{id}/activate", func(c *call) (any, error) {
		id, err := c.id("id", store.PrefixCard, "card")
		if err != nil {
			return nil, err
		}
		var req cards.ActivateRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		if err := bind(&req.Card, "card", id); err != nil {
			return nil, err
		}
		req.IdempotencyKey = c.idemKey
		return be.ActivateCard(c.ctx, req)
	})
	s.handle(post, "/v1/cards/{id}/deactivate", func(c *call) (any, error) {
		id, err := c.id("id", store.PrefixCard, "card")
		if err != nil {
			return nil, err
		}
		var req cards.DeactivateRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		if err := bind(&req.Card, "card", id); err != nil {
			return nil, err
		}
		req.IdempotencyKey = c.idemKey
		return orEmpty(be.DeactivateCard(c.ctx, req))
	})
	s.handle(post, "/v1/migrations", func(c *call) (any, error) {
		var req cards.MigrateRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		req.IdempotencyKey = c.idemKey
		return be.MigrateCard(c.ctx, req)
	})

	// Tokens.
	s.handle(get, "/v1/tokens", func(c *call) (any, error) {
		q, err := c.query("card", "limit", "after")
		if err != nil {
			return nil, err
		}
		limit, err := intParam(q, "limit")
		if err != nil {
			return nil, err
		}
		return orEmpty(be.ListTokens(c.ctx, q["card"], store.Page{Limit: limit, After: q["after"]}))
	})
	s.handle(get, "/v1/tokens/{token}", func(c *call) (any, error) {
		tok, err := c.segment("token", "token")
		if err != nil {
			return nil, err
		}
		return be.GetToken(c.ctx, tok)
	})
	for _, action := range []cards.TokenAction{cards.ActionSuspend, cards.ActionResume, cards.ActionDelete} {
		s.handle(post, "/v1/tokens/{token}/"+string(action), func(c *call) (any, error) {
			tok, err := c.segment("token", "token")
			if err != nil {
				return nil, err
			}
			var req cards.TokenStatusRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			if err := bind(&req.Token, "token", tok); err != nil {
				return nil, err
			}
			a := string(req.Action)
			if err := bind(&a, "action", string(action)); err != nil {
				return nil, err
			}
			req.Action = action
			req.IdempotencyKey = c.idemKey
			return be.ChangeToken(c.ctx, req)
		})
	}

	// API keys.
	s.handle(post, "/v1/keys", func(c *call) (any, error) {
		var req store.CreateKeyRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		req.IdempotencyKey = c.idemKey
		return be.CreateKey(c.ctx, req)
	})
	s.handle(get, "/v1/keys", func(c *call) (any, error) {
		p, err := c.page()
		if err != nil {
			return nil, err
		}
		return orEmpty(be.ListKeys(c.ctx, p))
	})
	s.handle(post, "/v1/keys/{id}/revoke", func(c *call) (any, error) {
		id, err := c.id("id", store.PrefixKey, "key")
		if err != nil {
			return nil, err
		}
		var none struct{}
		if err := c.decode(&none); err != nil {
			return nil, err
		}
		return be.RevokeKey(c.ctx, id)
	})

	// Events and webhooks.
	s.handle(get, "/v1/events", func(c *call) (any, error) {
		q, raw, err := eventQuery(c, "limit")
		if err != nil {
			return nil, err
		}
		if q.Limit, err = intParam(raw, "limit"); err != nil {
			return nil, err
		}
		return orEmpty(be.ListEvents(c.ctx, q))
	})
	s.handle(get, "/v1/events/stream", s.streamEvents)
	s.handle(get, "/v1/events/{id}", func(c *call) (any, error) {
		id, err := c.id("id", store.PrefixEvent, "event")
		if err != nil {
			return nil, err
		}
		return be.GetEvent(c.ctx, id)
	})
	s.handle(post, "/v1/webhooks", func(c *call) (any, error) {
		var req webhook.CreateRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		req.IdempotencyKey = c.idemKey
		return be.CreateWebhook(c.ctx, req)
	})
	s.handle(get, "/v1/webhooks", func(c *call) (any, error) {
		if _, err := c.query(); err != nil {
			return nil, err
		}
		return orEmpty(be.ListWebhooks(c.ctx))
	})
	webhookAction := func(act func(ctx context.Context, id string) (any, error)) handler {
		return func(c *call) (any, error) {
			id, err := c.id("id", webhook.PrefixWebhook, "webhook")
			if err != nil {
				return nil, err
			}
			var none struct{}
			if err := c.decode(&none); err != nil {
				return nil, err
			}
			return act(c.ctx, id)
		}
	}
	s.handle(post, "/v1/webhooks/{id}/delete", webhookAction(func(ctx context.Context, id string) (any, error) {
		return be.DeleteWebhook(ctx, id)
	}))
	s.handle(post, "/v1/webhooks/{id}/test", webhookAction(func(ctx context.Context, id string) (any, error) {
		return be.TestWebhook(ctx, id)
	}))
	s.handle(get, "/v1/webhooks/{id}/deliveries", func(c *call) (any, error) {
		id, err := c.id("id", webhook.PrefixWebhook, "webhook")
		if err != nil {
			return nil, err
		}
		q, err := c.query("limit")
		if err != nil {
			return nil, err
		}
		limit, err := intParam(q, "limit")
		if err != nil {
			return nil, err
		}
		return orEmpty(be.ListDeliveries(c.ctx, id, limit))
	})
}

// healthz answers 200 while the ledger can be read, 503 otherwise; it needs no key, so
// it says nothing about the ledger's contents.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if err := s.be.DB.View(r.Context(), func(*store.Tx) error { return nil }); err != nil {
		s.writeError(w, r, store.Wrap(store.KindUnavailable, "ledger_unavailable", err, "the ledger cannot be read"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 while the store is reachable (a PostgreSQL replica's database
// answers, its schema is one this build reads), 503 ledger_unavailable otherwise, so a
// load balancer takes a replica that lost its database out of rotation and back in once
// it reconnects, without a restart. It needs no key.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.be.DB.Ping(r.Context()); err != nil {
		s.writeError(w, r, store.Wrap(store.KindUnavailable, "ledger_unavailable", err, "the ledger is not reachable"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// intParam is the whole number in query parameter name, 0 when absent; its range is the
// domain's to check, so that local and remote calls get the same answer.
// page reads the query of a list that takes only a page: limit and after.
func (c *call) page() (store.Page, error) {
	q, err := c.query("limit", "after")
	if err != nil {
		return store.Page{}, err
	}
	limit, err := intParam(q, "limit")
	if err != nil {
		return store.Page{}, err
	}
	return store.Page{Limit: limit, After: q["after"]}, nil
}

func intParam(q map[string]string, name string) (int, error) {
	v, ok := q[name]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, store.Errorf(store.KindInvalid, "invalid_"+name, "%s %q is not a whole number", name, v).WithParam(name)
	}
	return n, nil
}
