package webhook

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tagpay/tagpay/events"
	"github.com/tagpay/tagpay/store"
)

// The outbox holds two kinds of items, both keyed by event id so that older events go
// first: "<evt_id>", an event not yet matched against the endpoints (written by the
// transaction of the change), and "<evt_id>/<whk_id>", a delivery still due.
type item struct {
	Attempts   int       `json:"attempts,omitempty"`
	Queued     time.Time `json:"queued,omitzero"`
	Due        time.Time `json:"due,omitzero"`
	Lease      string    `json:"lease,omitempty"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
}

// outboxBatch bounds the items one pass looks at.
const outboxBatch = 256

// Dispatch delivers the events of the outbox until ctx ends: the loop of `tagpay serve`.
// Several replicas may run it on one PostgreSQL ledger; each delivery is claimed with a
// lease in a transaction, so one replica at a time tries it.
func (s *Service) Dispatch(ctx context.Context, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sem := make(chan struct{}, s.opts.Workers)
	var (
		wg       sync.WaitGroup
		inFlight sync.Map // keys being delivered: a pass must not start them again
		finished atomic.Int64
	)
	defer wg.Wait()
	if err := s.releaseOrphanedLeases(ctx); err != nil && ctx.Err() == nil {
		log.Warn("webhook outbox", slog.String("code", store.CodeOf(err)), slog.String("error", err.Error()))
	}
	t := time.NewTicker(s.opts.Poll)
	defer t.Stop()
	for {
		before := finished.Load()
		due, more, err := s.pass(ctx)
		if err != nil && ctx.Err() == nil {
			log.Warn("webhook outbox", slog.String("code", store.CodeOf(err)), slog.String("error", err.Error()))
		}
		for _, key := range due {
			if _, busy := inFlight.LoadOrStore(key, true); busy {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer func() { <-sem; inFlight.Delete(key); wg.Done() }()
				if err := s.deliver(ctx, key); err != nil && ctx.Err() == nil {
					log.Warn("webhook delivery", slog.String("item", key), slog.String("code", store.CodeOf(err)), slog.String("error", err.Error()))
				} else if err == nil {
					finished.Add(1)
				}
			}()
		}
		// A full batch that moved means a backlog: waiting for the tick would cap
		// delivery at one batch per tick (512 events/s), below what a server takes in
		// taps. A batch whose deliveries all fail (a read-only ledger) waits as before.
		// The loop has waited for all but Workers of the batch's deliveries.
		if more && err == nil && (len(due) == 0 || finished.Load() > before) {
			if ctx.Err() != nil {
				return
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// releaseOrphanedLeases frees the deliveries that a dispatcher killed mid-attempt left
// leased, on a bbolt ledger only: it has one writing process at a time, so a lease held
// by another replica name is a dead process's, and waiting for it to run out would only
// delay the delivery. On PostgreSQL other replicas may be alive; their leases expire.
func (s *Service) releaseOrphanedLeases(ctx context.Context) error {
	if s.db.Engine() != "bbolt" {
		return nil
	}
	ctx = store.WithActor(ctx, store.LocalActor)
	return s.db.Update(ctx, func(tx *store.Tx) error {
		var orphaned []string
		err := store.Each(tx, store.BucketOutbox, "", false, func(k string, it item) error {
			if it.Lease != "" && it.Lease != s.opts.Replica {
				orphaned = append(orphaned, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range orphaned {
			var it item
			if _, err := tx.Get(store.BucketOutbox, k, &it); err != nil {
				return err
			}
			it.Lease, it.LeaseUntil = "", time.Time{}
			if err := tx.Put(store.BucketOutbox, k, it); err != nil {
				return err
			}
		}
		return nil
	})
}

// RunOnce does one pass over the outbox and waits for its deliveries: for tests and for
// a command that drains the outbox.
func (s *Service) RunOnce(ctx context.Context) error {
	due, _, err := s.pass(ctx)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(due))
	for i, key := range due {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = s.deliver(ctx, key) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// pass hands each new event of the outbox to the endpoints that match it and returns
// the deliveries due now, and whether it stopped at outboxBatch with more to look at.
func (s *Service) pass(ctx context.Context) (due []string, more bool, err error) {
	ctx = store.WithActor(ctx, store.LocalActor)
	now := s.opts.Now()
	var fresh []string
	err = s.db.View(ctx, func(tx *store.Tx) error {
		return store.Each(tx, store.BucketOutbox, "", false, func(k string, it item) error {
			switch {
			case !strings.Contains(k, "/"):
				fresh = append(fresh, k)
			case !now.Before(it.Due) && (it.Lease == "" || now.After(it.LeaseUntil)):
				due = append(due, k)
			}
			if len(fresh)+len(due) >= outboxBatch {
				more = true
				return store.ErrStop
			}
			return nil
		})
	})
	if err != nil {
		return nil, false, err
	}
	if len(fresh) > 0 {
		keys, err := s.fanOut(ctx, fresh, now)
		if err != nil {
			return due, false, err
		}
		due = append(due, keys...)
	}
	return due, more, nil
}

// fanOut turns the outbox entries of events ids into one delivery per matching
// endpoint, all in one transaction: a commit per event kept a server that restarted on
// a backlog, under load, from making its first delivery for seconds. Another replica
// doing the same finds the entries gone.
func (s *Service) fanOut(ctx context.Context, ids []string, now time.Time) ([]string, error) {
	var keys []string
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		keys = nil
		var hooks []Webhook
		err := store.Each(tx, store.BucketWebhooks, "", false, func(_ string, w Webhook) error {
			hooks = append(hooks, w)
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			if tx.GetRaw(store.BucketOutbox, id) == nil {
				continue
			}
			var e events.Event
			ok, err := tx.Get(store.BucketEvents, id, &e)
			if err != nil {
				return err
			}
			for _, w := range hooks {
				if !ok || !w.matches(e) {
					continue
				}
				k := id + "/" + w.ID
				keys = append(keys, k)
				if err := tx.Put(store.BucketOutbox, k, item{Queued: now.UTC(), Due: now.UTC()}); err != nil {
					return err
				}
			}
			if err := tx.Delete(store.BucketOutbox, id); err != nil {
				return err
			}
		}
		return nil
	})
	return keys, err
}

// deliver claims the delivery at key, makes one attempt and records it.
func (s *Service) deliver(ctx context.Context, key string) error {
	ctx = store.WithActor(ctx, store.LocalActor)
	evtID, whkID, _ := strings.Cut(key, "/")
	var (
		it      item
		w       Webhook
		e       events.Event
		body    []byte
		secret  string
		claimed bool
	)
	err := s.db.Batch(ctx, func(tx *store.Tx) error {
		claimed = false
		now := s.opts.Now()
		ok, err := tx.Get(store.BucketOutbox, key, &it)
		if err != nil || !ok || now.Before(it.Due) || (it.Lease != "" && !now.After(it.LeaseUntil)) {
			return err // done, not due, or another replica's
		}
		okW, err := tx.Get(store.BucketWebhooks, whkID, &w)
		if err != nil {
			return err
		}
		body = tx.GetRaw(store.BucketEvents, evtID)
		if !okW || body == nil {
			return tx.Delete(store.BucketOutbox, key) // the endpoint was deleted
		}
		if err := json.Unmarshal(body, &e); err != nil {
			return store.Wrap(store.KindCorrupt, "ledger_corrupt", err, "record %s/%s is damaged", store.BucketEvents, evtID)
		}
		if secret, err = secretOf(tx, w.ID); err != nil {
			return err
		}
		it.Lease, it.LeaseUntil = s.opts.Replica, now.Add(s.opts.Lease).UTC()
		claimed = true
		return tx.Put(store.BucketOutbox, key, it)
	})
	if err != nil || !claimed {
		return err
	}
	att := s.send(ctx, w, secret, e, body, it.Attempts+1)
	// Record the attempt even if ctx ended meanwhile: the endpoint may have the event.
	rctx := context.WithoutCancel(ctx)
	return s.db.Batch(rctx, func(tx *store.Tx) error {
		now := s.opts.Now()
		a := att
		var cur item
		ok, err := tx.Get(store.BucketOutbox, key, &cur)
		if err != nil {
			return err
		}
		mine := ok && cur.Lease == s.opts.Replica && cur.LeaseUntil.Equal(it.LeaseUntil)
		switch {
		case a.Outcome == OutcomeDelivered:
			if mine {
				err = tx.Delete(store.BucketOutbox, key)
			}
		case now.Sub(it.Queued) >= s.opts.MaxAge:
			a.Outcome = OutcomeFailed
			if mine {
				err = tx.Delete(store.BucketOutbox, key)
			}
		default:
			a.Outcome = OutcomeRetrying
			next := now.Add(s.opts.Backoff(a.Attempt)).UTC()
			a.NextTry = &next
			if mine {
				cur.Attempts, cur.Due, cur.Lease, cur.LeaseUntil = a.Attempt, next, "", time.Time{}
				err = tx.Put(store.BucketOutbox, key, cur)
			}
		}
		if err != nil {
			return err
		}
		return tx.Put(store.BucketDeliveries, w.ID+"/"+a.ID, a)
	})
}
