package store

import (
	"context"
	"maps"
	"slices"
	"time"
)

// Event is one line of the audit trail: who did what to which thing.
type Event struct {
	ID      string            `json:"id"`
	At      time.Time         `json:"at"`
	Actor   string            `json:"actor"`
	Action  string            `json:"action"`
	Subject string            `json:"subject"`
	Detail  map[string]string `json:"detail,omitempty"`
}

// MarshalJSON writes the line by hand (see JSONObject): one is written with every tap.
func (e Event) MarshalJSON() ([]byte, error) {
	o := NewJSONObject(192)
	o.Str("id", e.ID)
	if err := o.Time("at", e.At); err != nil {
		return nil, err
	}
	o.Str("actor", e.Actor)
	o.Str("action", e.Action)
	o.Str("subject", e.Subject)
	if len(e.Detail) > 0 {
		o.key("detail")
		for i, k := range slices.Sorted(maps.Keys(e.Detail)) {
			sep := byte(',')
			if i == 0 {
				sep = '{'
			}
			o.b = append(o.b, sep)
			o.b = append(appendJSONString(o.b, k), ':')
			o.b = appendJSONString(o.b, e.Detail[k])
		}
		o.b = append(o.b, '}')
	}
	return o.Bytes(), nil
}

// Audit records an event in the same transaction as the change it describes.
func (tx *Tx) Audit(action, subject string, detail map[string]string) error {
	_, err := tx.AuditID(action, subject, detail)
	return err
}

// AuditID is Audit for callers that report the event's id.
func (tx *Tx) AuditID(action, subject string, detail map[string]string) (string, error) {
	e := Event{ID: tx.NewID(PrefixEvent), At: tx.now, Actor: tx.Actor().ID, Action: action, Subject: subject, Detail: detail}
	return e.ID, tx.Put(BucketAudit, e.ID, e)
}

// Events lists audit events newest first, at most limit (0: all); admins only.
func (tx *Tx) Events(limit int) ([]Event, error) {
	if err := tx.RequireRole(); err != nil {
		return nil, err
	}
	var out []Event
	err := Each(tx, BucketAudit, "", true, func(_ string, e Event) error {
		out = append(out, e)
		if limit > 0 && len(out) >= limit {
			return ErrStop
		}
		return nil
	})
	return out, err
}

// AuditFilter pages the audit trail: at most Limit events (0: all, up to MaxLimit), older
// than the event After (the last id of the previous page).
type AuditFilter struct {
	Limit int    `json:"limit,omitempty"`
	After string `json:"after,omitempty"`
}

// AuditEvents lists audit events newest first, one page at a time; admins only.
func (db *DB) AuditEvents(ctx context.Context, f AuditFilter) ([]Event, error) {
	if err := CheckLimit(f.Limit); err != nil {
		return nil, err
	}
	if err := CheckFilterID("after", f.After, PrefixEvent); err != nil {
		return nil, err
	}
	var out []Event
	err := db.View(ctx, func(tx *Tx) error {
		if err := tx.RequireRole(); err != nil {
			return err
		}
		var err error
		out, err = ReadPage(tx, BucketAudit, Page{Limit: f.Limit, After: f.After}, true, func(e Event) (Event, bool) { return e, true })
		return err
	})
	return out, err
}
