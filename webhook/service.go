package webhook

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tagpay/tagpay/events"
	"github.com/tagpay/tagpay/store"
)

// Options tune delivery; the zero value means the defaults.
type Options struct {
	// Client sends the POSTs; nil means one that follows no redirect and gives up after
	// Timeout.
	Client *http.Client
	// Timeout bounds one attempt.
	Timeout time.Duration
	// Poll is how often the dispatcher looks at the outbox.
	Poll time.Duration
	// Backoff is the wait after the n-th failed attempt (n ≥ 1); nil means exponential
	// from one second, capped at ten minutes, with jitter.
	Backoff func(n int) time.Duration
	// MaxAge is how long an event is retried before it is given up.
	MaxAge time.Duration
	// Lease is how long a replica holds an item it is delivering; past it another
	// replica may take the item over. It must exceed Timeout.
	Lease time.Duration
	// Replica names this process in leases and attempts.
	Replica string
	// Workers bounds the deliveries in flight at once.
	Workers int
	// Now is the clock, for tests.
	Now func() time.Time
}

// Defaults of Options.
const (
	DefaultTimeout = 10 * time.Second
	DefaultPoll    = 500 * time.Millisecond
	DefaultMaxAge  = 24 * time.Hour
	DefaultWorkers = 8
)

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Client == nil {
		o.Client = &http.Client{
			Timeout: o.Timeout,
			// A redirect is an answer of the endpoint, not a delivery: never follow it,
			// so that a signed event goes only where it was registered to go.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Lease <= o.Timeout {
		// Past the attempt's timeout, a few seconds to record it: a replica killed
		// mid-delivery holds up the event that long. Should a live replica be slower
		// still, another delivers again, which receivers must allow for anyway.
		o.Lease = o.Timeout + 5*time.Second
	}
	if o.Replica == "" {
		o.Replica = strings.TrimPrefix(store.NewID("rep"), "rep_")[16:]
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// DefaultBackoff waits 1s, 2s, 4s … up to ten minutes after the n-th failure, each
// wait drawn between half and all of that, so that endpoints back from an outage are
// not hit by every retry at once.
func DefaultBackoff(n int) time.Duration {
	d := time.Second << min(n-1, 10)
	d = min(d, 10*time.Minute)
	return d/2 + rand.N(d/2+1)
}

// Service manages the endpoints of one ledger.
type Service struct {
	db   *store.DB
	opts Options
}

// New returns the webhook service of db.
func New(db *store.DB, opts Options) *Service {
	return &Service{db: db, opts: opts.withDefaults()}
}

// CreateWebhook registers an endpoint: admins for any or every account, merchants for
// an account of theirs. The secret is in the answer only (a replay of the same
// idempotency key derives it again).
func (s *Service) CreateWebhook(ctx context.Context, req CreateRequest) (Created, error) {
	var out Created
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		id, replayed, err := store.Idempotent(tx, req.IdempotencyKey, "webhook.create", req, func() (string, error) {
			w, err := create(tx, req)
			return w.ID, err
		})
		if err != nil {
			return err
		}
		w, err := store.Load[Webhook](tx, store.BucketWebhooks, id, "webhook")
		if err != nil {
			return err
		}
		out = Created{Webhook: w}
		if replayed {
			return nil // the secret was shown the first time only
		}
		out.Secret, err = secretOf(tx, w.ID)
		return err
	})
	return out, err
}

func create(tx *store.Tx, req CreateRequest) (Webhook, error) {
	if err := tx.RequireRole(store.RoleMerchant); err != nil {
		return Webhook{}, err
	}
	a := tx.Actor()
	if err := checkURL(req.URL); err != nil {
		return Webhook{}, err
	}
	if strings.TrimSpace(req.Events) == "" {
		return Webhook{}, store.Errorf(store.KindInvalid, "missing_events", "a webhook needs the event types to deliver (--events order.paid,… or \"*\")").WithParam("events")
	}
	f, err := events.ParseTypes(req.Events)
	if err != nil {
		return Webhook{}, err
	}
	if req.Account == "" && a.Role != store.RoleAdmin {
		return Webhook{}, store.Errorf(store.KindInvalid, "missing_account", "a %s key registers webhooks for one of its accounts; give --account", a.Role).WithParam("account")
	}
	if req.Account != "" {
		if _, err := tx.AccountUnchecked(req.Account); err != nil {
			return Webhook{}, err
		}
		if err := tx.RequireOwner(req.Account); err != nil {
			return Webhook{}, err
		}
	}
	evs := f.String()
	if evs == "" {
		evs = "*"
	}
	w := Webhook{ID: store.NewID(PrefixWebhook), URL: req.URL, Events: evs, Account: req.Account, CreatedBy: a.ID, CreatedAt: tx.Now()}
	if err := tx.Put(store.BucketWebhooks, w.ID, w); err != nil {
		return Webhook{}, err
	}
	return w, tx.Audit("webhook.create", w.ID, map[string]string{"url": w.URL, "events": w.Events, "account": w.Account})
}

// ListWebhooks lists the endpoints the actor may see, oldest first.
func (s *Service) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	out := []Webhook{}
	err := s.db.View(ctx, func(tx *store.Tx) error {
		if err := tx.RequireRole(store.RoleMerchant); err != nil {
			return err
		}
		a := tx.Actor()
		return store.Each(tx, store.BucketWebhooks, "", false, func(_ string, w Webhook) error {
			if w.visibleTo(a) {
				out = append(out, w)
			}
			return nil
		})
	})
	return out, err
}

// DeleteWebhook removes an endpoint; deliveries still due to it are dropped when their
// turn comes, and its attempts stay on record. An idempotency key on ctx
// (store.WithIdempotencyKey) makes a retry return the first answer.
func (s *Service) DeleteWebhook(ctx context.Context, id string) (Webhook, error) {
	var out Webhook
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.RequireRole(store.RoleMerchant); err != nil {
			return err
		}
		w, _, err := store.Idempotent(tx, store.IdempotencyKeyFrom(ctx), "webhook.delete", id, func() (Webhook, error) {
			w, err := load(tx, id)
			if err != nil {
				return Webhook{}, err
			}
			if err := tx.Delete(store.BucketWebhooks, w.ID); err != nil {
				return Webhook{}, err
			}
			return w, tx.Audit("webhook.delete", w.ID, nil)
		})
		out = w
		return err
	})
	return out, err
}

// ListDeliveries lists the attempts to deliver to endpoint id, newest first.
func (s *Service) ListDeliveries(ctx context.Context, id string, limit int) ([]Attempt, error) {
	if limit < 0 || limit > events.MaxLimit {
		return nil, store.Errorf(store.KindInvalid, "invalid_limit", "limit %d is out of range; give 1 to %d", limit, events.MaxLimit).WithParam("limit")
	}
	if limit == 0 {
		limit = events.DefaultLimit
	}
	out := []Attempt{}
	err := s.db.View(ctx, func(tx *store.Tx) error {
		if err := tx.RequireRole(store.RoleMerchant); err != nil {
			return err
		}
		w, err := load(tx, id)
		if err != nil {
			return err
		}
		return store.Each(tx, store.BucketDeliveries, w.ID+"/", true, func(_ string, a Attempt) error {
			out = append(out, a)
			if len(out) >= limit {
				return store.ErrStop
			}
			return nil
		})
	})
	return out, err
}

// TestWebhook sends endpoint id a webhook.test event now, once, and records the attempt.
// The event is not stored: it tells the endpoint's owner the URL and secret work. With an
// idempotency key on ctx, a retry answers the recorded attempt and sends nothing.
func (s *Service) TestWebhook(ctx context.Context, id string) (Attempt, error) {
	var (
		w        Webhook
		secret   string
		att      Attempt
		replayed bool
	)
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.RequireRole(store.RoleMerchant); err != nil {
			return err
		}
		var (
			key string
			err error
		)
		key, replayed, err = store.Idempotent(tx, store.IdempotencyKeyFrom(ctx), "webhook.test", id, func() (string, error) {
			if w, err = load(tx, id); err != nil {
				return "", err
			}
			if secret, err = secretOf(tx, w.ID); err != nil {
				return "", err
			}
			// The attempt is claimed before it is made, so that a retry of this
			// request finds it rather than sending again.
			att = Attempt{ID: store.NewID(PrefixAttempt), Webhook: w.ID, Attempt: 1, At: tx.Now(), Outcome: OutcomeTest, Error: "sending"}
			return w.ID + "/" + att.ID, tx.Put(store.BucketDeliveries, w.ID+"/"+att.ID, att)
		})
		if err != nil || !replayed {
			return err
		}
		att, err = store.Load[Attempt](tx, store.BucketDeliveries, key, "delivery")
		return err
	})
	if err != nil || replayed {
		return att, err
	}
	data, _ := json.Marshal(map[string]string{"webhook": w.ID, "url": w.URL})
	accounts := []string{}
	if w.Account != "" {
		accounts = append(accounts, w.Account)
	}
	e := events.Event{ID: store.NewID(store.PrefixEvent), Type: events.WebhookTest, At: s.opts.Now().UTC(), Subject: w.ID, Accounts: accounts, Data: data}
	body, err := json.Marshal(e)
	if err != nil {
		return Attempt{}, fmt.Errorf("encoding the test event: %w", err)
	}
	sent := s.send(ctx, w, secret, e, body, 1)
	sent.ID, sent.Outcome = att.ID, OutcomeTest
	err = s.db.Update(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		return tx.Put(store.BucketDeliveries, w.ID+"/"+sent.ID, sent)
	})
	return sent, err
}

// send POSTs body (event e, signed) to w once and describes what happened; Outcome is
// delivered on a 2xx answer and empty otherwise, for the caller to decide.
func (s *Service) send(ctx context.Context, w Webhook, secret string, e events.Event, body []byte, n int) Attempt {
	start := s.opts.Now()
	att := Attempt{ID: store.NewID(PrefixAttempt), Webhook: w.ID, Event: e.ID, Type: e.Type, Attempt: n, At: start.UTC(), Replica: s.opts.Replica}
	status, err := post(ctx, s.opts.Client, s.opts.Timeout, w.URL, secret, e, body, n, start)
	att.Millis = s.opts.Now().Sub(start).Milliseconds()
	att.Status = status
	switch {
	case err != nil:
		att.Error = err.Error()
	case status < 200 || status > 299:
		att.Error = fmt.Sprintf("the endpoint answered %d", status)
	default:
		att.Outcome = OutcomeDelivered
	}
	return att
}

// post sends one signed delivery and returns the answer's status.
func post(ctx context.Context, c *http.Client, timeout time.Duration, target, secret string, e events.Event, body []byte, n int, now time.Time) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(string(body)))
	if err != nil {
		return 0, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tagpay-webhook/1")
	req.Header.Set(SignatureHeader, Sign(secret, now, body))
	req.Header.Set("Tagpay-Event-Id", e.ID)
	req.Header.Set("Tagpay-Event-Type", e.Type)
	req.Header.Set("Tagpay-Delivery-Attempt", fmt.Sprint(n))
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without "Post <url>:", which the attempt names already
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, fmt.Errorf("no answer within %s", timeout)
		}
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

// Forward POSTs event e to target once, signed with secret, as a delivery would be, and
// returns the answer's status: for `tagpay listen`, which forwards to a local endpoint.
func Forward(ctx context.Context, c *http.Client, target, secret string, e events.Event) (int, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return 0, fmt.Errorf("encoding event %s: %w", e.ID, err)
	}
	if c == nil {
		c = Options{}.withDefaults().Client
	}
	return post(ctx, c, DefaultTimeout, target, secret, e, body, 1, time.Now())
}

// NewSecret returns a fresh signing secret, for a forwarding session.
func NewSecret() string {
	var b [32]byte
	crand.Read(b[:])
	return secretPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}
