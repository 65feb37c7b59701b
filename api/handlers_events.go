package api

import (
	"github.com/tagpay/tagpay/store"
	"github.com/tagpay/tagpay/webhook"
)

// Events and webhooks; the stream of events is in events.go.

func (s *Server) listEvents(c *call) (any, error) {
	q, raw, err := eventQuery(c, "limit")
	if err != nil {
		return nil, err
	}
	if q.Limit, err = intParam(raw, "limit"); err != nil {
		return nil, err
	}
	return orEmpty(s.be.ListEvents(c.ctx, q))
}

func (s *Server) getEvent(c *call) (any, error) {
	return byID(c, store.PrefixEvent, "event", s.be.GetEvent)
}

func (s *Server) createWebhook(c *call) (any, error) {
	var req webhook.CreateRequest
	return change(c, &req, &req.IdempotencyKey, s.be.CreateWebhook)
}

func (s *Server) listWebhooks(c *call) (any, error) { return unpaged(c, s.be.ListWebhooks) }

func (s *Server) deleteWebhook(c *call) (any, error) {
	return actOn(c, webhook.PrefixWebhook, "webhook", s.be.DeleteWebhook)
}

func (s *Server) testWebhook(c *call) (any, error) {
	return actOn(c, webhook.PrefixWebhook, "webhook", s.be.TestWebhook)
}

func (s *Server) listDeliveries(c *call) (any, error) {
	id, err := c.id("id", webhook.PrefixWebhook, "webhook")
	if err != nil {
		return nil, err
	}
	limit, err := c.limit()
	if err != nil {
		return nil, err
	}
	return orEmpty(s.be.ListDeliveries(c.ctx, id, limit))
}
