package orders

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tagpay/tagpay/store"
)

// BenchmarkTap measures whole taps (Service.Tap: payment request, order and payment in
// one durable transaction, as POST /v1/taps runs it) from one payer at a time and from
// 16 payers at once, whose transactions share commits through group commit.
func BenchmarkTap(b *testing.B) {
	for _, payers := range []int{1, 16} {
		b.Run(fmt.Sprintf("payers=%d", payers), func(b *testing.B) {
			f := openFixture(b, store.Options{}) // fsync on every commit
			tag, ids := tapWorld(f, payers, "1000000.00")
			var next atomic.Int64
			b.ResetTimer()
			if err := tapConcurrently(f, tag, ids, int64(b.N), &next, nil); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "taps/s")
		})
	}
}

// BenchmarkOrderPage reads one page of 20 orders from a ledger of 20,000 taps: the
// newest page and a page deep in the list (--after an order 15,000 back), unfiltered
// and by payer. Each page seeks to its cursor, so a deep page costs what the first does.
func BenchmarkOrderPage(b *testing.B) {
	f := openFixture(b, store.Options{NoSync: true})
	tag, payers := tapWorld(f, 4, "100000.00")
	var next atomic.Int64
	if err := tapConcurrently(f, tag, payers, 20000, &next, nil); err != nil {
		b.Fatal(err)
	}
	all, err := f.svc.ListOrders(f.ctx, OrderFilter{Payer: payers[0]})
	if err != nil {
		b.Fatal(err)
	}
	deep := all[len(all)*3/4].ID // about 15,000 orders back in the whole list
	for _, c := range []struct {
		name string
		f    OrderFilter
	}{
		{"newest", OrderFilter{Limit: 20}},
		{"deep", OrderFilter{Limit: 20, After: deep}},
		{"payer/newest", OrderFilter{Limit: 20, Payer: payers[0]}},
		{"payer/deep", OrderFilter{Limit: 20, Payer: payers[0], After: deep}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if page, err := f.svc.ListOrders(f.ctx, c.f); err != nil || len(page) != 20 {
					b.Fatalf("%d orders, %v", len(page), err)
				}
			}
		})
	}
}

// tapWorld makes a merchant with a tag and payers funded with funds each.
func tapWorld(f *fixture, payers int, funds string) (Tag, []string) {
	shop := f.account("Tap Shop", store.AccountMerchant, "EUR")
	tag := f.register(RegisterRequest{UID: "04BE0C4BE0C4BF", Merchant: shop.ID})
	ids := make([]string, payers)
	for i := range ids {
		ids[i] = f.person(fmt.Sprintf("payer %d", i), funds).ID
	}
	return tag, ids
}

// tapConcurrently runs taps numbered next+1 to n, one goroutine per payer, each with an
// idempotency key as a client sends it; done, when set, hears each finished tap.
func tapConcurrently(f *fixture, tag Tag, payers []string, n int64, next *atomic.Int64, done func(i int64)) error {
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for _, payer := range payers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > n || failed.Load() != nil {
					return
				}
				_, err := f.svc.Tap(f.ctx, TapRequest{UID: tag.UID, Content: tag.Content, Payer: payer, Amount: "1.23", IdempotencyKey: "bench-" + strconv.FormatInt(i, 36)})
				if err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				if done != nil {
					done(i)
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		return *err
	}
	return nil
}

// EnvGrowthTaps sets how many taps TestLedgerGrowth writes. Unset, the test is a short
// check of the bytes per tap (1000 taps, without fsync, so that it is quick in CI even
// under the race detector); set, it is the durable measurement (scripts/bench; the
// figures quoted for the project come from 200000).
const EnvGrowthTaps = "TAGPAY_GROWTH_TAPS"

// TestLedgerGrowth writes many taps into one bbolt ledger from 16 payers and reports
// the bytes each tap adds (pages in use, keys and values, the file) and the tap rate
// over the first and the last tenth of the run, so that the cost of a tap and any
// slow-down as the ledger grows are measured, not guessed. It fails when a tap costs
// far more than measured (3 KiB of keys and values, 8 KiB of pages) or, in a measured
// run of 20000 taps or more, the last tenth runs at less than half the rate of the
// first (shorter runs are too noisy on a shared machine to judge).
func TestLedgerGrowth(t *testing.T) {
	if engine.Name != "bbolt" {
		t.Skip("measures the bbolt file")
	}
	n, opts := int64(1000), store.Options{NoSync: true}
	if v := os.Getenv(EnvGrowthTaps); v != "" {
		opts = store.Options{}
		var err error
		if n, err = strconv.ParseInt(v, 10, 64); err != nil || n < 100 {
			t.Fatalf("%s=%q: want a number of taps, at least 100", EnvGrowthTaps, v)
		}
	}
	opts.KeysPath = filepath.Join(t.TempDir(), "keys.json")
	f := openFixture(t, opts)
	tag, payers := tapWorld(f, 16, fmt.Sprintf("%d.00", n*2))
	f.db.Close()
	usedBefore, recordsBefore, bucketsBefore := ledgerUse(t, f.db.Path())
	f = reopen(t, f, opts)

	tenth := n / 10
	var mu sync.Mutex
	marks := map[int64]time.Time{}
	mark := func(i int64) {
		if i == tenth || i == n-tenth || i == n {
			mu.Lock()
			marks[i] = time.Now()
			mu.Unlock()
		}
	}
	var next atomic.Int64
	start := time.Now()
	if err := tapConcurrently(f, tag, payers, n, &next, mark); err != nil {
		t.Fatal(err)
	}
	f.db.Close()
	size := fileSize(t, f.db.Path())
	used, records, buckets := ledgerUse(t, f.db.Path())
	var split []string
	for _, b := range slices.Sorted(maps.Keys(buckets)) {
		if d := buckets[b] - bucketsBefore[b]; d >= n {
			split = append(split, fmt.Sprintf("%s %d", b, d/n))
		}
	}
	perTap := float64(used-usedBefore) / float64(n)
	first := float64(tenth) / marks[tenth].Sub(start).Seconds()
	last := float64(tenth) / marks[n].Sub(marks[n-tenth]).Seconds()
	data := float64(records-recordsBefore) / float64(n)
	t.Logf("growth: %d taps; %.0f bytes/tap of pages in use (%d bytes), %.0f bytes/tap of keys and values (%s), file %d bytes (%.0f bytes/tap, with bbolt's preallocation and free pages); %.0f taps/s over the first tenth, %.0f taps/s over the last (%+.1f%%)",
		n, perTap, used, data, strings.Join(split, ", "), size, float64(size)/float64(n), first, last, (last/first-1)*100)
	// Bounds with room over what was measured, to catch a tap that starts writing much
	// more, not to restate the figures.
	if data > 3072 || perTap > 8192 {
		t.Errorf("a tap costs %.0f bytes of keys and values and %.0f bytes of pages; want at most 3 KiB and 8 KiB", data, perTap)
	}
	if n >= 20000 && last < first/2 {
		t.Errorf("the last tenth ran at %.0f taps/s, less than half the first tenth's %.0f", last, first)
	}
}

// reopen opens the fixture's ledger file again, after a measurement closed it.
func reopen(t *testing.T, f *fixture, opts store.Options) *fixture {
	t.Helper()
	db, err := store.Open(f.db.Path(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	g := *f
	g.db, g.svc = db, New(db, Config{BaseURL: "https://pay.test", ReplyTTL: time.Minute, Now: f.clock.Now})
	return &g
}

// ledgerUse reads a closed bbolt ledger: the bytes of its pages in use (the high-water
// mark less free and pending pages) and the bytes of all its keys and values.
func ledgerUse(t *testing.T, path string) (used, records int64, buckets map[string]int64) {
	t.Helper()
	buckets = map[string]int64{}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		st := db.Stats()
		used = tx.Size() - int64(st.FreePageN+st.PendingPageN)*int64(db.Info().PageSize)
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				records += int64(len(k) + len(v))
				buckets[string(name)] += int64(len(k) + len(v))
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return used, records, buckets
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
