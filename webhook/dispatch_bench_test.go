package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagpay/tagpay/events"
	"github.com/tagpay/tagpay/store"
)

// BenchmarkDispatchBacklog drains a backlog of b.N events to one endpoint that answers
// at once, on a durable ledger, with the default options: the events/s a server
// delivers once it falls behind.
func BenchmarkDispatchBacklog(b *testing.B) {
	db, err := store.Open(filepath.Join(b.TempDir(), "ledger.db"), store.Options{KeysPath: filepath.Join(b.TempDir(), "keys.json")})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	s := New(db, Options{})
	ctx := context.Background()
	if _, err := s.CreateWebhook(ctx, CreateRequest{URL: srv.URL, Events: "*"}); err != nil {
		b.Fatal(err)
	}
	for left := b.N; left > 0; left -= 500 {
		err := db.Update(ctx, func(tx *store.Tx) error {
			for range min(left, 500) {
				if err := tx.Emit(events.AccountFunded, "acct_x", map[string]string{"id": "acct_x"}, "acct_x"); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	dctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { s.Dispatch(dctx, nil); close(done) }()
	for got.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	stop()
	<-done
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
