// Package webhook delivers the ledger's events to HTTP endpoints: endpoints registered
// in the ledger, each event signed and POSTed at least once, retried with backoff, every
// attempt recorded. Events reach it through the outbox that the transaction of each
// change fills, so an event committed is an event delivered, whatever stops in between.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
	"time"

	"github.com/tagpay/tagpay/events"
	"github.com/tagpay/tagpay/store"
)

// Id prefixes of this package's records.
const (
	PrefixWebhook = store.PrefixWebhook
	PrefixAttempt = store.PrefixAttempt
)

// Webhook is an endpoint that receives events, as the API shows it: never its secret.
type Webhook struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    string    `json:"events"`            // a type filter: "order.paid,order.refunded", "order.*", "*"
	Account   string    `json:"account,omitempty"` // only events of this account; empty (admins): all
	CreatedBy string    `json:"created_by"`        // the API key (or "local") that registered it
	CreatedAt time.Time `json:"created_at"`
}

// CreateRequest registers an endpoint.
type CreateRequest struct {
	URL            string `json:"url"`
	Events         string `json:"events"`
	Account        string `json:"account,omitempty"`
	IdempotencyKey string `json:"-"`
}

// Created is a new endpoint with its signing secret, shown this once.
type Created struct {
	Webhook
	Secret string `json:"secret"`
}

// Attempt is one delivery of one event to one endpoint.
type Attempt struct {
	ID      string     `json:"id"`
	Webhook string     `json:"webhook"`
	Event   string     `json:"event"`
	Type    string     `json:"type"`
	Attempt int        `json:"attempt"` // 1 for the first try of this event
	At      time.Time  `json:"at"`
	Status  int        `json:"status,omitempty"` // the endpoint's HTTP status, 0 when it gave none
	Error   string     `json:"error,omitempty"`
	Millis  int64      `json:"duration_ms"`
	Outcome string     `json:"outcome"` // delivered, retrying, failed (given up), test
	NextTry *time.Time `json:"next_attempt_at,omitempty"`
	Replica string     `json:"replica,omitempty"`
}

// Outcomes of an attempt.
const (
	OutcomeDelivered = "delivered"
	OutcomeRetrying  = "retrying"
	OutcomeFailed    = "failed"
	OutcomeTest      = "test"
)

const (
	maxURL        = 2048
	signingSecret = "webhook_signing"
	secretPrefix  = "whsec_"
)

// secretOf derives the signing secret of webhook id from the ledger's own secret, so
// that the ledger keeps no secret per endpoint: only the one it needs to sign with.
func secretOf(tx *store.Tx, id string) (string, error) {
	master, err := tx.Secret(signingSecret)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, master)
	m.Write([]byte("webhook\x00" + id))
	return secretPrefix + base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
}

// checkURL accepts an absolute http or https URL without credentials.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return store.Errorf(store.KindInvalid, "missing_url", "a webhook needs the URL to deliver to").WithParam("url")
	case len(raw) > maxURL || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(raw, " \t\r\n"):
		return store.Errorf(store.KindInvalid, "invalid_url", "webhook URL %q is not an absolute http:// or https:// URL", clip(raw)).WithParam("url")
	case u.User != nil:
		return store.Errorf(store.KindInvalid, "invalid_url", "webhook URL must not carry credentials; the signature authenticates the sender").WithParam("url")
	}
	return nil
}

// matches reports whether endpoint w takes event e: one of its types, of its account,
// and written after it was registered (an event still in the outbox when an endpoint
// is added is not sent to it).
func (w Webhook) matches(e events.Event) bool {
	if e.At.Before(w.CreatedAt) {
		return false
	}
	f, err := events.ParseTypes(w.Events)
	if err != nil || !f.Match(e.Type) {
		return false
	}
	if w.Account == "" {
		return true
	}
	for _, a := range e.Accounts {
		if a == w.Account {
			return true
		}
	}
	return false
}

// visibleTo reports whether actor a may see and manage w: admins all, others the
// endpoints of accounts they own.
func (w Webhook) visibleTo(a store.Actor) bool {
	return a.Role == store.RoleAdmin || (w.Account != "" && a.Owns(w.Account))
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func notFound(id string) error {
	return store.Errorf(store.KindNotFound, "webhook_not_found", "webhook %q not found", clip(id)).WithParam("webhook")
}

// load returns webhook id if the actor may see it.
func load(tx *store.Tx, id string) (Webhook, error) {
	if !store.ValidID(id, PrefixWebhook) {
		return Webhook{}, notFound(id)
	}
	var w Webhook
	ok, err := tx.Get(store.BucketWebhooks, id, &w)
	if err != nil {
		return Webhook{}, err
	}
	if !ok || !w.visibleTo(tx.Actor()) {
		return Webhook{}, notFound(id)
	}
	return w, nil
}
