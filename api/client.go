package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

// Client is a Backend on a tagpay server. Errors come back as *store.Error with the
// server's kind, code and message, so a command fails the same way against a server as
// against a local ledger.
type Client struct {
	base   string // scheme://host[:port][/prefix], without a trailing slash
	token  string
	http   *http.Client
	agent  string
	badURL error // a base URL that cannot work, reported by every call
}

var _ backend.Backend = (*Client)(nil)

// ClientOption tunes NewClient.
type ClientOption func(*Client)

// WithHTTPClient sends requests through h (a test server's client, custom TLS roots).
func WithHTTPClient(h *http.Client) ClientOption { return func(c *Client) { c.http = h } }

// WithUserAgent names the caller in the User-Agent header.
func WithUserAgent(ua string) ClientOption { return func(c *Client) { c.agent = ua } }

// DefaultClientTimeout bounds one request, connection included.
const DefaultClientTimeout = 60 * time.Second

// maxResponseBytes bounds what the client reads of one answer.
const maxResponseBytes = 64 << 20

// NewClient returns a client of the server at baseURL (http or https) using the API key
// token. A base URL that cannot work is reported by the first call.
func NewClient(baseURL, token string, opts ...ClientOption) *Client {
	c := &Client{
		base:  strings.TrimRight(baseURL, "/"),
		token: token,
		http:  &http.Client{Timeout: DefaultClientTimeout},
		agent: "tagpay",
	}
	if u, err := url.Parse(c.base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.badURL = store.Errorf(store.KindInvalid, "invalid_server_url", "server URL %q is not an http:// or https:// URL", baseURL).WithParam("server")
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// BaseURL is the server the client talks to.
func (c *Client) BaseURL() string { return c.base }

// do sends one request and decodes the answer into out. body nil sends no body.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, idemKey string, body, out any) error {
	if c.badURL != nil {
		return c.badURL
	}
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encoding the request to %s: %w", path, err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return store.Wrap(store.KindInvalid, "invalid_server_url", err, "cannot build a request to %s", c.base)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.agent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return store.Wrap(store.KindUnavailable, "server_unreachable", unwrapURLError(err), "cannot reach the tagpay server at %s", c.base)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return store.Wrap(store.KindUnavailable, "server_unreachable", err, "the tagpay server at %s broke off its answer", c.base)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.responseError(resp, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return store.Wrap(store.KindInternal, "bad_response", err, "the server at %s answered %s %s with something that is not the expected JSON", c.base, method, path)
	}
	return nil
}

// responseError rebuilds the server's error: its kind from the body's type (the status
// when the body is not tagpay's), its code, message and parameter.
func (c *Client) responseError(resp *http.Response, raw []byte) error {
	var eb errorBody
	if err := json.Unmarshal(raw, &eb); err == nil && eb.Error.Code != "" {
		kind, ok := store.ParseKind(eb.Error.Type)
		if !ok {
			kind = kindOfStatus(resp.StatusCode)
		}
		return &store.Error{Kind: kind, Code: eb.Error.Code, Message: eb.Error.Message, Param: eb.Error.Param}
	}
	return store.Errorf(kindOfStatus(resp.StatusCode), "http_"+strconv.Itoa(resp.StatusCode), "the server at %s answered %s", c.base, resp.Status)
}

// unwrapURLError drops the "Get URL:" wrapping, which would repeat the URL and any query.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// seg escapes one path segment. Empty and dot segments cannot travel in a path, and
// name nothing on the server either: they are answered here as the server would.
func seg(what, v string) (string, error) {
	if v == "" || v == "." || v == ".." {
		return "", notFound(what, v)
	}
	return url.PathEscape(v), nil
}

func get[T any](c *Client, ctx context.Context, path string, query url.Values) (T, error) {
	var out T
	err := c.do(ctx, http.MethodGet, path, query, "", nil, &out)
	return out, err
}

func post[T any](c *Client, ctx context.Context, path, idemKey string, body any) (T, error) {
	var out T
	err := c.do(ctx, http.MethodPost, path, nil, idemKey, body, &out)
	return out, err
}

// getOne fetches what/{v} under collection.
func getOne[T any](c *Client, ctx context.Context, collection, what, v string) (T, error) {
	s, err := seg(what, v)
	if err != nil {
		var zero T
		return zero, err
	}
	return get[T](c, ctx, collection+"/"+s, nil)
}

// postSub posts body to collection/{v}/action.
func postSub[T any](c *Client, ctx context.Context, collection, what, v, action, idemKey string, body any) (T, error) {
	s, err := seg(what, v)
	if err != nil {
		var zero T
		return zero, err
	}
	return post[T](c, ctx, collection+"/"+s+"/"+action, idemKey, body)
}

// filter builds a query of the non-empty values.
func filter(kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q
}

// CreateAccount implements Backend.
func (c *Client) CreateAccount(ctx context.Context, req store.CreateAccountRequest) (store.Account, error) {
	return post[store.Account](c, ctx, "/v1/accounts", req.IdempotencyKey, req)
}

// ListAccounts implements Backend.
func (c *Client) ListAccounts(ctx context.Context, p store.Page) ([]store.Account, error) {
	return everyPage(p, func(a store.Account) string { return a.ID }, func(p store.Page) ([]store.Account, error) {
		return get[[]store.Account](c, ctx, "/v1/accounts", pageQuery(p))
	})
}

// everyPage reads a list asked for whole (limit 0) a page at a time, as a server answers
// at most store.MaxLimit items to one request; a list asked for by the page is one
// request.
func everyPage[T any](p store.Page, id func(T) string, fetch func(store.Page) ([]T, error)) ([]T, error) {
	if p.Limit != 0 {
		return fetch(p)
	}
	p.Limit = store.MaxLimit
	var out []T
	for {
		page, err := fetch(p)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = page
		} else {
			out = append(out, page...)
		}
		if len(page) < store.MaxLimit {
			return out, nil
		}
		p.After = id(page[len(page)-1])
	}
}

// pageQuery is a page as query parameters; the zero page sends none.
func pageQuery(p store.Page) url.Values {
	q := url.Values{}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.After != "" {
		q.Set("after", p.After)
	}
	return q
}

// GetAccount implements Backend.
func (c *Client) GetAccount(ctx context.Context, id string) (store.Account, error) {
	return getOne[store.Account](c, ctx, "/v1/accounts", "account", id)
}

// FundAccount implements Backend.
func (c *Client) FundAccount(ctx context.Context, req store.FundRequest) (store.Transfer, error) {
	return postSub[store.Transfer](c, ctx, "/v1/accounts", "account", req.Account, "fund", req.IdempotencyKey, req)
}

// Journal implements Backend.
func (c *Client) Journal(ctx context.Context, p store.Page) ([]store.Transfer, error) {
	return everyPage(p, func(t store.Transfer) string { return t.ID }, func(p store.Page) ([]store.Transfer, error) {
		return get[[]store.Transfer](c, ctx, "/v1/journal", pageQuery(p))
	})
}

// AuditEvents implements Backend.
func (c *Client) AuditEvents(ctx context.Context, f store.AuditFilter) ([]store.Event, error) {
	return everyPage(store.Page{Limit: f.Limit, After: f.After}, func(e store.Event) string { return e.ID }, func(p store.Page) ([]store.Event, error) {
		return get[[]store.Event](c, ctx, "/v1/audit", pageQuery(p))
	})
}

// Verify implements Backend.
func (c *Client) Verify(ctx context.Context) ([]store.Violation, error) {
	return get[[]store.Violation](c, ctx, "/v1/verify", nil)
}

// RegisterTag implements Backend.
func (c *Client) RegisterTag(ctx context.Context, req orders.RegisterRequest) (orders.Tag, error) {
	return post[orders.Tag](c, ctx, "/v1/tags", req.IdempotencyKey, req)
}

// ConfirmTag implements Backend.
func (c *Client) ConfirmTag(ctx context.Context, req orders.ConfirmRequest) (orders.Tag, error) {
	return postSub[orders.Tag](c, ctx, "/v1/tags", "tag", req.Tag, "confirm", req.IdempotencyKey, req)
}

// FailTag implements Backend.
func (c *Client) FailTag(ctx context.Context, req orders.TagStateRequest) (orders.Tag, error) {
	return postSub[orders.Tag](c, ctx, "/v1/tags", "tag", req.Tag, "fail", req.IdempotencyKey, req)
}

// RevokeTag implements Backend.
func (c *Client) RevokeTag(ctx context.Context, req orders.TagStateRequest) (orders.Tag, error) {
	return postSub[orders.Tag](c, ctx, "/v1/tags", "tag", req.Tag, "revoke", req.IdempotencyKey, req)
}

// ListTags implements Backend.
func (c *Client) ListTags(ctx context.Context, f orders.TagFilter) ([]orders.Tag, error) {
	return get[[]orders.Tag](c, ctx, "/v1/tags", filter("merchant", f.Merchant))
}

// GetTag implements Backend.
func (c *Client) GetTag(ctx context.Context, refOrUID string) (orders.Tag, error) {
	return getOne[orders.Tag](c, ctx, "/v1/tags", "tag", refOrUID)
}

// ParsePaymentRequest implements Backend.
func (c *Client) ParsePaymentRequest(ctx context.Context, req orders.PaymentRequest) (orders.ParsingReply, error) {
	return post[orders.ParsingReply](c, ctx, "/v1/payment-requests", req.IdempotencyKey, req)
}

// InspectTag implements Backend.
func (c *Client) InspectTag(ctx context.Context, req orders.PaymentRequest) (orders.Inspection, error) {
	return post[orders.Inspection](c, ctx, "/v1/tags/inspect", "", req)
}

// TagSecrets implements Backend.
func (c *Client) TagSecrets(ctx context.Context, req orders.TagSecretsRequest) (orders.TagSecrets, error) {
	return postSub[orders.TagSecrets](c, ctx, "/v1/tags", "tag", req.Tag, "secrets", "", req)
}

// Tap implements Backend.
func (c *Client) Tap(ctx context.Context, req orders.TapRequest) (orders.Receipt, error) {
	return post[orders.Receipt](c, ctx, "/v1/taps", req.IdempotencyKey, req)
}

// PreviewTap implements Backend.
func (c *Client) PreviewTap(ctx context.Context, req orders.PaymentRequest) (orders.ParsingReply, error) {
	return post[orders.ParsingReply](c, ctx, "/v1/taps/preview", "", req)
}

// CreateOrder implements Backend.
func (c *Client) CreateOrder(ctx context.Context, req orders.OrderRequest) (orders.Order, error) {
	return post[orders.Order](c, ctx, "/v1/orders", req.IdempotencyKey, req)
}

// PayOrder implements Backend.
func (c *Client) PayOrder(ctx context.Context, req orders.PayRequest) (orders.Order, error) {
	return postSub[orders.Order](c, ctx, "/v1/orders", "order", req.Order, "pay", req.IdempotencyKey, req)
}

// RefundOrder implements Backend.
func (c *Client) RefundOrder(ctx context.Context, req orders.RefundRequest) (orders.Order, error) {
	return postSub[orders.Order](c, ctx, "/v1/orders", "order", req.Order, "refund", req.IdempotencyKey, req)
}

// CancelOrder implements Backend.
func (c *Client) CancelOrder(ctx context.Context, req orders.CancelRequest) (orders.Order, error) {
	return postSub[orders.Order](c, ctx, "/v1/orders", "order", req.Order, "cancel", req.IdempotencyKey, req)
}

// ListOrders implements Backend.
func (c *Client) ListOrders(ctx context.Context, f orders.OrderFilter) ([]orders.Order, error) {
	q := filter("payer", f.Payer, "payee", f.Payee, "tag", f.Tag, "status", string(f.Status))
	return everyPage(store.Page{Limit: f.Limit, After: f.After}, func(o orders.Order) string { return o.ID }, func(p store.Page) ([]orders.Order, error) {
		return get[[]orders.Order](c, ctx, "/v1/orders", withPage(q, p))
	})
}

// GetOrder implements Backend.
func (c *Client) GetOrder(ctx context.Context, id string) (orders.Order, error) {
	return getOne[orders.Order](c, ctx, "/v1/orders", "order", id)
}

// Login implements Backend.
func (c *Client) Login(ctx context.Context, req cards.LoginRequest) (cards.Login, error) {
	return postSub[cards.Login](c, ctx, "/v1/devices", "device", req.Device, "login", req.IdempotencyKey, req)
}

// Logout implements Backend.
func (c *Client) Logout(ctx context.Context, req cards.LogoutRequest) ([]cards.Login, error) {
	return postSub[[]cards.Login](c, ctx, "/v1/devices", "device", req.Device, "logout", req.IdempotencyKey, req)
}

// ListLogins implements Backend.
func (c *Client) ListLogins(ctx context.Context, account string) ([]cards.Login, error) {
	return get[[]cards.Login](c, ctx, "/v1/logins", filter("account", account))
}

// AddCard implements Backend.
func (c *Client) AddCard(ctx context.Context, req cards.AddCardRequest) (cards.Card, error) {
	return post[cards.Card](c, ctx, "/v1/cards", req.IdempotencyKey, req)
}

// ListCards implements Backend.
func (c *Client) ListCards(ctx context.Context, account string, p store.Page) ([]cards.Card, error) {
	return everyPage(p, func(card cards.Card) string { return card.ID }, func(p store.Page) ([]cards.Card, error) {
		return get[[]cards.Card](c, ctx, "/v1/cards", withPage(filter("account", account), p))
	})
}

// withPage adds a page's parameters to a filter's.
func withPage(q url.Values, p store.Page) url.Values {
	if q == nil {
		q = url.Values{}
	}
	for k, v := range pageQuery(p) {
		q[k] = v
	}
	return q
}

// GetCard implements Backend.
func (c *Client) GetCard(ctx context.Context, id string) (cards.Card, error) {
	return getOne[cards.Card](c, ctx, "/v1/cards", "card", id)
}

// ActivateCard implements Backend.
func (c *Client) ActivateCard(ctx context.Context, req cards.ActivateRequest) (cards.Activation, error) {
	return postSub[cards.Activation](c, ctx, "/v1/cards", "card", req.Card, "activate", req.IdempotencyKey, req)
}

// DeactivateCard implements Backend.
func (c *Client) DeactivateCard(ctx context.Context, req cards.DeactivateRequest) ([]cards.Token, error) {
	return postSub[[]cards.Token](c, ctx, "/v1/cards", "card", req.Card, "deactivate", req.IdempotencyKey, req)
}

// MigrateCard implements Backend.
func (c *Client) MigrateCard(ctx context.Context, req cards.MigrateRequest) (cards.Migration, error) {
	return post[cards.Migration](c, ctx, "/v1/migrations", req.IdempotencyKey, req)
}

// ListTokens implements Backend.
func (c *Client) ListTokens(ctx context.Context, card string, p store.Page) ([]cards.Token, error) {
	return everyPage(p, func(t cards.Token) string { return t.ID }, func(p store.Page) ([]cards.Token, error) {
		return get[[]cards.Token](c, ctx, "/v1/tokens", withPage(filter("card", card), p))
	})
}

// GetToken implements Backend.
func (c *Client) GetToken(ctx context.Context, idOrNumber string) (cards.Token, error) {
	return getOne[cards.Token](c, ctx, "/v1/tokens", "token", idOrNumber)
}

// ChangeToken implements Backend. Each action has its own route; an action that has none
// is refused as the ledger refuses it.
func (c *Client) ChangeToken(ctx context.Context, req cards.TokenStatusRequest) (cards.Token, error) {
	switch req.Action {
	case cards.ActionSuspend, cards.ActionResume, cards.ActionDelete:
	default:
		return cards.Token{}, store.Errorf(store.KindInvalid, "invalid_action", "token action %q is not one of suspend, resume, delete", req.Action).WithParam("action")
	}
	return postSub[cards.Token](c, ctx, "/v1/tokens", "token", req.Token, string(req.Action), req.IdempotencyKey, req)
}

// CreateKey implements Backend.
func (c *Client) CreateKey(ctx context.Context, req store.CreateKeyRequest) (store.CreatedKey, error) {
	return post[store.CreatedKey](c, ctx, "/v1/keys", req.IdempotencyKey, req)
}

// ListKeys implements Backend.
func (c *Client) ListKeys(ctx context.Context, p store.Page) ([]store.APIKey, error) {
	return everyPage(p, func(k store.APIKey) string { return k.ID }, func(p store.Page) ([]store.APIKey, error) {
		return get[[]store.APIKey](c, ctx, "/v1/keys", pageQuery(p))
	})
}

// RevokeKey implements Backend.
func (c *Client) RevokeKey(ctx context.Context, id string) (store.APIKey, error) {
	return postSub[store.APIKey](c, ctx, "/v1/keys", "key", id, "revoke", "", struct{}{})
}

// RotateKey implements Backend.
func (c *Client) RotateKey(ctx context.Context, req store.RotateKeyRequest) (store.RotatedKey, error) {
	return postSub[store.RotatedKey](c, ctx, "/v1/keys", "key", req.ID, "rotate", req.IdempotencyKey, req)
}

// Health asks the server's /healthz, for readiness checks.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", nil, "", nil, nil)
}
