package api

import (
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

// Tags.

func (s *Server) registerTag(c *call) (any, error) {
	var req orders.RegisterRequest
	return change(c, &req, &req.IdempotencyKey, s.be.RegisterTag)
}

func (s *Server) listTags(c *call) (any, error) {
	q, err := c.query("merchant")
	if err != nil {
		return nil, err
	}
	return orEmpty(s.be.ListTags(c.ctx, orders.TagFilter{Merchant: q["merchant"]}))
}

func (s *Server) getTag(c *call) (any, error) { return byName(c, "tag", s.be.GetTag) }

func (s *Server) inspectTag(c *call) (any, error) {
	var req orders.PaymentRequest
	return readOnly(c, &req, s.be.InspectTag)
}

func (s *Server) tagSecrets(c *call) (any, error) {
	var req orders.TagSecretsRequest
	return readOnly(c, &req, s.be.TagSecrets, c.nameInto(&req.Tag, "tag"))
}

func (s *Server) confirmTag(c *call) (any, error) {
	var req orders.ConfirmRequest
	return change(c, &req, &req.IdempotencyKey, s.be.ConfirmTag, c.nameInto(&req.Tag, "tag"))
}

func (s *Server) failTag(c *call) (any, error) {
	var req orders.TagStateRequest
	return change(c, &req, &req.IdempotencyKey, s.be.FailTag, c.nameInto(&req.Tag, "tag"))
}

func (s *Server) revokeTag(c *call) (any, error) {
	var req orders.TagStateRequest
	return change(c, &req, &req.IdempotencyKey, s.be.RevokeTag, c.nameInto(&req.Tag, "tag"))
}

// Payments.

func (s *Server) parsePaymentRequest(c *call) (any, error) {
	var req orders.PaymentRequest
	return change(c, &req, &req.IdempotencyKey, s.be.ParsePaymentRequest)
}

func (s *Server) tap(c *call) (any, error) {
	var req orders.TapRequest
	return change(c, &req, &req.IdempotencyKey, s.be.Tap)
}

func (s *Server) previewTap(c *call) (any, error) {
	var req orders.PaymentRequest
	return readOnly(c, &req, s.be.PreviewTap)
}

func (s *Server) createOrder(c *call) (any, error) {
	var req orders.OrderRequest
	return change(c, &req, &req.IdempotencyKey, s.be.CreateOrder)
}

func (s *Server) listOrders(c *call) (any, error) {
	p, q, err := c.page("payer", "payee", "tag", "status")
	if err != nil {
		return nil, err
	}
	return orEmpty(s.be.ListOrders(c.ctx, orders.OrderFilter{
		Payer: q["payer"], Payee: q["payee"], Tag: q["tag"], Status: orders.OrderStatus(q["status"]),
		Limit: p.Limit, After: p.After,
	}))
}

func (s *Server) getOrder(c *call) (any, error) {
	return byID(c, store.PrefixOrder, "order", s.be.GetOrder)
}

func (s *Server) payOrder(c *call) (any, error) {
	var req orders.PayRequest
	return change(c, &req, &req.IdempotencyKey, s.be.PayOrder, c.idInto(&req.Order, store.PrefixOrder, "order"))
}

func (s *Server) refundOrder(c *call) (any, error) {
	var req orders.RefundRequest
	return change(c, &req, &req.IdempotencyKey, s.be.RefundOrder, c.idInto(&req.Order, store.PrefixOrder, "order"))
}

func (s *Server) cancelOrder(c *call) (any, error) {
	var req orders.CancelRequest
	return change(c, &req, &req.IdempotencyKey, s.be.CancelOrder, c.idInto(&req.Order, store.PrefixOrder, "order"))
}
