package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
)

// On a bbolt ledger, idempotency records live in generations. Clients make their keys
// at random (UUIDs), so in one tree of every record each new key would land in a leaf of
// its own, and a checkpoint would write about one page per tap once the ledger is large.
// New keys go to a small active generation instead; when it is full, its records move,
// in key order, to a sealed generation of their own, which is never written again, and
// a Bloom filter over every sealed key spares most lookups a read of each generation.
//
// Keys in the idempotency bucket:
//
//	actor/key            written before generations, and by Copy: read last
//	~<gen>:actor/key     a sealed generation (gen: idemGenDigits base32 digits)
//	~~:actor/key         the active generation
//
// The meta bucket holds the active generation's number and size (metaIdemGens). The
// filter has a bucket of its own (bucketIdemFilter): bbolt rewrites a leaf whole at any
// change to it, and the meta bucket changes with every tap and every checkpoint. Both
// are in the ledger, so a rolled-back transaction takes them back with the rest.
const (
	idemActive    = "~~:"
	idemGenDigits = 6
)

var (
	metaIdemGens = []byte("idem_gens")
	filterKey    = []byte("filter")
)

// bucketIdemFilter holds the filter, on bbolt only; it is made with the file, or when a
// file from before generations is first opened for writing.
const bucketIdemFilter Bucket = "idempotency_filter"

// filter is the filter as the ledger holds it, or nil.
func (t boltTx) filter() []byte {
	if b := t.btx.Bucket([]byte(bucketIdemFilter)); b != nil {
		return b.Get(filterKey)
	}
	return nil
}

// idemGenMin is the fewest keys a generation holds before it is sealed; a ledger with
// many records seals bigger ones (idemGenSize), so that rewriting the filter, which
// grows with the records, costs the same per key.
var idemGenMin = 16384

func idemGenSize(sealed uint64) uint64 { return max(uint64(idemGenMin), sealed/64) }

// idemState is the active generation's number and keys, and about how many keys the
// sealed ones hold (counted at the last build of the filter, and since).
type idemState struct{ gen, keys, sealed uint64 }

func (t boltTx) idemState() (idemState, error) {
	v := t.bucket(BucketMeta).Get(metaIdemGens)
	if v == nil {
		return idemState{}, nil
	}
	if len(v) != 24 {
		return idemState{}, Errorf(KindCorrupt, "ledger_corrupt", "the ledger's record of its idempotency generations is damaged")
	}
	return idemState{binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:]), binary.BigEndian.Uint64(v[16:])}, nil
}

func (t boltTx) putIdemState(s idemState) error {
	v := binary.BigEndian.AppendUint64(nil, s.gen)
	v = binary.BigEndian.AppendUint64(v, s.keys)
	return t.putRaw(BucketMeta, metaIdemGens, binary.BigEndian.AppendUint64(v, s.sealed))
}

// sealedPrefix is the key prefix of generation gen, as the bucket holds it.
func sealedPrefix(gen uint64) []byte {
	p := make([]byte, 0, idemGenDigits+2)
	p = append(p, '~')
	for i := idemGenDigits - 1; i >= 0; i-- {
		p = append(p, idAlphabet[gen>>(5*i)&31])
	}
	return append(p, ':')
}

// idempotencyKey is the key under which slot's record is read: in the active
// generation, in a sealed one, or where a record from before generations is.
func (t boltTx) idempotencyKey(slot string) (string, error) {
	b := t.bucket(BucketIdempotency)
	raw := t.key(BucketIdempotency, slot)
	if b.Get(append([]byte(idemActive), raw...)) != nil {
		return idemActive + slot, nil
	}
	st, err := t.idemState()
	if err != nil {
		return "", err
	}
	if st.gen > 0 && filterMayHold(t.filter(), raw) {
		oldest, _ := b.Cursor().Seek([]byte{'~'})
		if low, ok := sealedGen(oldest); ok {
			// The newest generation first: a key used again past its time is in a newer
			// one.
			for g := st.gen; g > low; g-- {
				if k := append(sealedPrefix(g-1), raw...); b.Get(k) != nil {
					return string(sealedPrefix(g-1)) + slot, nil
				}
			}
		}
	}
	return slot, nil // written before generations, or not at all
}

// newIdempotencyKey is the key of slot's new record, in the active generation, where
// idempotencyKey answered at. A key new to the active generation is counted into it,
// and seals it first when it is full.
func (t boltTx) newIdempotencyKey(slot, at string) (string, error) {
	if strings.HasPrefix(at, idemActive) {
		return at, nil // a record past its time, written over
	}
	st, err := t.idemState()
	if err != nil {
		return "", err
	}
	if st.keys >= idemGenSize(st.sealed) {
		if st, err = t.seal(st); err != nil {
			return "", err
		}
	}
	st.keys++
	return idemActive + slot, t.putIdemState(st)
}

// idempotencyProblems reports what would make a retry run again, or read more than it
// should: a damaged record of the generations, a damaged filter, a sealed key that the
// filter does not hold.
func idempotencyProblems(t boltTx, path string) []Violation {
	st, err := t.idemState()
	if err != nil {
		return []Violation{{Check: "idempotency", Subject: path, Message: err.Error()}}
	}
	if st.gen == 0 {
		return nil
	}
	f := t.filter()
	if !filterSound(f) {
		return []Violation{{Check: "idempotency", Subject: path, Message: "the filter over the sealed idempotency generations is damaged: lookups read every generation until the next seal builds it again"}}
	}
	missing := 0
	c := t.bucket(BucketIdempotency).Cursor()
	active := []byte(idemActive)
	for k, _ := c.Seek([]byte{'~'}); k != nil && !bytes.HasPrefix(k, active); k, _ = c.Next() {
		if _, ok := sealedGen(k); ok && !filterMayHold(f, k[idemGenDigits+2:]) {
			missing++
		}
	}
	if missing > 0 {
		return []Violation{{Check: "idempotency", Subject: path, Message: fmt.Sprintf("%d sealed idempotency records are not in the filter: a retry of one of their keys would run again", missing)}}
	}
	return nil
}

// idempotencySlot is the actor/key of a key of the idempotency bucket, whichever
// generation holds it.
func idempotencySlot(key string) string {
	if rest, ok := strings.CutPrefix(key, idemActive); ok {
		return rest
	}
	if _, ok := sealedGen([]byte(key)); ok {
		return key[idemGenDigits+2:]
	}
	return key
}

// sealedGen is the generation of a sealed key.
func sealedGen(k []byte) (uint64, bool) {
	if len(k) < idemGenDigits+2 || k[0] != '~' || k[idemGenDigits+1] != ':' {
		return 0, false
	}
	var g uint64
	for _, c := range k[1 : idemGenDigits+1] {
		i := strings.IndexByte(idAlphabet, c)
		if i < 0 {
			return 0, false
		}
		g = g<<5 | uint64(i)
	}
	return g, true
}

// seal moves the active generation's records to generation st.gen, in key order, so
// that they fill their pages whole, and adds their keys to the filter.
func (t boltTx) seal(st idemState) (idemState, error) {
	b := t.bucket(BucketIdempotency)
	// bbolt splits the pages of this transaction at half a page by default: the sealed
	// generation, written in order, would keep them half empty.
	b.FillPercent = 1
	size := min(st.keys, 1<<20) // a count, not a length: the ledger may be damaged
	keys, vals := make([][]byte, 0, size), make([][]byte, 0, size)
	c := b.Cursor()
	active := []byte(idemActive)
	for k, v := c.Seek(active); k != nil && bytes.HasPrefix(k, active); k, v = c.Next() {
		keys, vals = append(keys, bytes.Clone(k)), append(vals, bytes.Clone(v))
	}
	prefix := sealedPrefix(st.gen)
	filter := t.filter()
	added, capacity := filterCounts(filter)
	sealed := st.sealed
	if added+uint64(len(keys)) > capacity {
		// Build the filter again for what is left of the sealed generations: pruned keys
		// leave it, and its size follows the records.
		var live [][]byte
		for k, _ := c.Seek([]byte{'~'}); k != nil && !bytes.HasPrefix(k, active); k, _ = c.Next() {
			if _, ok := sealedGen(k); ok {
				live = append(live, k[idemGenDigits+2:])
			}
		}
		filter, sealed = newFilter(uint64(len(live)+len(keys))*2), uint64(len(live))
		for _, k := range live {
			filterAdd(filter, k)
		}
	} else {
		filter = bytes.Clone(filter)
	}
	// Deletes first: bbolt splits a node only at commit, so the sealed keys, each put
	// before the active ones in the same node, would move all of them along.
	for _, k := range keys {
		if err := t.delRaw(BucketIdempotency, k); err != nil {
			return st, err
		}
	}
	for i, k := range keys {
		slot := k[len(idemActive):]
		filterAdd(filter, slot)
		if err := t.putRaw(BucketIdempotency, append(bytes.Clone(prefix), slot...), vals[i]); err != nil {
			return st, err
		}
	}
	if err := t.putRaw(bucketIdemFilter, filterKey, filter); err != nil {
		return st, err
	}
	return idemState{gen: st.gen + 1, sealed: sealed + uint64(len(keys))}, nil
}

// The filter is a blocked Bloom filter: a header (a version, the keys added, the keys it
// is sized for), then 64-byte blocks; a key sets filterProbes bits of one block. At 16
// bits a key, full, it answers "maybe" for about one absent key in a thousand.
const (
	filterHeader  = 17
	filterBlock   = 64
	filterProbes  = 7
	filterKeyBits = 16
)

func newFilter(capacity uint64) []byte {
	capacity = max(capacity, uint64(4*idemGenMin))
	blocks := uint64(1) << bits.Len64(max(1, capacity*filterKeyBits/(8*filterBlock))-1)
	f := make([]byte, filterHeader+blocks*filterBlock)
	f[0] = 1
	binary.BigEndian.PutUint64(f[9:], capacity)
	return f
}

// filterCounts returns the keys added to f and the keys it is sized for; a missing or
// damaged filter holds nothing and has room for nothing, so the next seal builds it.
func filterCounts(f []byte) (added, capacity uint64) {
	if !filterSound(f) {
		return 0, 0
	}
	return binary.BigEndian.Uint64(f[1:]), binary.BigEndian.Uint64(f[9:])
}

func filterSound(f []byte) bool {
	n := len(f) - filterHeader
	return n >= filterBlock && f[0] == 1 && n%filterBlock == 0 && (n/filterBlock)&(n/filterBlock-1) == 0
}

// filterMayHold reports whether key may have been added to f. A damaged filter may hold
// anything: lookups then read every generation.
func filterMayHold(f, key []byte) bool {
	if !filterSound(f) {
		return true
	}
	block, h := filterPlace(f, key)
	for range filterProbes {
		if block[h&511>>3]&(1<<(h&7)) == 0 {
			return false
		}
		h >>= 9
	}
	return true
}

func filterAdd(f, key []byte) {
	block, h := filterPlace(f, key)
	for range filterProbes {
		block[h&511>>3] |= 1 << (h & 7)
		h >>= 9
	}
	binary.BigEndian.PutUint64(f[1:], binary.BigEndian.Uint64(f[1:])+1)
}

// filterPlace returns key's block of f and the bits that choose its places in it.
func filterPlace(f, key []byte) ([]byte, uint64) {
	h := uint64(14695981039346656037) // FNV-1a, then a mix so that every bit counts
	for _, c := range key {
		h = (h ^ uint64(c)) * 1099511628211
	}
	h1 := mix64(h)
	blocks := uint64(len(f)-filterHeader) / filterBlock
	at := filterHeader + (h1&(blocks-1))*filterBlock
	return f[at : at+filterBlock], mix64(h1)
}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
