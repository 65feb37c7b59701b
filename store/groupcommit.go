package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// groupCommit shares commits between concurrent writers of a bbolt file. Whenever the
// writer is free it runs, in one transaction, every call that queued while it was busy,
// and writes their writes to the write-ahead log (wal.go) instead of committing bbolt;
// a second goroutine syncs the log and answers the callers, while the writer runs the
// next calls. The transaction stays open across such commits; bbolt commits it (a
// checkpoint) when a reader or a writer of its own needs the file to hold everything
// acknowledged, when the log holds walEpochBytes, after walEpochAge, and when the
// writers have been idle for walIdle.
type groupCommit struct {
	db         *bolt.DB
	log        *walFile
	packedKeys bool

	mu    sync.Mutex
	queue []*groupCall
	busy  bool // a goroutine is committing what queues

	// txMu is held by whoever runs calls in tx, checkpoints or writes bbolt otherwise.
	txMu   sync.Mutex
	tx     *bolt.Tx // the open transaction: what the log holds since the checkpoint
	epoch  [][]byte // the payloads logged since the checkpoint, to redo after a rollback
	bytes  int      // their size
	since  time.Time
	seq    uint64 // of the last record written
	base   uint64 // of the last record the file holds (the checkpoint's)
	broken error  // set when the transaction cannot be rebuilt, or the ledger is closed
	idle   *time.Timer

	// The syncer's side, under syncMu: the commits waiting for the log to be durable up
	// to their record, how far it is, and a failed sync, which fails every commit after
	// the last durable record until the writer has taken those records back.
	syncMu     sync.Mutex
	synced     *sync.Cond // signalled after each sync
	waiting    []syncWait
	durable    uint64 // seq of the last record known durable
	durableEnd int64  // the log's end after it
	syncErr    error
	stopping   bool
}

// syncWait is a commit's callers, answered once the log is durable up to seq.
type syncWait struct {
	seq   uint64
	end   int64
	calls []*groupCall
}

const (
	// A bbolt node splits only when its transaction commits: in a longer epoch, its
	// leaves grow to thousands of entries and every insert moves them; a shorter one
	// writes more pages. See docs/benchmarks.md, "The write-ahead log".
	walEpochBytes = 2 << 20
	walEpochAge   = 2 * time.Second
	walIdle       = 20 * time.Millisecond
)

// newGroupCommit shares the commits of b, whose log holds the writes of pending (the
// records up to seq) that b does not: they are written into b now if they can be, and
// else held in the shared transaction until a checkpoint can.
func newGroupCommit(b *bolt.DB, log *walFile, packedKeys bool, pending [][]byte, seq uint64) *groupCommit {
	g := &groupCommit{db: b, log: log, packedKeys: packedKeys, epoch: pending, seq: seq, since: time.Now()}
	g.base, g.durable, g.durableEnd = seq-uint64(len(pending)), seq, log.off
	g.synced = sync.NewCond(&g.syncMu)
	for _, p := range pending {
		g.bytes += walHeaderSize + len(p)
	}
	go g.syncLog()
	if len(pending) > 0 {
		g.settle() // a full disk: the next checkpoint tries again
	}
	return g
}

// syncLog syncs the log whenever commits wait for it, and answers their callers.
func (g *groupCommit) syncLog() {
	g.syncMu.Lock()
	defer g.syncMu.Unlock()
	for {
		for len(g.waiting) == 0 && !g.stopping {
			g.synced.Wait()
		}
		if len(g.waiting) == 0 {
			return
		}
		batch := g.waiting
		g.waiting = nil
		err := g.syncErr
		if err == nil {
			g.syncMu.Unlock()
			err = g.log.sync()
			g.syncMu.Lock()
			if err != nil {
				g.syncErr = err
			}
		}
		if err == nil {
			last := batch[len(batch)-1]
			if last.seq > g.durable {
				g.durable, g.durableEnd = last.seq, last.end
			}
		}
		for _, w := range batch {
			for _, c := range w.calls {
				c.err <- err
			}
		}
		g.synced.Broadcast()
	}
}

// drain waits until every record written is durable or a sync failed, and then takes
// back, from the transaction and the log, the records that a failed sync left undurable.
// Its caller holds txMu, so no record is written meanwhile.
func (g *groupCommit) drain() {
	g.syncMu.Lock()
	for len(g.waiting) > 0 || (g.durable < g.seq && g.syncErr == nil) {
		g.synced.Wait()
	}
	failed := g.syncErr != nil
	if failed {
		g.syncErr = nil
		g.seq, g.log.off = g.durable, g.durableEnd
	}
	g.syncMu.Unlock()
	if failed {
		// The records past the last durable one were reported failed: spoil the next
		// one's header, so that a later open does not take it in from the page cache.
		g.log.f.WriteAt(make([]byte, walHeaderSize), g.log.off)
		g.rollback()
		g.epoch = g.epoch[:g.seq-g.base]
		g.bytes = 0
		for _, p := range g.epoch {
			g.bytes += walHeaderSize + len(p)
		}
	}
}

// await has the callers answered once the log is durable up to the last record written.
func (g *groupCommit) await(calls []*groupCall) {
	g.syncMu.Lock()
	if g.durable >= g.seq && g.syncErr == nil && len(g.waiting) == 0 {
		g.syncMu.Unlock()
		for _, c := range calls {
			c.err <- nil
		}
		return
	}
	g.waiting = append(g.waiting, syncWait{seq: g.seq, end: g.log.off, calls: calls})
	g.synced.Signal()
	g.syncMu.Unlock()
}

type groupCall struct {
	fn  func(*bolt.Tx, *walOps) error
	err chan error
}

// maxGroup bounds the calls of one commit, so that one log record stays small.
const maxGroup = 256

// errAlone tells a caller whose call failed inside a shared transaction to run it in a
// transaction of its own: the others ran again without it, and its failure must not be
// theirs.
var errAlone = errors.New("store: run the call alone")

var errClosed = errors.New("the ledger is closed")

// run runs fn in a write transaction, most likely shared with other callers' calls, and
// returns once its writes are durable. fn may run more than once (again alone, after it
// failed in company).
func (g *groupCommit) run(fn func(*bolt.Tx, *walOps) error) error {
	c := &groupCall{fn: fn, err: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	if !g.busy {
		g.busy = true
		go g.commitQueued()
	}
	g.mu.Unlock()
	if err := <-c.err; !errors.Is(err, errAlone) {
		return err
	}
	return g.exclusive(func() error { return g.db.Update(func(tx *bolt.Tx) error { return fn(tx, nil) }) })
}

// exclusive checkpoints and runs fn with no shared commit running: fn may use bbolt's
// own transactions.
func (g *groupCommit) exclusive(fn func() error) error {
	g.txMu.Lock()
	defer g.txMu.Unlock()
	if err := g.checkpoint(); err != nil {
		return err
	}
	return fn()
}

// settle checkpoints, so that a reader of the file sees every write acknowledged so far.
func (g *groupCommit) settle() error {
	return g.exclusive(func() error { return nil })
}

// errUnsettled marks a failure to read because the logged writes could not be read.
var errUnsettled = errors.New("the logged writes cannot be read")

// read runs view so that it sees every write acknowledged so far: after a checkpoint, in
// a bbolt transaction of its own (shared nil), with writers held off when held. When the
// file cannot take the logged writes in (a full disk), view reads them in the shared
// transaction instead, holding the writers off.
func (g *groupCommit) read(held bool, view func(shared *bolt.Tx) error) error {
	g.txMu.Lock()
	err := g.checkpoint()
	if err == nil {
		if held {
			defer g.txMu.Unlock()
		} else {
			g.txMu.Unlock()
		}
		return view(nil)
	}
	defer g.txMu.Unlock()
	if g.broken != nil {
		return fmt.Errorf("%w: %w", errUnsettled, err)
	}
	if err := g.begin(); err != nil {
		return fmt.Errorf("%w: %w", errUnsettled, err)
	}
	return view(g.tx)
}

// commitQueued commits what queued until nothing is left.
func (g *groupCommit) commitQueued() {
	defer guardFaults()()
	for {
		g.mu.Lock()
		n := min(len(g.queue), maxGroup)
		calls := g.queue[:n:n]
		g.queue = g.queue[n:]
		if n == 0 {
			g.queue, g.busy = nil, false
			if g.idle == nil {
				g.idle = time.AfterFunc(walIdle, g.idleCheckpoint)
			} else {
				g.idle.Reset(walIdle)
			}
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.commit(calls)
	}
}

// idleCheckpoint checkpoints once the writers have left the file alone for walIdle.
func (g *groupCommit) idleCheckpoint() {
	g.mu.Lock()
	busy := g.busy
	g.mu.Unlock()
	if !busy {
		// A failure is the next reader's to report: the log holds the writes meanwhile.
		g.settle()
	}
}

// commit runs calls in the open transaction and logs their writes. A call that fails (or
// panics) is taken out and told to run alone, and the rest run again without its writes;
// the commit's own result goes to every call in it.
func (g *groupCommit) commit(calls []*groupCall) {
	g.txMu.Lock()
	defer g.txMu.Unlock()
	g.syncMu.Lock()
	syncFailed := g.syncErr != nil
	g.syncMu.Unlock()
	if syncFailed {
		g.drain() // takes back what the failed sync left undurable
	}
	for len(calls) > 0 {
		if err := g.begin(); err != nil {
			for _, c := range calls {
				c.err <- err
			}
			return
		}
		ops := &walOps{}
		failed := -1
		for i, c := range calls {
			if err := callRecovering(c.fn, g.tx, ops); err != nil {
				failed = i
				break
			}
		}
		if failed >= 0 {
			g.rollback()
			calls[failed].err <- errAlone
			calls = append(calls[:failed:failed], calls[failed+1:]...)
			continue
		}
		if err := g.logged(ops.buf); err != nil {
			for _, c := range calls {
				c.err <- err
			}
			return
		}
		// Calls that wrote nothing may have read writes not yet durable: they too
		// are answered once those are.
		g.await(calls)
		if g.bytes >= walEpochBytes || time.Since(g.since) >= walEpochAge {
			// A failure is the next checkpoint's: the log holds the writes.
			g.checkpoint()
		}
		return
	}
}

// logged writes the writes of payload, done in the open transaction, to the log.
func (g *groupCommit) logged(payload []byte) error {
	if len(payload) == 0 {
		return nil
	}
	if err := g.log.write(walRecord(g.log.id, g.seq+1, payload)); err != nil {
		g.rollback()
		return err
	}
	g.seq++
	g.epoch = append(g.epoch, payload)
	g.bytes += walHeaderSize + len(payload)
	return nil
}

// begin opens the shared transaction, with the writes logged since the checkpoint done
// again when an earlier one was rolled back.
func (g *groupCommit) begin() error {
	if g.broken != nil || g.tx != nil {
		return g.broken
	}
	if err := g.log.prepare(g.db); err != nil {
		return err
	}
	tx, err := g.db.Begin(true)
	if err != nil {
		return err
	}
	for _, p := range g.epoch {
		if err := applyWAL(tx, g.packedKeys, p); err != nil {
			tx.Rollback()
			// The log holds these writes and the next open applies them; this process
			// cannot go on without them.
			g.broken = fmt.Errorf("cannot redo the logged writes in memory (reopen the ledger): %w", err)
			return g.broken
		}
	}
	if len(g.epoch) == 0 {
		g.since = time.Now()
	}
	g.tx = tx
	return nil
}

func (g *groupCommit) rollback() {
	if g.tx != nil {
		g.tx.Rollback()
		g.tx = nil
	}
}

// checkpoint commits the shared transaction, and with it the sequence number of the last
// record logged, so that the log may start again. Its caller holds txMu. When the commit
// fails the log still holds the writes, and the next checkpoint tries again.
func (g *groupCommit) checkpoint() error {
	g.drain()
	if len(g.epoch) == 0 {
		g.rollback()
		return g.broken
	}
	if err := g.begin(); err != nil {
		return err
	}
	tx := g.tx
	g.tx = nil
	err := commitRecovering(tx, func() error {
		if err := tx.Bucket([]byte(BucketMeta)).Put(metaWALApplied, binary.BigEndian.AppendUint64(nil, g.seq)); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	})
	if err != nil {
		return err
	}
	g.epoch, g.bytes, g.base = nil, 0, g.seq
	g.log.restart()
	g.syncMu.Lock()
	g.durableEnd = 0
	g.syncMu.Unlock()
	return nil
}

// close checkpoints and refuses every later call. A checkpoint that fails (a full
// disk) is not the closer's failure: the log holds the writes, and the next open of the
// ledger takes them in.
func (g *groupCommit) close() {
	g.mu.Lock()
	if g.idle != nil {
		g.idle.Stop()
	}
	g.mu.Unlock()
	g.txMu.Lock()
	defer g.txMu.Unlock()
	g.checkpoint()
	g.rollback()
	if g.broken == nil {
		g.broken = errClosed
	}
	g.syncMu.Lock()
	g.stopping = true
	g.synced.Broadcast()
	g.syncMu.Unlock()
}

// commitRecovering runs commit with a fault while committing (a damaged or truncated file
// under the memory map) turned into an error for the callers, not a crash of the process.
func commitRecovering(tx *bolt.Tx, commit func() error) (err error) {
	defer guardFaults()()
	defer func() {
		if r := recover(); r != nil {
			tx.Rollback()
			err = Errorf(KindCorrupt, "ledger_corrupt", "ledger %s is damaged: %v", tx.DB().Path(), r)
		}
	}()
	return commit()
}

// callRecovering runs one call, a panic in it becoming its failure: it runs again alone,
// on its caller's goroutine, where a panic reaches the caller's own handling.
func callRecovering(fn func(*bolt.Tx, *walOps) error, tx *bolt.Tx, ops *walOps) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in a shared transaction: %v", r)
		}
	}()
	return fn(tx, ops)
}
