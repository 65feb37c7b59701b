package store

import (
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// groupCommit shares commits between concurrent writers of a bbolt file. Whenever the
// writer is free it commits, in one transaction and one fsync, every call that queued
// while the last commit ran: a caller alone commits at once, and many callers share a
// commit without anyone waiting on a timer. (bbolt's own Batch gathers calls for a fixed
// delay, which leaves the writer idle whenever the delay outlasts the commit.)
type groupCommit struct {
	db    *bolt.DB
	mu    sync.Mutex
	queue []*groupCall
	busy  bool // a goroutine is committing what queues
	// arrived hears of each call queued, so that the committer can wait for callers
	// briefly (see groupWait).
	arrived chan struct{}
}

// groupWait is how long at most the committer waits, after a commit, for as many calls
// as that commit released: callers that commit in a loop come back within microseconds,
// and one commit for all of them costs half of one for each half (an fsync is most of a
// commit). It does not wait when that many have queued already.
const groupWait = 200 * time.Microsecond

type groupCall struct {
	fn  func(*bolt.Tx) error
	err chan error
}

// maxGroup bounds the calls of one commit, so that one transaction stays small.
const maxGroup = 256

// errAlone tells a caller whose call failed inside a shared transaction to run it in a
// transaction of its own: the others ran again without it, and its failure must not be
// theirs.
var errAlone = errors.New("store: run the call alone")

// run runs fn in a write transaction, most likely shared with other callers' calls. fn
// may run more than once (again alone, after it failed in company).
func (g *groupCommit) run(fn func(*bolt.Tx) error) error {
	c := &groupCall{fn: fn, err: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	if g.arrived == nil {
		g.arrived = make(chan struct{}, 1)
	}
	select {
	case g.arrived <- struct{}{}:
	default:
	}
	if !g.busy {
		g.busy = true
		go g.commitQueued()
	}
	g.mu.Unlock()
	if err := <-c.err; !errors.Is(err, errAlone) {
		return err
	}
	return g.db.Update(fn)
}

// commitQueued commits what queued until nothing is left.
func (g *groupCommit) commitQueued() {
	defer guardFaults()()
	last := 0 // calls in the last commit
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		g.mu.Lock()
		if len(g.queue) < last {
			// Wait for the callers of the last commit, as long as they keep coming.
			timer.Reset(groupWait)
			for len(g.queue) < last {
				g.mu.Unlock()
				select {
				case <-g.arrived:
					g.mu.Lock()
					continue
				case <-timer.C:
				}
				g.mu.Lock()
				break
			}
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
		n := min(len(g.queue), maxGroup)
		calls := g.queue[:n:n]
		g.queue = g.queue[n:]
		if n == 0 {
			g.queue, g.busy = nil, false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.commit(calls)
		last = n
	}
}

// commit runs calls in one transaction. A call that fails (or panics) is taken out and
// told to run alone, and the transaction runs again with the rest; the commit's own
// result goes to every call in it.
func (g *groupCommit) commit(calls []*groupCall) {
	for len(calls) > 0 {
		failed := -1
		err := g.update(func(tx *bolt.Tx) error {
			for i, c := range calls {
				if err := callRecovering(c.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed >= 0 {
			calls[failed].err <- errAlone
			calls = append(calls[:failed:failed], calls[failed+1:]...)
			continue
		}
		for _, c := range calls {
			c.err <- err
		}
		return
	}
}

// update is bbolt's Update with a fault while committing (a damaged or truncated file
// under the memory map) turned into an error for the callers, not a crash of the process.
func (g *groupCommit) update(fn func(*bolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Errorf(KindCorrupt, "ledger_corrupt", "ledger %s is damaged: %v", g.db.Path(), r)
		}
	}()
	return g.db.Update(fn)
}

// callRecovering runs one call, a panic in it becoming its failure: it runs again alone,
// on its caller's goroutine, where a panic reaches the caller's own handling.
func callRecovering(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in a shared transaction: %v", r)
		}
	}()
	return fn(tx)
}
