package api

import (
	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/store"
)

// Devices and logins.

func (s *Server) login(c *call) (any, error) {
	var req cards.LoginRequest
	return change(c, &req, &req.IdempotencyKey, s.be.Login, c.rawInto(&req.Device, "device"))
}

func (s *Server) logout(c *call) (any, error) {
	var req cards.LogoutRequest
	return orEmpty(change(c, &req, &req.IdempotencyKey, s.be.Logout, c.rawInto(&req.Device, "device")))
}

func (s *Server) listLogins(c *call) (any, error) {
	q, err := c.query("account")
	if err != nil {
		return nil, err
	}
	return orEmpty(s.be.ListLogins(c.ctx, q["account"]))
}

// Cards, activation and migration.

func (s *Server) addCard(c *call) (any, error) {
	var req cards.AddCardRequest
	return change(c, &req, &req.IdempotencyKey, s.be.AddCard)
}

func (s *Server) listCards(c *call) (any, error) {
	p, q, err := c.page("account")
	if err != nil {
		return nil, err
	}
	return orEmpty(s.be.ListCards(c.ctx, q["account"], p))
}

func (s *Server) getCard(c *call) (any, error) {
	return byID(c, store.PrefixCard, "card", s.be.GetCard)
}

func (s *Server) activateCard(c *call) (any, error) {
	var req cards.ActivateRequest
	return change(c, &req, &req.IdempotencyKey, s.be.ActivateCard, c.idInto(&req.Card, store.PrefixCard, "card"))
}

func (s *Server) deactivateCard(c *call) (any, error) {
	var req cards.DeactivateRequest
	return orEmpty(change(c, &req, &req.IdempotencyKey, s.be.DeactivateCard, c.idInto(&req.Card, store.PrefixCard, "card")))
}

func (s *Server) migrateCard(c *call) (any, error) {
	var req cards.MigrateRequest
	return change(c, &req, &req.IdempotencyKey, s.be.MigrateCard)
}

// Tokens.

func (s *Server) listTokens(c *call) (any, error) {
	p, q, err := c.page("card")
	if err != nil {
		return nil, err
	}
	return orEmpty(s.be.ListTokens(c.ctx, q["card"], p))
}

func (s *Server) getToken(c *call) (any, error) { return byName(c, "token", s.be.GetToken) }

func (s *Server) suspendToken(c *call) (any, error) { return s.changeToken(c, cards.ActionSuspend) }
func (s *Server) resumeToken(c *call) (any, error)  { return s.changeToken(c, cards.ActionResume) }
func (s *Server) deleteToken(c *call) (any, error)  { return s.changeToken(c, cards.ActionDelete) }

// changeToken applies the action the route's path ends in; a body may repeat it but not
// name another.
func (s *Server) changeToken(c *call, action cards.TokenAction) (any, error) {
	var req cards.TokenStatusRequest
	return change(c, &req, &req.IdempotencyKey, s.be.ChangeToken, c.nameInto(&req.Token, "token"), actionInto(&req.Action, action))
}
