package store

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestNewIDShape(t *testing.T) {
	for _, prefix := range []string{PrefixAccount, PrefixTransfer, PrefixOrder, PrefixToken} {
		id := NewID(prefix)
		if !strings.HasPrefix(id, prefix+"_") || len(id) != len(prefix)+1+26 {
			t.Errorf("NewID(%q) = %q, want %s_ and 26 characters", prefix, id, prefix)
		}
		if !ValidID(id, prefix) {
			t.Errorf("ValidID(%q, %q) = false for a fresh id", id, prefix)
		}
	}
}

// Ids made in a tight loop, many within one millisecond, must still sort by creation:
// bbolt keys are ids, and "newest first" walks them backwards.
func TestNewIDSortsByCreation(t *testing.T) {
	const n = 20000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = NewID(PrefixTransfer)
	}
	if !slices.IsSorted(ids) {
		for i := 1; i < n; i++ {
			if ids[i] <= ids[i-1] {
				t.Fatalf("id %d %s sorts before id %d %s", i, ids[i], i-1, ids[i-1])
			}
		}
	}
	if len(slices.Compact(slices.Clone(ids))) != n {
		t.Fatal("duplicate ids")
	}
}

func TestNewIDUniqueAcrossGoroutines(t *testing.T) {
	const workers, each = 8, 2000
	var mu sync.Mutex
	seen := make(map[string]bool, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			local := make([]string, each)
			for i := range local {
				local[i] = NewID(PrefixEvent)
			}
			if !slices.IsSorted(local) {
				t.Error("ids of one goroutine are not in creation order")
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range local {
				if seen[id] {
					t.Errorf("duplicate id %s", id)
				}
				seen[id] = true
			}
		})
	}
	wg.Wait()
}

func TestValidID(t *testing.T) {
	good := NewID(PrefixAccount)
	tests := []struct {
		id, prefix string
		want       bool
	}{
		{good, PrefixAccount, true},
		{good, PrefixOrder, false},
		{"acct_" + strings.Repeat("0", 26), PrefixAccount, true},
		{"acct_../../x", PrefixAccount, false},
		{"acct_../../" + strings.Repeat("0", 21), PrefixAccount, false},
		{"acct_" + strings.Repeat("0", 25) + "/", PrefixAccount, false},
		{"acct_" + strings.Repeat("0", 25) + "\x00", PrefixAccount, false},
		{"acct_" + strings.Repeat("0", 25) + "\n", PrefixAccount, false},
		{"acct_" + strings.Repeat("0", 25), PrefixAccount, false},
		{"acct_" + strings.Repeat("0", 27), PrefixAccount, false},
		{"acct_" + strings.ToUpper(good[5:]), PrefixAccount, false},
		{"acct_" + strings.Repeat("u", 26), PrefixAccount, false}, // not in Crockford's alphabet
		{"acct" + good[4:], "acc", false},
		{good[5:], PrefixAccount, false},
		{"", PrefixAccount, false},
		{"acct_", PrefixAccount, false},
	}
	for _, tt := range tests {
		if got := ValidID(tt.id, tt.prefix); got != tt.want {
			t.Errorf("ValidID(%q, %q) = %v, want %v", tt.id, tt.prefix, got, tt.want)
		}
	}
}

func TestCanonicalIDReadsAnyCase(t *testing.T) {
	id := NewID(PrefixOrder)
	for _, in := range []string{id, strings.ToUpper(id), "Ord_" + strings.ToUpper(id[4:])} {
		if got := CanonicalID(in); got != id {
			t.Errorf("CanonicalID(%q) = %q, want %q", in, got, id)
		}
	}
	// Crockford base32 reads I and L as 1 and O as 0.
	if got := CanonicalID("acct_0IL0000000000000000000000O"); got != "acct_01100000000000000000000000" {
		t.Errorf("CanonicalID with I, L, O = %q", got)
	}
	// What is not an id of the ledger comes back as it was.
	for _, s := range []string{"", "Alice", "ACCT_SHORT", "WHO_01M8ACCYGB000C3XJA3CCTY1Q1", "acct_01m8accygb000c3xja3ccty1q!", "Top-Up"} {
		if got := CanonicalID(s); got != s {
			t.Errorf("CanonicalID(%q) = %q, want it unchanged", s, got)
		}
	}
}

// A transaction's first id of each prefix shares one body, so that a tap's records name
// each other in a few bytes; a second id of a prefix is a new one, and the next
// transaction's body is new and sorts after.
func TestATransactionsFirstIDsShareOneBody(t *testing.T) {
	db := openLedger(t)
	var first, second []string
	for _, ids := range []*[]string{&first, &second} {
		err := db.Update(context.Background(), func(tx *Tx) error {
			*ids = nil
			for _, p := range []string{PrefixReply, PrefixOrder, PrefixTransfer, PrefixEvent, PrefixEvent} {
				*ids = append(*ids, tx.NewID(p))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	body := func(id string) string { return id[strings.IndexByte(id, '_')+1:] }
	for i, id := range first {
		if !ValidID(id, id[:strings.IndexByte(id, '_')]) {
			t.Errorf("%s is not a valid id", id)
		}
		if shared := body(id) == body(first[0]); shared != (i < 4) {
			t.Errorf("id %d, %s, shares the body of %s: %v", i, id, first[0], shared)
		}
	}
	if body(second[0]) <= body(first[4]) {
		t.Errorf("the next transaction's body %s does not sort after %s", second[0], first[4])
	}
}
