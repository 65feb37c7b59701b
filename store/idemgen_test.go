package store

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// smallGenerations seals a generation every n keys for the rest of the test (a package
// setting: the tests of this package do not run in parallel).
func smallGenerations(t *testing.T, n int) {
	was := idemGenMin
	idemGenMin = n
	t.Cleanup(func() { idemGenMin = was })
}

// idempotencyLayout counts a bbolt ledger's idempotency records where they lie.
func idempotencyLayout(t *testing.T, db *DB) (legacy, sealed, active int, gens map[string]int) {
	t.Helper()
	gens = map[string]int{}
	db.View(bg, func(tx *Tx) error {
		return tx.ForEach(BucketIdempotency, "", false, func(k string, _ []byte) error {
			switch {
			case strings.HasPrefix(k, idemActive):
				active++
			case strings.HasPrefix(k, "~"):
				sealed++
				gens[k[:idemGenDigits+1]]++
			default:
				legacy++
			}
			return nil
		})
	})
	return legacy, sealed, active, gens
}

// paramsHash is the hash that Idempotent stores for op and params.
func paramsHash(op string, params any) string {
	sum, _ := paramsSum(op, params)
	return hex.EncodeToString(sum[:16])
}

func runKeyed(t *testing.T, db *DB, key, params string) (result string, replayed bool, err error) {
	t.Helper()
	err = db.Batch(bg, func(tx *Tx) error {
		var err error
		result, replayed, err = Idempotent(tx, key, "test.op", params, func() (string, error) { return "result of " + key + " " + params, nil })
		return err
	})
	return result, replayed, err
}

// Keys go to the active generation, which moves whole to a sealed one when full; a
// retry finds its first result in any generation, with the same parameters or not.
func TestIdempotencyRecordsKeepTheirResultAcrossGenerations(t *testing.T) {
	smallGenerations(t, 8)
	path := filepath.Join(t.TempDir(), "l.db")
	db := openAt(t, path)
	const n = 300
	for i := range n {
		if _, replayed, err := runKeyed(t, db, fmt.Sprintf("k%03d", i), "a"); err != nil || replayed {
			t.Fatalf("key %d: replayed %v, %v", i, replayed, err)
		}
	}
	legacy, sealed, active, gens := idempotencyLayout(t, db)
	if legacy != 0 || active == 0 || active > 8 || sealed+active != n {
		t.Errorf("%d records from before, %d sealed, %d active; want 0, %d, 1 to 8", legacy, sealed, active, n-active)
	}
	if len(gens) < n/16 {
		t.Errorf("%d sealed generations, want at least %d", len(gens), n/16)
	}
	check := func(db *DB) {
		t.Helper()
		for i := range n {
			key := fmt.Sprintf("k%03d", i)
			got, replayed, err := runKeyed(t, db, key, "a")
			if err != nil || !replayed || got != "result of "+key+" a" {
				t.Fatalf("retry of %s: %q, replayed %v, %v", key, got, replayed, err)
			}
			_, _, err = runKeyed(t, db, key, "b")
			wantError(t, err, KindConflict, "idempotency_key_reused")
		}
	}
	check(db)
	db.Close()
	check(openAt(t, path))
}

// A ledger written before generations (schema version 2) is marked 3 when opened for
// writing, so that the tagpay before refuses it; its records stay where they are, and
// retries find them.
func TestIdempotencyRecordsFromBeforeGenerationsAreFound(t *testing.T) {
	smallGenerations(t, 4)
	path := filepath.Join(t.TempDir(), "l.db")
	db := openAt(t, path)
	err := db.Update(bg, func(tx *Tx) error {
		for i := range 10 {
			rec := IdempotencyRecord{Op: "test.op", Hash: paramsHash("test.op", "a"), Result: []byte(fmt.Sprintf(`"before %d"`, i)), CreatedAt: tx.Now()}
			if err := tx.Put(BucketIdempotency, fmt.Sprintf("%s/old%d", LocalActor.ID, i), rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	setSchemaVersion(t, path, 2)
	db = openAt(t, path)
	db.View(bg, func(tx *Tx) error {
		if v := tx.GetRaw(BucketMeta, string(metaSchema)); !bytes.Equal(v, []byte{0, 0, 0, 3}) {
			t.Errorf("schema version after opening for writing: %x, want 3", v)
		}
		return nil
	})
	for i := range 20 {
		runKeyed(t, db, fmt.Sprintf("new%d", i), "a")
	}
	for i := range 10 {
		got, replayed, err := runKeyed(t, db, fmt.Sprintf("old%d", i), "a")
		if err != nil || !replayed || got != fmt.Sprintf("before %d", i) {
			t.Errorf("retry of old%d: %q, replayed %v, %v", i, got, replayed, err)
		}
	}
	if legacy, sealed, _, _ := idempotencyLayout(t, db); legacy != 10 || sealed == 0 {
		t.Errorf("%d records where they were and %d sealed, want 10 and some", legacy, sealed)
	}
}

// A key used again past its time gets a new record in the active generation, which a
// retry finds before the expired one; pruning removes the expired one only.
func TestAKeyUsedAgainPastItsTimeReplaysItsNewResult(t *testing.T) {
	smallGenerations(t, 4)
	db, err := Open(filepath.Join(t.TempDir(), "l.db"), Options{NoSync: true, IdempotencyTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	runKeyed(t, db, "reused", "a")
	for i := range 12 {
		runKeyed(t, db, fmt.Sprintf("filler%d", i), "a")
	}
	// Age every record past the TTL, as two hours would.
	err = db.Update(bg, func(tx *Tx) error {
		aged := map[string]IdempotencyRecord{}
		err := Each(tx, BucketIdempotency, "", false, func(k string, rec IdempotencyRecord) error {
			rec.CreatedAt = rec.CreatedAt.Add(-2 * time.Hour)
			aged[k] = rec
			return nil
		})
		for k, rec := range aged {
			if err := tx.Put(BucketIdempotency, k, rec); err != nil {
				return err
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, replayed, err := runKeyed(t, db, "reused", "b"); err != nil || replayed {
		t.Fatalf("the expired key used again: replayed %v, %v", replayed, err)
	}
	got, replayed, err := runKeyed(t, db, "reused", "b")
	if err != nil || !replayed || got != "result of reused b" {
		t.Fatalf("retry: %q, replayed %v, %v; want the new result", got, replayed, err)
	}
	if n, err := db.PruneIdempotency(bg); err != nil || n != 13 {
		t.Fatalf("pruned %d, %v; want the 13 expired records", n, err)
	}
	if got, replayed, err := runKeyed(t, db, "reused", "b"); err != nil || !replayed || got != "result of reused b" {
		t.Errorf("retry after pruning: %q, replayed %v, %v", got, replayed, err)
	}
}

// A copy takes every record out of its generation, and the copy replays them all.
func TestACopyReplaysRecordsOfEveryGeneration(t *testing.T) {
	smallGenerations(t, 4)
	src := openLedger(t)
	for i := range 30 {
		runKeyed(t, src, fmt.Sprintf("k%d", i), "a")
	}
	for _, e := range []testEngine{boltEngineT, pgEngineT} {
		t.Run(e.name, func(t *testing.T) {
			dst := e.open(t)
			stats, err := Copy(bg, src, dst)
			if err != nil || stats.Buckets[BucketIdempotency] != 30 {
				t.Fatalf("copied %v, %v; want 30 idempotency records", stats, err)
			}
			for i := range 30 {
				key := fmt.Sprintf("k%d", i)
				if got, replayed, err := runKeyed(t, dst, key, "a"); err != nil || !replayed || got != "result of "+key+" a" {
					t.Errorf("retry of %s on the copy: %q, replayed %v, %v", key, got, replayed, err)
				}
			}
			verifyClean(t, dst)
		})
	}
}

// A damaged record of the generations is refused; a damaged filter only costs reads.
// Verify reports both, and a filter that lost keys.
func TestDamagedIdempotencyGenerations(t *testing.T) {
	smallGenerations(t, 4)
	db := openLedger(t)
	for i := range 20 {
		runKeyed(t, db, fmt.Sprintf("k%d", i), "a")
	}
	damage := func(b Bucket, key []byte, v []byte) {
		err := db.Update(bg, func(tx *Tx) error { return tx.etx.(boltTx).putRaw(b, key, v) })
		if err != nil {
			t.Fatal(err)
		}
	}
	verifyClean(t, db)
	damage(bucketIdemFilter, filterKey, []byte("not a filter"))
	wantViolation(t, db, "the filter over the sealed idempotency generations is damaged")
	for i := range 20 {
		if _, replayed, err := runKeyed(t, db, fmt.Sprintf("k%d", i), "a"); err != nil || !replayed {
			t.Fatalf("k%d with a damaged filter: replayed %v, %v", i, replayed, err)
		}
	}
	for i := range 10 { // seals again, and builds the filter anew
		runKeyed(t, db, fmt.Sprintf("more%d", i), "a")
	}
	verifyClean(t, db)
	// A filter that lost its bits would let a retry run again: verify says so.
	err := db.Update(bg, func(tx *Tx) error {
		bt := tx.etx.(boltTx)
		f := bytes.Clone(bt.filter())
		clear(f[filterHeader:])
		return bt.putRaw(bucketIdemFilter, filterKey, f)
	})
	if err != nil {
		t.Fatal(err)
	}
	wantViolation(t, db, "sealed idempotency records are not in the filter")
	damage(BucketMeta, metaIdemGens, []byte{1, 2, 3})
	_, _, err = runKeyed(t, db, "k1", "a")
	wantError(t, err, KindCorrupt, "ledger_corrupt")
	wantViolation(t, db, "record of its idempotency generations is damaged")
}

// wantViolation fails unless verify reports exactly one violation, which says want.
func wantViolation(t *testing.T, db *DB, want string) {
	t.Helper()
	var vs []Violation
	err := db.View(bg, func(tx *Tx) (err error) {
		vs, err = VerifyLedger(tx)
		return err
	})
	if err != nil || len(vs) != 1 || !strings.Contains(vs[0].Message, want) {
		t.Errorf("verify: %v, %v; want one violation saying %q", vs, err, want)
	}
}

// The filter holds every key added, and answers "maybe" for few others, even full.
func TestFilterHoldsItsKeysAndFewOthers(t *testing.T) {
	const n = 65536 // as many as it is sized for: the most it answers "maybe" for others
	f := newFilter(n)
	key := func() []byte {
		k := make([]byte, 35)
		rand.Read(k)
		return k
	}
	added := make([][]byte, n)
	for i := range added {
		added[i] = key()
		filterAdd(f, added[i])
	}
	for _, k := range added {
		if !filterMayHold(f, k) {
			t.Fatalf("the filter lost key %x", k)
		}
	}
	if got, _ := filterCounts(f); got != n {
		t.Errorf("the filter counts %d keys, want %d", got, n)
	}
	maybe := 0
	for range 100000 {
		if filterMayHold(f, key()) {
			maybe++
		}
	}
	t.Logf("%d of 100000 absent keys may be held", maybe)
	if maybe > 500 {
		t.Errorf("%d of 100000 absent keys may be held; want at most 0.5 %%", maybe)
	}
}

// FuzzIdempotencyFilter: a filter read from a damaged ledger file never panics a lookup.
func FuzzIdempotencyFilter(f *testing.F) {
	sound := newFilter(64)
	filterAdd(sound, []byte("local/k"))
	f.Add(sound, []byte("local/k"))
	f.Add([]byte{1}, []byte("x"))
	f.Fuzz(func(t *testing.T, filter, key []byte) {
		// The fuzzer may hand over key inside filter; a seal never does.
		filter, key = bytes.Clone(filter), bytes.Clone(key)
		if filterSound(filter) {
			filterAdd(filter, key)
			if !filterMayHold(filter, key) {
				t.Fatal("a key added is not held")
			}
		}
		filterMayHold(filter, key)
		filterCounts(filter)
	})
}

// BenchmarkSeal times the write that seals a full active generation of 16,384 keys, with
// its commit: moving the records, and adding their keys to the filter (sealed=0) or
// building the filter again over every sealed key (rebuild, sealed=262144).
func BenchmarkSeal(b *testing.B) {
	for _, c := range []struct {
		name    string
		sealed  int
		rebuild bool
	}{{"sealed=0", 0, false}, {"rebuild,sealed=262144", 262144, true}} {
		b.Run(c.name, func(b *testing.B) {
			db := openAt(b, filepath.Join(b.TempDir(), "l.db"))
			n := 0
			fill := func(keys int) {
				err := db.Update(bg, func(tx *Tx) error {
					for range keys {
						n++
						if _, _, err := Idempotent(tx, fmt.Sprintf("k%d", n), "test.op", "a", func() (int, error) { return n, nil }); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			fill(c.sealed + idemGenMin) // the active generation is full
			for b.Loop() {
				b.StopTimer()
				if c.rebuild {
					db.Update(bg, func(tx *Tx) error {
						bt := tx.etx.(boltTx)
						f := bytes.Clone(bt.filter())
						copy(f[1:9], f[9:17]) // as full as it is sized for
						return bt.putRaw(bucketIdemFilter, filterKey, f)
					})
				}
				b.StartTimer()
				fill(1) // seals
				b.StopTimer()
				fill(idemGenMin - 1)
				b.StartTimer()
			}
		})
	}
}
