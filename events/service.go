package events

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tagpay/tagpay/store"
)

// Query selects events: of the types Types names (ParseTypes), after the event Since,
// about the object Subject, at most Limit.
type Query struct {
	Types   string
	Since   string
	Subject string
	Limit   int
}

// Limits of a page of events.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Service answers the event requests of one ledger.
type Service struct {
	db *store.DB
	// Poll is how often Follow looks for new events; 0 means DefaultPoll.
	Poll time.Duration
}

// DefaultPoll is how often a follower of a local ledger looks for new events.
const DefaultPoll = 200 * time.Millisecond

// Lookback is how far behind its newest event a follower looks again: an event's id is
// taken when its transaction starts, so a transaction that commits late (another
// replica, a retry) can show an event older than one already seen.
const Lookback = 5 * time.Second

// New returns the event service of db.
func New(db *store.DB) *Service { return &Service{db: db} }

// query is a checked Query.
type query struct {
	types   TypeFilter
	since   string
	subject string
	limit   int
}

func (q Query) check() (query, error) {
	f, err := ParseTypes(q.Types)
	if err != nil {
		return query{}, err
	}
	if q.Since != "" && !store.ValidID(q.Since, store.PrefixEvent) {
		return query{}, store.Errorf(store.KindInvalid, "invalid_since", "since %q is not an event id (evt_…)", clip(q.Since)).WithParam("since")
	}
	switch {
	case q.Limit < 0 || q.Limit > MaxLimit:
		return query{}, store.Errorf(store.KindInvalid, "invalid_limit", "limit %d is out of range; give 1 to %d", q.Limit, MaxLimit).WithParam("limit")
	case q.Limit == 0:
		q.Limit = DefaultLimit
	}
	return query{types: f, since: q.Since, subject: q.Subject, limit: q.Limit}, nil
}

func (q query) match(a store.Actor, e Event) bool {
	return q.types.Match(e.Type) && (q.subject == "" || e.Subject == q.subject) && e.VisibleTo(a)
}

// ListEvents lists the events the actor may see: newest first, or, with Since, the
// events after it oldest first (so that a reader can page forward without gaps).
func (s *Service) ListEvents(ctx context.Context, q Query) ([]Event, error) {
	cq, err := q.check()
	if err != nil {
		return nil, err
	}
	var out []Event
	err = s.db.View(ctx, func(tx *store.Tx) error {
		out, err = list(tx, cq, cq.since)
		return err
	})
	return out, err
}

// list walks the events after `after` (oldest first) or, when it is empty, all of them
// newest first.
func list(tx *store.Tx, q query, after string) ([]Event, error) {
	a := tx.Actor()
	out := []Event{}
	fn := func(k string, raw []byte) error {
		e, err := decode(k, raw)
		if err != nil {
			return err
		}
		if q.match(a, e) {
			out = append(out, e)
			if len(out) >= q.limit {
				return store.ErrStop
			}
		}
		return nil
	}
	var err error
	if after == "" {
		err = tx.ForEach(store.BucketEvents, "", true, fn)
	} else {
		err = tx.ForEachAfter(store.BucketEvents, after, fn)
	}
	return out, err
}

func decode(k string, raw []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return Event{}, store.Wrap(store.KindCorrupt, "ledger_corrupt", err, "record %s/%s is damaged", store.BucketEvents, k)
	}
	return e, nil
}

// GetEvent returns one event; an event the actor may not see is not found, like one that
// does not exist.
func (s *Service) GetEvent(ctx context.Context, id string) (Event, error) {
	var out Event
	err := s.db.View(ctx, func(tx *store.Tx) error {
		if !store.ValidID(id, store.PrefixEvent) {
			return notFound(id)
		}
		e, err := store.Load[Event](tx, store.BucketEvents, id, "event")
		if err != nil {
			return err
		}
		if !e.VisibleTo(tx.Actor()) {
			return notFound(id)
		}
		out = e
		return nil
	})
	return out, err
}

func notFound(id string) error {
	return store.Errorf(store.KindNotFound, "event_not_found", "event %q not found", clip(id)).WithParam("event")
}

// FollowEvents calls each for every event of q after q.Since, oldest first, as they are
// written, until ctx ends (nil) or each fails (its error). Without Since it starts with
// the events written from now on.
func (s *Service) FollowEvents(ctx context.Context, q Query, each func(Event) error) error {
	q.Limit = MaxLimit
	cq, err := q.check()
	if err != nil {
		return err
	}
	f := NewFollower(cq.since)
	poll := s.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		var page []Event
		err := s.db.View(ctx, func(tx *store.Tx) (err error) {
			page, err = list(tx, cq, f.From())
			return err
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, e := range page {
			if f.Fresh(e) {
				if err := each(e); err != nil {
					return err
				}
			}
		}
		if len(page) == cq.limit {
			continue // more are waiting
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
