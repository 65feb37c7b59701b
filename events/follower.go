package events

import (
	"time"

	"github.com/tagpay/tagpay/store"
)

// Follower remembers what a follower has passed on, so that polling again a little
// behind the newest event (Lookback) finds late commits without repeating anything.
type Follower struct {
	after  string               // events up to this id are never passed on again
	seen   map[string]time.Time // ids passed on within Lookback of the newest
	newest time.Time
}

// NewFollower starts after the event id after ("" for: from now on).
func NewFollower(after string) *Follower {
	f := &Follower{after: after, seen: map[string]time.Time{}}
	if after == "" {
		f.after = store.IDFloor(store.PrefixEvent, time.Now())
	}
	if t, ok := store.IDTime(f.after, store.PrefixEvent); ok {
		f.newest = t
	}
	return f
}

// From is the id to list after: Lookback before the newest event passed on, never
// before the starting point.
func (f *Follower) From() string {
	from := store.IDFloor(store.PrefixEvent, f.newest.Add(-Lookback))
	if from < f.after {
		return f.after
	}
	return from
}

// Fresh reports whether e is new to this follower, and remembers it.
func (f *Follower) Fresh(e Event) bool {
	if e.ID <= f.after {
		return false
	}
	if _, dup := f.seen[e.ID]; dup {
		return false
	}
	t, _ := store.IDTime(e.ID, store.PrefixEvent)
	f.seen[e.ID] = t
	if t.After(f.newest) {
		f.newest = t
		for id, at := range f.seen {
			if at.Before(f.newest.Add(-Lookback)) {
				delete(f.seen, id)
			}
		}
	}
	return true
}
