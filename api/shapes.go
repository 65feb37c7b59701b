package api

import (
	"context"
	"strconv"

	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/store"
)

// The shapes most handlers share: a POST that decodes its body and makes one change, a
// GET of one record, a list. Each handler names its request type, the backend call and
// which path value goes into which field, so the handler still says what the route does.

// change decodes the body into req with the path values put into their fields, gives
// the request its idempotency key (key is req's field for it) and makes the change.
func change[R, T any](c *call, req *R, key *string, do func(context.Context, R) (T, error), path ...pathValue) (T, error) {
	if err := c.body(req, path...); err != nil {
		var none T
		return none, err
	}
	*key = c.idemKey
	return do(c.ctx, *req)
}

// readOnly is change for a POST that writes nothing, so the request records no
// idempotency key: its body carries what a GET could not (a tag's content), or its
// answer holds secrets that no stored answer may keep.
func readOnly[R, T any](c *call, req *R, do func(context.Context, R) (T, error), path ...pathValue) (T, error) {
	if err := c.body(req, path...); err != nil {
		var none T
		return none, err
	}
	return do(c.ctx, *req)
}

// actOn makes a change to the record the path's {id} names, an id of prefix: the body
// must be empty ({}), and the idempotency key reaches the backend in the context.
func actOn[T any](c *call, prefix, what string, do func(context.Context, string) (T, error)) (T, error) {
	var none T
	id, err := c.id("id", prefix, what)
	if err != nil {
		return none, err
	}
	if err := c.decode(&struct{}{}); err != nil {
		return none, err
	}
	return do(c.ctx, id)
}

// byID answers the record the path's {id} names, an id of prefix.
func byID[T any](c *call, prefix, what string, get func(context.Context, string) (T, error)) (T, error) {
	id, err := c.id("id", prefix, what)
	if err != nil {
		var none T
		return none, err
	}
	return get(c.ctx, id)
}

// byName answers the record the path's {what} names: a reference or another plain name.
func byName[T any](c *call, what string, get func(context.Context, string) (T, error)) (T, error) {
	name, err := c.segment(what, what)
	if err != nil {
		var none T
		return none, err
	}
	return get(c.ctx, name)
}

// paged answers a list that takes only a page (limit and after).
func paged[T any](c *call, list func(context.Context, store.Page) ([]T, error)) (any, error) {
	p, _, err := c.page()
	if err != nil {
		return nil, err
	}
	return orEmpty(list(c.ctx, p))
}

// unpaged answers a list that takes no query parameters at all.
func unpaged[T any](c *call, list func(context.Context) ([]T, error)) (any, error) {
	if _, err := c.query(); err != nil {
		return nil, err
	}
	return orEmpty(list(c.ctx))
}

// pathValue is a value of the path headed for a field of the body: a path that names
// nothing is refused before the body is read, and the value goes into its field after.
type pathValue struct {
	err error
	set func() error
}

// body reads the request body into req once every path value is known to be good, then
// puts each path value into its field.
func (c *call) body(req any, path ...pathValue) error {
	for _, p := range path {
		if p.err != nil {
			return p.err
		}
	}
	if err := c.decode(req); err != nil {
		return err
	}
	for _, p := range path {
		if err := p.set(); err != nil {
			return err
		}
	}
	return nil
}

// idInto is the path's {id}, an id of prefix naming a what, for the body's field of
// that name.
func (c *call) idInto(field *string, prefix, what string) pathValue {
	id, err := c.id("id", prefix, what)
	return pathValue{err: err, set: func() error { return bind(field, what, id) }}
}

// nameInto is the path's {what}, a plain name, for the body's field of that name.
func (c *call) nameInto(field *string, what string) pathValue {
	name, err := c.segment(what, what)
	return pathValue{err: err, set: func() error { return bind(field, what, name) }}
}

// rawInto is the path's {what} as sent, for the body's field of that name: the domain
// checks it, so a malformed one gets the same answer as locally.
func (c *call) rawInto(field *string, what string) pathValue {
	v := c.r.PathValue(what)
	return pathValue{set: func() error { return bind(field, what, v) }}
}

// actionInto is the token action a route's path ends in, for the body's action field.
func actionInto(field *cards.TokenAction, action cards.TokenAction) pathValue {
	return pathValue{set: func() error {
		sent := string(*field)
		if err := bind(&sent, "action", string(action)); err != nil {
			return err
		}
		*field = action
		return nil
	}}
}

// page reads the query of a list: limit and after, and the filters named.
func (c *call) page(filters ...string) (store.Page, map[string]string, error) {
	q, err := c.query(append(filters, "limit", "after")...)
	if err != nil {
		return store.Page{}, nil, err
	}
	limit, err := intParam(q, "limit")
	if err != nil {
		return store.Page{}, nil, err
	}
	if limit == 0 {
		// No request walks a whole ledger: "all" is one page of MaxLimit, and a client
		// that wants more pages on with after (Client does).
		limit = store.MaxLimit
	}
	return store.Page{Limit: limit, After: q["after"]}, q, nil
}

// limit reads the query of a list that takes only a limit.
func (c *call) limit() (int, error) {
	q, err := c.query("limit")
	if err != nil {
		return 0, err
	}
	return intParam(q, "limit")
}

// intParam is the whole number in query parameter name, 0 when absent; its range is the
// domain's to check, so that local and remote calls get the same answer.
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
