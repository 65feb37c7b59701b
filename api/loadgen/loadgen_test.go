package loadgen

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tagpay/tagpay/api"
	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

// server starts tagpay serve on a free loopback port over a fresh ledger and returns its
// URL, an admin key and the ledger.
func server(tb testing.TB, opts store.Options) (string, string, *backend.Local) {
	tb.Helper()
	opts.KeysPath = filepath.Join(tb.TempDir(), "keys.json")
	local, err := backend.OpenLocal(filepath.Join(tb.TempDir(), "ledger.db"), backend.LocalOptions{Store: opts})
	if err != nil {
		tb.Fatal(err)
	}
	key, err := local.CreateKey(context.Background(), store.CreateKeyRequest{Role: store.RoleAdmin})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- api.Serve(ctx, local, api.ServeConfig{Addr: "127.0.0.1:0", Ready: func(u string) { ready <- u }})
	}()
	tb.Cleanup(func() {
		stop()
		<-done
		local.Close()
	})
	select {
	case u := <-ready:
		return u, key.Secret, local
	case err := <-done:
		tb.Fatal(err)
	}
	return "", "", nil
}

func TestRunPaysExactlyTheCount(t *testing.T) {
	url, token, local := server(t, store.Options{})
	var progress int
	res, err := Run(context.Background(), Config{
		Server: url, Token: token, Clients: 4, Payments: 25, Duration: time.Minute,
		Progress: func(done int) { progress = max(progress, done) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Payments != 25 || res.Failed != 0 || progress != 25 {
		t.Fatalf("result %+v, progress %d; want 25 payments and no failure", res, progress)
	}
	if !(res.P50 > 0 && res.P50 <= res.P99 && res.P99 <= res.Max) || res.PerSecond <= 0 {
		t.Fatalf("latencies p50 %s p99 %s max %s, rate %.1f/s are inconsistent", res.P50, res.P99, res.Max, res.PerSecond)
	}
	ctx := context.Background()
	paid, err := local.ListOrders(ctx, orders.OrderFilter{Status: orders.OrderPaid})
	if err != nil {
		t.Fatal(err)
	}
	if len(paid) != 25 {
		t.Fatalf("%d paid orders in the ledger, want 25", len(paid))
	}
	v, err := local.Verify(ctx)
	if err != nil || len(v) != 0 {
		t.Fatalf("ledger verify after the run: %v %v", v, err)
	}
}

func TestRunRefuses(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		code string
	}{
		{"a server elsewhere", Config{Server: "http://192.0.2.1:7433"}, "not_loopback"},
		{"a named host", Config{Server: "https://tagpay.example"}, "not_loopback"},
		{"no URL", Config{Server: "::"}, "invalid_server_url"},
		{"too many clients", Config{Server: "http://127.0.0.1:1", Clients: MaxClients + 1}, "invalid_clients"},
		{"too many payments", Config{Server: "http://127.0.0.1:1", Payments: MaxPayments + 1}, "invalid_count"},
		{"too long", Config{Server: "http://[::1]:1", Duration: MaxDuration + time.Second}, "invalid_duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), tt.cfg)
			if store.CodeOf(err) != tt.code {
				t.Fatalf("Run: %v, want code %s", err, tt.code)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for _, tt := range []struct{ p, want int }{{50, 50}, {99, 99}, {100, 100}, {1, 1}} {
		if got := percentile(d, tt.p); got != time.Duration(tt.want) {
			t.Errorf("p%d of 1..100 = %d, want %d", tt.p, got, tt.want)
		}
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("p99 of one value = %d", got)
	}
}

// BenchmarkPaymentsOverHTTP measures whole payments (payment request, order, payment)
// through a real server on loopback with 16 concurrent clients and a durable ledger.
func BenchmarkPaymentsOverHTTP(b *testing.B) {
	url, token, _ := server(b, store.Options{})
	b.ResetTimer()
	res, err := Run(context.Background(), Config{Server: url, Token: token, Clients: 16, Payments: b.N, Duration: MaxDuration})
	if err != nil {
		b.Fatal(err)
	}
	if res.Failed > 0 {
		b.Fatalf("%d payments failed: %s", res.Failed, res.FirstError)
	}
	b.ReportMetric(res.PerSecond, "payments/s")
	b.ReportMetric(float64(res.P50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(res.P99.Microseconds())/1000, "p99-ms")
}
