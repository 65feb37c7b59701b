package api

import (
	"bufio"
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

	"github.com/tagpay/tagpay/events"
	"github.com/tagpay/tagpay/store"
	"github.com/tagpay/tagpay/webhook"
)

// streamed is what a handler returns when it has written its answer itself (a stream of
// server-sent events), so that handle writes nothing more.
type streamed struct{}

// eventQuery reads the filters of the event routes.
func eventQuery(c *call, extra ...string) (events.Query, map[string]string, error) {
	q, err := c.query(append([]string{"type", "since", "subject"}, extra...)...)
	if err != nil {
		return events.Query{}, nil, err
	}
	return events.Query{Types: q["type"], Since: q["since"], Subject: q["subject"]}, q, nil
}

// streamEvents answers GET /v1/events/stream: the events of the query as they are
// written, as server-sent events whose ids are the event ids, so that a client that
// reconnects with Last-Event-ID resumes after the last one it got. The stream ends a
// little before the server's write timeout; clients reconnect.
func (s *Server) streamEvents(c *call) (any, error) {
	q, _, err := eventQuery(c)
	if err != nil {
		return nil, err
	}
	if last := c.r.Header.Get("Last-Event-ID"); last != "" {
		if !store.ValidID(last, store.PrefixEvent) {
			return nil, store.Errorf(store.KindInvalid, "invalid_since", "Last-Event-ID %q is not an event id (evt_…)", clip(last)).WithParam("since")
		}
		q.Since = last
	}
	if q.Since == "" {
		q.Since = store.IDFloor(store.PrefixEvent, time.Now())
	}
	// Check the query before the answer starts, so that a bad one gets a JSON error.
	probe := q
	probe.Limit = 1
	if _, err := s.be.ListEvents(c.ctx, probe); err != nil {
		return nil, err
	}
	ctx := c.ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-2*time.Second))
		defer cancel()
	}
	rc := http.NewResponseController(c.w)
	h := c.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.w.WriteHeader(http.StatusOK)
	// The first id is where the stream starts: a client that reconnects before any event
	// came resumes from there instead of from whenever it reconnects.
	fmt.Fprintf(c.w, "retry: 1000\nid: %s\n\n", q.Since)
	rc.Flush()
	err = s.be.FollowEvents(ctx, q, func(e events.Event) error {
		data, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(c.w, "id: %s\nevent: %s\ndata: %s\n\n", e.ID, e.Type, data); err != nil {
			return err
		}
		return rc.Flush()
	})
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(c.w, "event: error\ndata: {\"code\":%q}\n\n", store.CodeOf(err))
		rc.Flush()
	}
	return streamed{}, nil
}

// ListEvents implements Backend.
func (c *Client) ListEvents(ctx context.Context, q events.Query) ([]events.Event, error) {
	v := filter("type", q.Types, "since", q.Since, "subject", q.Subject)
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return get[[]events.Event](c, ctx, "/v1/events", v)
}

// GetEvent implements Backend.
func (c *Client) GetEvent(ctx context.Context, id string) (events.Event, error) {
	return getOne[events.Event](c, ctx, "/v1/events", "event", id)
}

// FollowEvents implements Backend: it reads the server's event stream and, whenever the
// stream ends or the server cannot be reached (a restart), connects again with the last
// event id it got, so no event is missed or repeated. A refusal (a bad filter, a key
// without access) ends it with that error.
func (c *Client) FollowEvents(ctx context.Context, q events.Query, each func(events.Event) error) error {
	if c.badURL != nil {
		return c.badURL
	}
	// The stream outlives any request timeout: no client timeout, ctx ends it.
	hc := &http.Client{Transport: c.http.Transport, Jar: c.http.Jar}
	last := q.Since
	wait := 200 * time.Millisecond
	for {
		got, err := c.stream(ctx, hc, q, &last, each)
		if ctx.Err() != nil {
			return nil
		}
		var ce callbackError
		if errors.As(err, &ce) {
			return ce.err
		}
		if err != nil && store.KindOf(err) != store.KindUnavailable {
			return err
		}
		if got {
			wait = 200 * time.Millisecond
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// callbackError is the error of Follow's callback, which ends following.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }

// stream reads one connection's events; got reports whether it connected.
func (c *Client) stream(ctx context.Context, hc *http.Client, q events.Query, last *string, each func(events.Event) error) (got bool, err error) {
	v := filter("type", q.Types, "subject", q.Subject)
	target := c.base + "/v1/events/stream"
	if len(v) > 0 {
		target += "?" + v.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return false, store.Wrap(store.KindInvalid, "invalid_server_url", err, "cannot build a request to %s", c.base)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", c.agent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if *last != "" {
		req.Header.Set("Last-Event-ID", *last)
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return false, store.Wrap(store.KindUnavailable, "server_unreachable", err, "cannot reach the tagpay server at %s", c.base)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return false, c.responseError(resp, raw)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), maxResponseBytes)
	var id, data string
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if data != "" {
				var e events.Event
				if err := json.Unmarshal([]byte(data), &e); err != nil {
					return true, store.Wrap(store.KindInternal, "bad_response", err, "the server at %s sent an event that is not JSON", c.base)
				}
				if e.ID != "" {
					if err := each(e); err != nil {
						return true, callbackError{err}
					}
				}
			}
			if id != "" {
				*last = id
			}
			id, data = "", ""
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			id = value
		case "data":
			data += value
		}
	}
	return true, store.Errorf(store.KindUnavailable, "stream_ended", "the event stream of %s ended", c.base)
}

// CreateWebhook implements Backend.
func (c *Client) CreateWebhook(ctx context.Context, req webhook.CreateRequest) (webhook.Created, error) {
	return post[webhook.Created](c, ctx, "/v1/webhooks", req.IdempotencyKey, req)
}

// ListWebhooks implements Backend.
func (c *Client) ListWebhooks(ctx context.Context) ([]webhook.Webhook, error) {
	return get[[]webhook.Webhook](c, ctx, "/v1/webhooks", nil)
}

// DeleteWebhook implements Backend.
func (c *Client) DeleteWebhook(ctx context.Context, id string) (webhook.Webhook, error) {
	return postSub[webhook.Webhook](c, ctx, "/v1/webhooks", "webhook", id, "delete", store.IdempotencyKeyFrom(ctx), struct{}{})
}

// TestWebhook implements Backend.
func (c *Client) TestWebhook(ctx context.Context, id string) (webhook.Attempt, error) {
	return postSub[webhook.Attempt](c, ctx, "/v1/webhooks", "webhook", id, "test", store.IdempotencyKeyFrom(ctx), struct{}{})
}

// ListDeliveries implements Backend.
func (c *Client) ListDeliveries(ctx context.Context, id string, limit int) ([]webhook.Attempt, error) {
	s, err := seg("webhook", id)
	if err != nil {
		return nil, err
	}
	v := url.Values{}
	if limit != 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	return get[[]webhook.Attempt](c, ctx, "/v1/webhooks/"+s+"/deliveries", v)
}
