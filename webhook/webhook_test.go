package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tagpay/tagpay/events"
	"github.com/tagpay/tagpay/store"
)

func openDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "ledger.db"), store.Options{NoSync: true, KeysPath: filepath.Join(t.TempDir(), "keys.json")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func emit(t *testing.T, db *store.DB, typ string, accounts ...string) string {
	t.Helper()
	var id string
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		if err := tx.Emit(typ, "ord_x", map[string]string{"id": "ord_x"}, accounts...); err != nil {
			return err
		}
		return tx.ForEach(store.BucketEvents, "", true, func(k string, _ []byte) error { id = k; return store.ErrStop })
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// clock is a settable time for the dispatcher's backoff.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type received struct {
	id, sig string
	body    []byte
}

// receiver answers fail times 500, then 204, and keeps what it was sent.
func receiver(t *testing.T, fail int) (*httptest.Server, func() []received) {
	var mu sync.Mutex
	var got []received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, received{id: r.Header.Get("Tagpay-Event-Id"), sig: r.Header.Get(SignatureHeader), body: body})
		n := len(got)
		mu.Unlock()
		if n <= fail {
			http.Error(w, "not yet", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []received { mu.Lock(); defer mu.Unlock(); return append([]received(nil), got...) }
}

func TestRetriesUntilDeliveredWithBackoff(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	clk := &clock{t: time.Now()}
	var waits []int
	s := New(db, Options{Now: clk.now, Backoff: func(n int) time.Duration { waits = append(waits, n); return time.Duration(n) * time.Minute }})
	srv, got := receiver(t, 2)
	wh, err := s.CreateWebhook(ctx, CreateRequest{URL: srv.URL + "/hook", Events: "order.*"})
	if err != nil {
		t.Fatal(err)
	}
	emit(t, db, events.TagRevoked) // matches no filter: never sent
	id := emit(t, db, events.OrderPaid, "acct_a")

	if err := s.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(got()); n != 1 {
		t.Fatalf("first pass: %d deliveries, want 1", n)
	}
	// Not due again before the backoff has passed.
	clk.add(59 * time.Second)
	if err := s.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(got()); n != 1 {
		t.Fatalf("retried before the backoff: %d deliveries", n)
	}
	clk.add(2 * time.Second)
	s.RunOnce(ctx)
	clk.add(2*time.Minute + time.Second)
	s.RunOnce(ctx)
	clk.add(time.Hour)
	s.RunOnce(ctx) // delivered: nothing left to send

	rs := got()
	if len(rs) != 3 {
		t.Fatalf("%d deliveries, want 3", len(rs))
	}
	for _, r := range rs {
		if r.id != id {
			t.Errorf("delivered event %s, want %s", r.id, id)
		}
		if err := Verify(wh.Secret, r.sig, r.body, 2*time.Hour, clk.now()); err != nil {
			t.Errorf("signature: %v", err)
		}
		var e events.Event
		if err := json.Unmarshal(r.body, &e); err != nil || e.ID != id || e.Type != events.OrderPaid {
			t.Errorf("body %s: %v", r.body, err)
		}
	}
	if len(waits) != 2 || waits[0] != 1 || waits[1] != 2 {
		t.Errorf("backoff asked for %v, want [1 2]", waits)
	}
	atts, err := s.ListDeliveries(ctx, wh.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, a := range atts { // newest first
		outcomes = append(outcomes, a.Outcome)
	}
	if len(atts) != 3 || atts[0].Outcome != OutcomeDelivered || atts[0].Status != 204 || atts[0].Attempt != 3 ||
		atts[1].Outcome != OutcomeRetrying || atts[1].Status != 500 || atts[2].Attempt != 1 {
		t.Fatalf("attempts %v, want delivered, retrying, retrying", outcomes)
	}
	var left int
	db.View(ctx, func(tx *store.Tx) error {
		return tx.ForEach(store.BucketOutbox, "", false, func(string, []byte) error { left++; return nil })
	})
	if left != 0 {
		t.Errorf("%d outbox items left after delivery", left)
	}
}

func TestGivesUpAfterMaxAge(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	clk := &clock{t: time.Now()}
	s := New(db, Options{Now: clk.now, Backoff: func(int) time.Duration { return time.Minute }, MaxAge: 3 * time.Minute})
	srv, got := receiver(t, 1000)
	wh, err := s.CreateWebhook(ctx, CreateRequest{URL: srv.URL, Events: "*"})
	if err != nil {
		t.Fatal(err)
	}
	emit(t, db, events.AccountFunded, "acct_a")
	for range 10 {
		s.RunOnce(ctx)
		clk.add(61 * time.Second)
	}
	if n := len(got()); n != 4 {
		t.Errorf("%d attempts within a max age of 3 minutes at one a minute, want 4", n)
	}
	atts, _ := s.ListDeliveries(ctx, wh.ID, 0)
	if len(atts) == 0 || atts[0].Outcome != OutcomeFailed {
		t.Fatalf("last attempt %+v, want failed", atts)
	}
}

func TestTimeoutIsAFailedAttempt(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	s := New(db, Options{Timeout: 50 * time.Millisecond, Backoff: func(int) time.Duration { return time.Hour }})
	wh, err := s.CreateWebhook(ctx, CreateRequest{URL: srv.URL, Events: "order.paid"})
	if err != nil {
		t.Fatal(err)
	}
	emit(t, db, events.OrderPaid, "acct_a")
	if err := s.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	atts, _ := s.ListDeliveries(ctx, wh.ID, 0)
	if len(atts) != 1 || atts[0].Outcome != OutcomeRetrying || atts[0].Error == "" || atts[0].NextTry == nil {
		t.Fatalf("attempts %+v, want one retrying after a timeout", atts)
	}
}

func TestLeaseKeepsOtherReplicasOff(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	srv, got := receiver(t, 0)
	clk := &clock{t: time.Now()}
	a := New(db, Options{Replica: "a", Now: clk.now})
	b := New(db, Options{Replica: "b", Now: clk.now})
	if _, err := a.CreateWebhook(ctx, CreateRequest{URL: srv.URL, Events: "*"}); err != nil {
		t.Fatal(err)
	}
	emit(t, db, events.OrderPaid, "acct_a")
	due, _, err := a.pass(store.WithActor(ctx, store.LocalActor))
	if err != nil || len(due) != 1 {
		t.Fatalf("due %v, %v", due, err)
	}
	// Replica a claims the item and stops before it sends (as if it crashed).
	err = db.Update(ctx, func(tx *store.Tx) error {
		var it item
		tx.Get(store.BucketOutbox, due[0], &it)
		it.Lease, it.LeaseUntil = "a", clk.now().Add(time.Minute)
		return tx.Put(store.BucketOutbox, due[0], it)
	})
	if err != nil {
		t.Fatal(err)
	}
	b.RunOnce(ctx)
	if n := len(got()); n != 0 {
		t.Fatalf("replica b delivered an item leased to a (%d)", n)
	}
	clk.add(2 * time.Minute) // a's lease has run out: b takes over
	b.RunOnce(ctx)
	if n := len(got()); n != 1 {
		t.Fatalf("after the lease expired: %d deliveries, want 1", n)
	}
}

func TestDispatchDeliversWhatWasQueuedBeforeItStarted(t *testing.T) {
	db := openDB(t)
	srv, got := receiver(t, 0)
	s := New(db, Options{Poll: 10 * time.Millisecond})
	if _, err := s.CreateWebhook(context.Background(), CreateRequest{URL: srv.URL, Events: "order.paid"}); err != nil {
		t.Fatal(err)
	}
	id := emit(t, db, events.OrderPaid, "acct_a") // committed while no dispatcher ran
	if rs := dispatchUntilDelivered(s, got); len(rs) != 1 || rs[0].id != id {
		t.Fatalf("delivered %v, want %s once", rs, id)
	}
}

// TestDispatchTakesOverLeasesOfADeadProcess: a server killed between claiming a
// delivery and recording it leaves the lease behind. A bbolt ledger has one writer at a
// time, so the next server to dispatch on it knows the holder is gone and delivers at
// once, rather than when the lease runs out.
func TestDispatchTakesOverLeasesOfADeadProcess(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	srv, got := receiver(t, 0)
	s := New(db, Options{Replica: "next", Poll: 10 * time.Millisecond})
	if _, err := s.CreateWebhook(ctx, CreateRequest{URL: srv.URL, Events: "order.paid"}); err != nil {
		t.Fatal(err)
	}
	id := emit(t, db, events.OrderPaid, "acct_a")
	due, _, err := s.pass(store.WithActor(ctx, store.LocalActor))
	if err != nil || len(due) != 1 {
		t.Fatalf("due %v, %v", due, err)
	}
	err = db.Update(ctx, func(tx *store.Tx) error {
		var it item
		if _, err := tx.Get(store.BucketOutbox, due[0], &it); err != nil {
			return err
		}
		it.Lease, it.LeaseUntil = "killed", time.Now().Add(time.Hour).UTC()
		return tx.Put(store.BucketOutbox, due[0], it)
	})
	if err != nil {
		t.Fatal(err)
	}
	if rs := dispatchUntilDelivered(s, got); len(rs) != 1 || rs[0].id != id {
		t.Fatalf("delivered %d times, want %s once: the dead process's lease held the delivery back", len(rs), id)
	}
}

// TestPassFansOutEveryFreshEventToItsEndpoints: one pass turns each new event into one
// delivery per matching endpoint, leaves no event entry behind, and a second pass finds
// nothing new to fan out.
func TestPassFansOutEveryFreshEventToItsEndpoints(t *testing.T) {
	ctx := store.WithActor(context.Background(), store.LocalActor)
	db := openDB(t)
	s := New(db, Options{})
	paid, err := s.CreateWebhook(ctx, CreateRequest{URL: "http://127.0.0.1:1/paid", Events: "order.paid"})
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.CreateWebhook(ctx, CreateRequest{URL: "http://127.0.0.1:1/all", Events: "*"})
	if err != nil {
		t.Fatal(err)
	}
	p1 := emit(t, db, events.OrderPaid, "acct_a")
	f := emit(t, db, events.AccountFunded, "acct_a")
	p2 := emit(t, db, events.OrderPaid, "acct_b")
	due, _, err := s.pass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{p1 + "/" + paid.ID: true, p1 + "/" + all.ID: true, f + "/" + all.ID: true, p2 + "/" + paid.ID: true, p2 + "/" + all.ID: true}
	if len(due) != len(want) {
		t.Fatalf("due %v, want %d deliveries", due, len(want))
	}
	for _, k := range due {
		if !want[k] {
			t.Fatalf("unexpected delivery %s (due %v)", k, due)
		}
	}
	err = db.View(ctx, func(tx *store.Tx) error {
		for _, id := range []string{p1, f, p2} {
			if tx.GetRaw(store.BucketOutbox, id) != nil {
				t.Errorf("event %s is still waiting to be fanned out", id)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := s.pass(ctx)
	if err != nil || len(again) != len(want) {
		t.Fatalf("second pass: %v, %v; want the same %d deliveries still due, none added", again, err, len(want))
	}
}

// dispatchUntilDelivered runs the dispatcher until the receiver has a delivery (for at
// most 5 s), stops it, and returns what the receiver got.
func dispatchUntilDelivered[T any](s *Service, got func() []T) []T {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Dispatch(ctx, nil); close(done) }()
	for deadline := time.Now().Add(5 * time.Second); len(got()) == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	return got()
}

// TestDispatchDrainsABacklogWithoutWaitingForThePoll: a pass looks at outboxBatch items;
// when there are more, the next pass starts at once instead of at the next tick, so a
// server that fell behind catches up at the speed of delivery.
func TestDispatchDrainsABacklogWithoutWaitingForThePoll(t *testing.T) {
	db := openDB(t)
	srv, got := receiver(t, 0)
	s := New(db, Options{Poll: time.Hour})
	ctx := context.Background()
	if _, err := s.CreateWebhook(ctx, CreateRequest{URL: srv.URL, Events: "*"}); err != nil {
		t.Fatal(err)
	}
	const n = 2*outboxBatch + 10
	err := db.Update(ctx, func(tx *store.Tx) error {
		for range n {
			if err := tx.Emit(events.AccountFunded, "acct_a", map[string]string{"id": "acct_a"}, "acct_a"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	dctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { s.Dispatch(dctx, nil); close(done) }()
	// Far less than the hour a second pass would otherwise wait for.
	deadline := time.Now().Add(time.Minute)
	for len(got()) < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	<-done
	if len(got()) != n {
		t.Fatalf("%d of %d events delivered before the next tick", len(got()), n)
	}
}
