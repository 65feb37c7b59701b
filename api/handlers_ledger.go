package api

import "github.com/tagpay/tagpay/store"

// Accounts and the ledger.

func (s *Server) createAccount(c *call) (any, error) {
	var req store.CreateAccountRequest
	return change(c, &req, &req.IdempotencyKey, s.be.CreateAccount)
}

func (s *Server) listAccounts(c *call) (any, error) { return paged(c, s.be.ListAccounts) }

func (s *Server) getAccount(c *call) (any, error) {
	return byID(c, store.PrefixAccount, "account", s.be.GetAccount)
}

func (s *Server) fundAccount(c *call) (any, error) {
	var req store.FundRequest
	return change(c, &req, &req.IdempotencyKey, s.be.FundAccount, c.idInto(&req.Account, store.PrefixAccount, "account"))
}

func (s *Server) journal(c *call) (any, error) { return paged(c, s.be.Journal) }

func (s *Server) audit(c *call) (any, error) {
	p, _, err := c.page()
	if err != nil {
		return nil, err
	}
	return orEmpty(s.be.AuditEvents(c.ctx, store.AuditFilter{Limit: p.Limit, After: p.After}))
}

func (s *Server) verify(c *call) (any, error) { return unpaged(c, s.be.Verify) }

// API keys.

func (s *Server) createKey(c *call) (any, error) {
	var req store.CreateKeyRequest
	return change(c, &req, &req.IdempotencyKey, s.be.CreateKey)
}

func (s *Server) listKeys(c *call) (any, error) { return paged(c, s.be.ListKeys) }

func (s *Server) revokeKey(c *call) (any, error) {
	return actOn(c, store.PrefixKey, "key", s.be.RevokeKey)
}

func (s *Server) rotateKey(c *call) (any, error) {
	var req store.RotateKeyRequest
	return change(c, &req, &req.IdempotencyKey, s.be.RotateKey, c.idInto(&req.ID, store.PrefixKey, "key"))
}
