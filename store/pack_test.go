package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// A record packs and unpacks to exactly its bytes, whatever it holds: ids, times and
// hashes that tokens stand for, look-alikes that they must not (a time that would come
// back spelled otherwise, an id of 130 bits, upper-case hex), the bytes tokens are made
// of, and text that is not JSON at all.
func TestPackedRecordsReadBackExactly(t *testing.T) {
	for _, v := range []string{
		`{"id":"ord_01m8s8fpat0039w3pw9f48bv1z","payer":"acct_01m8s8fpas002hnr14h46tnadr","created_at":"2026-12-01T16:54:53.530567359Z","paid_at":"2026-12-01T16:54:53.53Z"}`,
		`{"op":"tap","hash":"ed499c4ac62a567a3ac10841bc2b883a8e71297c2821d12e0af6b55acc4e7dee","result":"ord_01m8s8fpat0039w3pw9f48bv1z"}`,
		`{"hash":"ED499C4AC62A567A3AC10841BC2B883A8E71297C2821D12E0AF6B55ACC4E7DEE"}`,
		`{"at":"2026-12-01T16:54:53.530000000Z","b":"2026-12-01T16:54:53+01:00","c":"1969-12-31T23:59:59Z","d":"2026-12-01T16:54:53Z"}`,
		`{"id":"ord_81m8s8fpat0039w3pw9f48bv1z","x":"zz_01m8s8fpat0039w3pw9f48bv1z","y":"ord_01m8s8fpat0039w3pw9f48bv1"}`,
		`{"memo":"\u0001\u0002 \"ord_01m8s8fpat0039w3pw9f48bv1z\" naïve ☕"}`,
		"\x01\x02\x03\x04\x04\x01",
		`"ord_01m8s8fpat0039w3pw9f48bv1z"`,
		`""""`,
		`"`,
		`x`,
	} {
		for b := range packSamples {
			p := packValue(b, []byte(v))
			got, err := unpackValue(b, p)
			if err != nil || string(got) != v {
				t.Errorf("%s: %q packed to %x and came back as %q, %v", b, v, p, got, err)
			}
		}
	}
}

// The dictionaries and the token layout are the file format: ledgers written today must
// read the same after any change to this code. A packed order written by the first
// packing tagpay still reads as it did, and packs to the same bytes.
func TestPackingIsPinned(t *testing.T) {
	want := map[Bucket]string{
		BucketEvents:      "15fa846de5342ea3",
		BucketOrders:      "287f5a58a03a9531",
		BucketTransfers:   "2ab7852fec5acb3f",
		BucketReplies:     "92272a4adee91884",
		BucketAudit:       "7d3c1fa2be7808d5",
		BucketIdempotency: "906c29056ae6177d",
	}
	for b, samples := range packSamples {
		var dict []byte
		for _, s := range samples {
			dict = appendTokens(dict, []byte(s))
		}
		sum := sha256.Sum256(dict)
		if got := hex.EncodeToString(sum[:8]); got != want[b] {
			t.Errorf("the dictionary of %s is %s, want %s: a new dictionary needs a new marker", b, got, want[b])
		}
	}
	order := `{"id":"ord_01m8s8fpat0039w3pw9f48bv1z","reply":"rep_01m8s8fpat002qqd3hmbf221ms","tag":"tag_01m8s8fpas001fdza850mgss9t","payer":"acct_01m8s8fpas002hnr14h46tnadr","payee":"acct_01m8s8fpas00044dbzd53z5x0f","payee_name":"Tap Shop","amount":{"amount":123,"currency":"EUR"},"refunded":{"amount":0,"currency":"EUR"},"status":"paid","instrument":{"kind":"balance"},"transfer":"tr_01m8s8fpat003m7pvd86z2p4v0","created_at":"2026-12-01T16:54:53.530567359Z","paid_at":"2026-12-01T16:54:53.530567359Z"}`
	packed, _ := hex.DecodeString("01e0020d003c01a23287d95a00069e0edc4bc885ec3f59bc0d1a20057bb471a2de21069931583c01a23287d9590002f6fd4828290ce53a39580d1a20051ae024890daaa9b809000065191a200042357f6947f2f40f0d0031581c5461702053686f705660010432334e370131601500542d03200743db6d41be2b13603e600118ed2f89644e32bf1500051ced2f89644e32bf7d")
	got, err := unpackValue(BucketOrders, packed)
	if err != nil || string(got) != order {
		t.Errorf("the pinned packed order reads as %q, %v", got, err)
	}
	if p := packValue(BucketOrders, []byte(order)); !bytes.Equal(p, packed) {
		t.Errorf("the order packs to %x (%d bytes), want %x", p, len(p), packed)
	}
}

// Records of the buckets that grow with every tap are packed in the file, several times
// smaller than their JSON; the store reads them back as JSON; the others are kept as
// they are.
func TestRecordsThatGrowWithTapsArePacked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	db := openAt(t, path)
	a := fundedAccount(t, db, "Alice", "EUR", 500)
	if _, err := db.FundAccount(context.Background(), FundRequest{Account: a.ID, Amount: "2.50", IdempotencyKey: "fund-1"}); err != nil {
		t.Fatal(err)
	}
	var transfers []Transfer
	err := db.View(context.Background(), func(tx *Tx) error {
		return Each(tx, BucketTransfers, "", false, func(_ string, tr Transfer) error {
			transfers = append(transfers, tr)
			return nil
		})
	})
	if err != nil || len(transfers) != 2 || transfers[1].Amount.Amount != 250 {
		t.Fatalf("transfers read back: %+v, %v", transfers, err)
	}
	db.Close()

	raw := map[Bucket][][]byte{}
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.View(func(tx *bolt.Tx) error {
		for _, name := range []Bucket{BucketTransfers, BucketAudit, BucketEvents, BucketIdempotency, BucketAccounts} {
			tx.Bucket([]byte(name)).ForEach(func(_, v []byte) error {
				raw[name] = append(raw[name], bytes.Clone(v))
				return nil
			})
		}
		return nil
	})
	for name, values := range raw {
		for _, v := range values {
			text, err := unpackValue(name, v)
			if err != nil || !json.Valid(text) {
				t.Errorf("%s: %x does not unpack to JSON: %q, %v", name, v, text, err)
			}
			switch _, packs := packSamples[name]; {
			case packs && (v[0] != packMark || len(v)*2 > len(text)):
				t.Errorf("%s: a record of %d bytes is stored in %d: %x", name, len(text), len(v), v)
			case !packs && v[0] == packMark:
				t.Errorf("%s packed a record: %x", name, v)
			}
		}
	}
	if len(raw[BucketIdempotency]) != 1 || len(raw[BucketTransfers]) != 2 {
		t.Errorf("found %d idempotency records and %d transfers, want 1 and 2", len(raw[BucketIdempotency]), len(raw[BucketTransfers]))
	}
}

// A packed record that is damaged is a corrupt-ledger error naming it, on reading it
// alone and in a list, and the ledger is left as it was.
func TestADamagedPackedRecordIsNamed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	db := openAt(t, path)
	a := fundedAccount(t, db, "Alice", "EUR", 500)
	db.Close()
	var id string
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(BucketTransfers))
		k, v := bk.Cursor().First()
		var err error
		if id, err = unpackKey(BucketTransfers, k); err != nil {
			return err
		}
		damaged := bytes.Clone(v)
		damaged[len(damaged)/2] ^= 0xA5
		damaged = damaged[:len(damaged)-3]
		return bk.Put(k, damaged)
	})
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	db = openAt(t, path)
	err = db.View(context.Background(), func(tx *Tx) error {
		var tr Transfer
		_, err := tx.Get(BucketTransfers, id, &tr)
		return err
	})
	if KindOf(err) != KindCorrupt || !strings.Contains(err.Error(), "transfers/"+id) {
		t.Errorf("reading the damaged transfer: %v, want a corrupt-ledger error naming transfers/%s", err, id)
	}
	err = db.View(context.Background(), func(tx *Tx) error {
		return Each(tx, BucketTransfers, "", false, func(string, Transfer) error { return nil })
	})
	if KindOf(err) != KindCorrupt || !strings.Contains(err.Error(), id) {
		t.Errorf("listing transfers: %v, want a corrupt-ledger error naming %s", err, id)
	}
	if got, err := db.GetAccount(context.Background(), a.ID); err != nil || got.Balance != 500 {
		t.Errorf("the account beside the damage: %+v, %v", got, err)
	}
}

// A ledger of schema version 1 (every record as JSON) reads as it is, is marked 2 when
// opened for writing, and from then on its new records are packed beside the old.
func TestAVersion1LedgerReadsAndIsMarked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	db := openAt(t, path)
	a := fundedAccount(t, db, "Alice", "EUR", 500)
	db.Close()
	// Unpack every key and record, as tagpay before packing wrote them, and mark the
	// file 1.
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			bk := tx.Bucket([]byte(name))
			var keys, values [][]byte
			err := bk.ForEach(func(k, v []byte) error {
				key, err := unpackKey(name, k)
				if err != nil {
					return err
				}
				text, err := unpackValue(name, v)
				keys, values = append(keys, []byte(key)), append(values, text)
				return err
			})
			if err != nil {
				return err
			}
			if err := tx.DeleteBucket([]byte(name)); err != nil {
				return err
			}
			if bk, err = tx.CreateBucket([]byte(name)); err != nil {
				return err
			}
			for i := range keys {
				if err := bk.Put(keys[i], values[i]); err != nil {
					return err
				}
			}
		}
		return tx.Bucket([]byte(BucketMeta)).Delete(metaPackedKeys)
	})
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	setSchemaVersion(t, path, 1)

	db = openAt(t, path)
	if _, err := db.FundAccount(context.Background(), FundRequest{Account: a.ID, Amount: "2.50"}); err != nil {
		t.Fatal(err)
	}
	verifyClean(t, db)
	if got, err := db.GetAccount(context.Background(), a.ID); err != nil || got.Balance != 750 {
		t.Errorf("after a payment into the upgraded ledger: %+v, %v", got, err)
	}
	db.Close()
	b, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte(BucketMeta)).Get(metaSchema); !bytes.Equal(v, []byte{0, 0, 0, boltSchemaVersion}) {
			t.Errorf("schema version after opening for writing: %x, want %d", v, boltSchemaVersion)
		}
		var plain, packed int
		tx.Bucket([]byte(BucketTransfers)).ForEach(func(_, v []byte) error {
			if v[0] == packMark {
				packed++
			} else {
				plain++
			}
			return nil
		})
		if plain != 1 || packed != 1 {
			t.Errorf("transfers: %d as JSON and %d packed, want the old one as JSON and the new one packed", plain, packed)
		}
		if tx.Bucket([]byte(BucketMeta)).Get(metaPackedKeys) != nil {
			t.Errorf("the ledger of text keys was marked as one of packed keys")
		}
		tx.Bucket([]byte(BucketTransfers)).ForEach(func(k, _ []byte) error {
			if !ValidID(string(k), PrefixTransfer) {
				t.Errorf("transfer key %q is not kept as text", k)
			}
			return nil
		})
		return nil
	})
}

// FuzzPackedValue: anything a bucket is given packs and unpacks to itself, and no bytes
// read from a file (a damaged one, a hostile one) make unpacking panic.
func FuzzPackedValue(f *testing.F) {
	for _, samples := range packSamples {
		for _, s := range samples {
			f.Add([]byte(s))
			f.Add(packValue(BucketOrders, []byte(s)))
		}
	}
	f.Add([]byte{packMark, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, v []byte) {
		for b := range packSamples {
			got, err := unpackValue(b, packValue(b, v))
			if err != nil || !bytes.Equal(got, v) {
				t.Fatalf("%s: %q came back as %q, %v", b, v, got, err)
			}
			unpackValue(b, v)
		}
	})
}

// Packed keys sort as their text does, so that lists, pages and cursors work alike in
// either layout: ids of every prefix, the order index's keys, the outbox's deliveries,
// and cursors that are part of an id or no id at all.
func TestPackedKeysSortAsText(t *testing.T) {
	ids := []string{
		"ord_01m8s8fpat0039w3pw9f48bv1z", "ord_01m8s8fpat0039w3pw9f48bv20", "ord_7zzzzzzzzzzzzzzzzzzzzzzzzz",
		"ord_00000000000000000000000000", "acct_01m8s8fpas002hnr14h46tnadr", "tr_01m8s8fpat003m7pvd86z2p4v0",
		"tag_01m8s8fpas001fdza850mgss9t", "tok_01m8s8fpas001fdza850mgss9t", "evt_01m8s8fpat004bfj33mwxhv0y0",
		"rep_01m8s8fpat002qqd3hmbf221ms", "rf_01m8s8fpat002qqd3hmbf221ms", "whk_01m8s8fpat002qqd3hmbf221ms",
	}
	var index, deliveries []string
	for _, a := range ids[:5] {
		for _, b := range ids {
			index = append(index, "payee:"+a+"/"+b, "payer:"+a+"/"+b, "tag:"+a+"/"+b)
			deliveries = append(deliveries, a+"/"+b)
		}
	}
	odd := []string{"", "evt_01m8s9", "ord_", "ord_01m8s8fpat0039w3pw9f48bv1", "ord_81m8s8fpat0039w3pw9f48bv1z", "zzz", "ord", "o", "_", "acct_x"}
	var indexCursors []string
	for _, c := range append(slices.Clone(odd), ids...) {
		indexCursors = append(indexCursors, "payer:"+ids[4]+"/"+c, "tag:"+ids[0]+"/"+c)
	}
	for _, c := range []struct {
		b             Bucket
		keys, cursors []string
	}{
		{BucketOrders, ids, append(slices.Clone(odd), ids...)},
		{BucketOutbox, append(slices.Clone(ids), deliveries...), append(append(slices.Clone(odd), ids...), deliveries...)},
		{BucketOrderIndex, index, append(indexCursors, index...)},
	} {
		for _, k := range c.keys {
			if got, err := unpackKey(c.b, packKey(c.b, k)); err != nil || got != k {
				t.Errorf("%s: key %q came back as %q, %v", c.b, k, got, err)
			}
			for _, a := range ids[:5] {
				for _, prefix := range []string{"payee:" + a + "/", "payer:" + a + "/", "tag:" + a + "/", a + "/", a} {
					if strings.HasPrefix(k, prefix) != bytes.HasPrefix(packKey(c.b, k), packKey(c.b, prefix)) {
						t.Errorf("%s: %q begins with %q as text but not packed, or the other way", c.b, k, prefix)
					}
				}
			}
			for _, cur := range c.cursors {
				f, exact := packSeek(c.b, cur)
				text := strings.Compare(k, cur)
				packed := bytes.Compare(packKey(c.b, k), f)
				if !exact && packed == 0 {
					packed = 1
				}
				if text != packed {
					t.Errorf("%s: %q against the cursor %q sorts %d as text and %d packed", c.b, k, cur, text, packed)
				}
			}
		}
	}
}

// FuzzPackedKey: any key packs and unpacks to itself, two keys sort packed as they sort
// as text when both are of the shapes the buckets hold, and no bytes read as a key from
// a damaged file make unpacking panic.
func FuzzPackedKey(f *testing.F) {
	f.Add("payer:acct_01m8s8fpas002hnr14h46tnadr/ord_01m8s8fpat0039w3pw9f48bv1z", "ord_01m8s8fpat0039w3pw9f48bv1z")
	f.Add("evt_01m8s8fpat004bfj33mwxhv0y0/whk_01m8s8fpat002qqd3hmbf221ms", "\x01\x04:/")
	f.Add("key_01m8s8fpat002qqd3hmbf221ms/3f2b8a4e-9c1d-4e5f-8a7b-6c5d4e3f2a1b", "local/3F2B8A4E-9C1D-4E5F-8A7B-6C5D4E3F2A1B")
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, bk := range []Bucket{BucketOrders, BucketOrderIndex, BucketIdempotency} {
			for _, k := range []string{a, b} {
				if got, err := unpackKey(bk, packKey(bk, k)); err != nil || got != k {
					t.Fatalf("%s: %q came back as %q, %v", bk, k, got, err)
				}
				unpackKey(bk, []byte(k))
				packSeek(bk, k)
			}
		}
	})
}

// An idempotency key packs its actor's id and a key that is a UUID in 17 bytes each and
// comes back exactly, whatever the client sent; the bucket is walked from keys it gave,
// so a cursor is the key itself.
func TestIdempotencyKeysPack(t *testing.T) {
	for _, k := range []string{
		"key_01m8s8fpat002qqd3hmbf221ms/3f2b8a4e-9c1d-4e5f-8a7b-6c5d4e3f2a1b",
		"local/3f2b8a4e-9c1d-4e5f-8a7b-6c5d4e3f2a1b",
		"local/3F2B8A4E-9C1D-4E5F-8A7B-6C5D4E3F2A1B", // upper case stays text
		"local/3f2b8a4e9c1d4e5f8a7b6c5d4e3f2a1b",
		"local/top-up-1", "local/a:b/c", "local/payer",
	} {
		p := packKey(BucketIdempotency, k)
		if got, err := unpackKey(BucketIdempotency, p); err != nil || got != k {
			t.Errorf("%q came back as %q, %v", k, got, err)
		}
		if f, exact := packSeek(BucketIdempotency, k); !exact || !bytes.Equal(f, p) {
			t.Errorf("the cursor %q seeks to %x, not to its key %x", k, f, p)
		}
	}
	if n := len(packKey(BucketIdempotency, "key_01m8s8fpat002qqd3hmbf221ms/3f2b8a4e-9c1d-4e5f-8a7b-6c5d4e3f2a1b")); n != 35 {
		t.Errorf("an API key's UUID idempotency key packs to %d bytes, want 35", n)
	}
}

// The prefixes tokens number sort as their ids do, and every prefix the ledger makes ids
// of has a number.
func TestPackPrefixesSortAsIDs(t *testing.T) {
	if !slices.IsSortedFunc(packPrefixes, func(a, b string) int { return strings.Compare(a+"_", b+"_") }) {
		t.Errorf("packPrefixes %v do not sort as their ids", packPrefixes)
	}
	if !slices.IsSortedFunc(keyWords, func(a, b string) int { return strings.Compare(a+":", b+":") }) || tokWord+len(keyWords) != tokUUID || tokID+len(packPrefixes) != tokWord {
		t.Errorf("keyWords %v do not sort as their keys, or their tokens overlap others", keyWords)
	}
	for _, p := range idPrefixes {
		if !slices.Contains(packPrefixes, p) {
			t.Errorf("ids of prefix %q would stay text", p)
		}
	}
}
