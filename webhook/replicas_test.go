package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tagpay/tagpay/events"
	"github.com/tagpay/tagpay/store"
	"github.com/tagpay/tagpay/store/storetest"
)

// TestReplicasDeliverEachEventOnce: two servers on one PostgreSQL ledger dispatch the
// same outbox at once; the leases let one of them deliver each event, once.
func TestReplicasDeliverEachEventOnce(t *testing.T) {
	db, err := store.Open(storetest.PGTarget(t), store.Options{NoSync: true, KeysPath: filepath.Join(t.TempDir(), "keys.json")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mu sync.Mutex
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get("Tagpay-Event-Id")]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	a := New(db, Options{Replica: "a", Poll: 5 * time.Millisecond})
	b := New(db, Options{Replica: "b", Poll: 5 * time.Millisecond})
	if _, err := a.CreateWebhook(context.Background(), CreateRequest{URL: srv.URL, Events: "*"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, s := range []*Service{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); s.Dispatch(ctx, nil) }()
	}
	const n = 30
	for range n {
		emit(t, db, events.AccountFunded, "acct_a")
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		done := len(got) == n
		mu.Unlock()
		if done {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // room for a second delivery, if one were coming
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != n {
		t.Fatalf("%d of %d events delivered", len(got), n)
	}
	for id, c := range got {
		if c != 1 {
			t.Errorf("event %s delivered %d times", id, c)
		}
	}
}
