// Package loadgen drives payments through a tagpay server for benchmarks: N concurrent
// clients each run the whole flow 1 (payment request, order, payment) over HTTP, until
// a count or a time limit is reached, and the run reports payments per second with the
// latency percentiles of one whole payment.
//
// It only talks to servers on the loopback interface, so that a benchmark can never be
// pointed at somebody else's server by mistake.
package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tagpay/tagpay/api"
	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

// Config bounds a run. Payments and Duration both bound it; the first reached ends it.
type Config struct {
	Server string // base URL of a tagpay server on a loopback address
	// Replicas are further servers of the same ledger (PostgreSQL replicas), also on
	// loopback addresses; client c talks to server c mod (1 + len(Replicas)).
	Replicas []string
	Token    string        // an admin key: the run makes its own accounts and tag
	Clients  int           // concurrent clients; 0 means 16
	Payments int           // payments to make in all; 0 means 1000
	Duration time.Duration // longest run; 0 means one minute
	// Progress, when set, is called after each payment with the number done so far,
	// from one goroutine at a time.
	Progress func(done int)
}

// Limits keep one run from becoming a denial of service of the machine it runs on.
const (
	MaxClients  = 256
	MaxPayments = 1_000_000
	MaxDuration = 10 * time.Minute
)

// Result is what a run measured.
type Result struct {
	Clients    int           `json:"clients"`
	Payments   int           `json:"payments"` // completed: paid orders
	Failed     int           `json:"failed"`   // flows that ended in an error
	Elapsed    time.Duration `json:"elapsed_ns"`
	PerSecond  float64       `json:"payments_per_second"`
	P50        time.Duration `json:"p50_ns"` // latency of one whole payment: parse, order, pay
	P99        time.Duration `json:"p99_ns"`
	Max        time.Duration `json:"max_ns"`
	FirstError string        `json:"first_error,omitempty"`
}

// amount is what each payment moves.
const amount = "1.00"

// Run sets up a merchant with a tag and one funded payer per client, then runs the
// clients until cfg's bounds or ctx end the run.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.check(); err != nil {
		return Result{}, err
	}
	transport := &http.Transport{MaxIdleConns: cfg.Clients, MaxIdleConnsPerHost: cfg.Clients}
	defer transport.CloseIdleConnections()
	hc := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	var bes []backend.Backend
	for _, server := range append([]string{cfg.Server}, cfg.Replicas...) {
		bes = append(bes, api.NewClient(server, cfg.Token, api.WithHTTPClient(hc), api.WithUserAgent("tagpay-loadgen")))
	}
	be := bes[0]

	run := randomHex(4)
	payers, tag, err := setup(ctx, be, cfg, run)
	if err != nil {
		return Result{}, err
	}

	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var (
		next    atomic.Int64 // payments claimed so far
		mu      sync.Mutex
		lat     = make([]time.Duration, 0, min(cfg.Payments, 1<<20))
		failed  int
		firstEr string
		wg      sync.WaitGroup
	)
	start := time.Now()
	for c := range cfg.Clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(cfg.Payments) {
					return
				}
				t0 := time.Now()
				err := pay(ctx, bes[c%len(bes)], tag, payers[c], fmt.Sprintf("lg-%s-%d", run, i))
				d := time.Since(t0)
				if err != nil && ctx.Err() != nil {
					return // the time limit cut this one off; it is not a failure
				}
				mu.Lock()
				if err != nil {
					failed++
					if firstEr == "" {
						firstEr = err.Error()
					}
				} else {
					lat = append(lat, d)
					if cfg.Progress != nil {
						cfg.Progress(len(lat))
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	res := Result{Clients: cfg.Clients, Payments: len(lat), Failed: failed, Elapsed: elapsed, FirstError: firstEr}
	if elapsed > 0 {
		res.PerSecond = float64(len(lat)) / elapsed.Seconds()
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		res.P50, res.P99, res.Max = percentile(lat, 50), percentile(lat, 99), lat[len(lat)-1]
	}
	return res, nil
}

func (cfg *Config) check() error {
	if cfg.Clients == 0 {
		cfg.Clients = 16
	}
	if cfg.Payments == 0 {
		cfg.Payments = 1000
	}
	if cfg.Duration == 0 {
		cfg.Duration = time.Minute
	}
	switch {
	case cfg.Clients < 1 || cfg.Clients > MaxClients:
		return store.Errorf(store.KindInvalid, "invalid_clients", "clients must be 1 to %d, not %d", MaxClients, cfg.Clients).WithParam("clients")
	case cfg.Payments < 1 || cfg.Payments > MaxPayments:
		return store.Errorf(store.KindInvalid, "invalid_count", "payments must be 1 to %d, not %d", MaxPayments, cfg.Payments).WithParam("count")
	case cfg.Duration < 0 || cfg.Duration > MaxDuration:
		return store.Errorf(store.KindInvalid, "invalid_duration", "duration must be up to %s, not %s", MaxDuration, cfg.Duration).WithParam("duration")
	}
	for _, server := range append([]string{cfg.Server}, cfg.Replicas...) {
		if err := checkLoopback(server); err != nil {
			return err
		}
	}
	return nil
}

// checkLoopback refuses a server that is not on this machine's loopback interface.
func checkLoopback(server string) error {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return store.Errorf(store.KindInvalid, "invalid_server_url", "server URL %q is not a URL", server).WithParam("server")
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return store.Errorf(store.KindInvalid, "not_loopback", "the load generator only drives servers on the loopback interface (127.0.0.1, ::1, localhost), not %s", host).WithParam("server")
}

// setup makes the run's merchant, its tag and one payer per client, funded for the
// whole run so that no payment is declined for want of money.
func setup(ctx context.Context, be backend.Backend, cfg Config, run string) ([]string, orders.Tag, error) {
	merchant, err := be.CreateAccount(ctx, store.CreateAccountRequest{Name: "loadgen merchant " + run, Kind: store.AccountMerchant, Currency: "EUR"})
	if err != nil {
		return nil, orders.Tag{}, fmt.Errorf("load generator setup: %w", err)
	}
	uid := "04" + strings.ToUpper(randomHex(6))
	tag, err := be.RegisterTag(ctx, orders.RegisterRequest{UID: uid, Merchant: merchant.ID, Label: "loadgen " + run})
	if err != nil {
		return nil, orders.Tag{}, fmt.Errorf("load generator setup: %w", err)
	}
	funds := fmt.Sprintf("%d.00", cfg.Payments)
	payers := make([]string, cfg.Clients)
	for i := range payers {
		p, err := be.CreateAccount(ctx, store.CreateAccountRequest{Name: fmt.Sprintf("loadgen payer %s-%d", run, i), Kind: store.AccountPerson, Currency: "EUR"})
		if err != nil {
			return nil, orders.Tag{}, fmt.Errorf("load generator setup: %w", err)
		}
		if _, err := be.FundAccount(ctx, store.FundRequest{Account: p.ID, Amount: funds}); err != nil {
			return nil, orders.Tag{}, fmt.Errorf("load generator setup: %w", err)
		}
		payers[i] = p.ID
	}
	return payers, tag, nil
}

// pay sends one whole tap under its idempotency key.
func pay(ctx context.Context, be backend.Backend, tag orders.Tag, payer, key string) error {
	if _, err := be.Tap(ctx, orders.TapRequest{UID: tag.UID, Content: tag.Content, Payer: payer, Amount: amount, IdempotencyKey: key}); err != nil {
		return fmt.Errorf("tap: %w", err)
	}
	return nil
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
