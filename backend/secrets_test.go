package backend

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/cards"
	"github.com/tagpay/tagpay/orders"
	"github.com/tagpay/tagpay/store"
)

const (
	testPAN     = "4556737586899855" // Luhn-valid, issued to nobody
	testMetaKey = "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF"
	testFileKey = "B0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF"
)

var everyBucket = []store.Bucket{
	store.BucketMeta, store.BucketAccounts, store.BucketWorld, store.BucketTransfers, store.BucketIdempotency,
	store.BucketAudit, store.BucketTags, store.BucketTagIndex, store.BucketReplies, store.BucketOrders,
	store.BucketOrderIndex, store.BucketDevices, store.BucketLogins, store.BucketCards, store.BucketTokens,
	store.BucketTokenIndex, store.BucketKeys, store.BucketKeyIndex, store.BucketSUNCounters, store.BucketSUNKeys,
}

// A stolen copy of the ledger file, without its key file, gives up no card number, no
// tag MAC key and no SUN key: they are not in its bytes, and a card's hash does not fall
// to a search of every PAN with its last four digits.
func TestCopiedLedgerRevealsNoSecret(t *testing.T) {
	ctx := context.Background()
	ledger := filepath.Join(t.TempDir(), "data", "ledger.db")
	keys := filepath.Join(t.TempDir(), "config", "keys.json")
	l, err := OpenLocal(ledger, LocalOptions{Store: store.Options{NoSync: true, KeysPath: keys}})
	if err != nil {
		t.Fatal(err)
	}
	shop, err := l.CreateAccount(ctx, store.CreateAccountRequest{Name: "Shop", Kind: store.AccountMerchant, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := l.CreateAccount(ctx, store.CreateAccountRequest{Name: "Alice", Kind: store.AccountPerson, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	static, err := l.RegisterTag(ctx, orders.RegisterRequest{UID: "04112233445566", Merchant: shop.ID, Amount: "1.00"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.RegisterTag(ctx, orders.RegisterRequest{UID: "04DE5F1EACC040", Merchant: shop.ID, SUN: true, MetaKey: testMetaKey, FileKey: testFileKey, IdempotencyKey: "sun"}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Login(ctx, cards.LoginRequest{Account: alice.ID, Device: "phone-1"}); err != nil {
		t.Fatal(err)
	}
	card, err := l.AddCard(ctx, cards.AddCardRequest{Account: alice.ID, Device: "phone-1", PAN: testPAN, IdempotencyKey: "card"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.ParsePaymentRequest(ctx, orders.PaymentRequest{UID: static.UID, Content: static.Content}); err != nil {
		t.Fatalf("the tag does not verify with its key file: %v", err)
	}
	l.Close()

	stolen := filepath.Join(t.TempDir(), "stolen.db")
	raw, err := os.ReadFile(ledger)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stolen, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	ring, err := store.LoadKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	mac, pan := ring.Secret(store.SecretTagMAC), ring.Secret(store.SecretPANHash)
	meta, _ := hex.DecodeString(testMetaKey)
	for name, needle := range map[string][]byte{
		"the PAN": []byte(testPAN), "the PAN's first 12 digits": []byte(testPAN[:12]),
		"the tag MAC key": mac, "the tag MAC key in hex": []byte(hex.EncodeToString(mac)),
		"the PAN hash key": pan, "the PAN hash key in hex": []byte(hex.EncodeToString(pan)),
		"the SUN meta key": meta, "the SUN meta key in hex": []byte(testMetaKey),
		"the SUN meta key in lower-case hex": []byte(strings.ToLower(testMetaKey)),
		"the SUN file key in hex":            []byte(testFileKey),
	} {
		if bytes.Contains(raw, needle) {
			t.Errorf("the ledger file holds %s", name)
		}
	}

	// The attacker opens the copy with no key file: reads that need no secret work, the
	// rest is refused, naming the file it would need.
	missing := filepath.Join(t.TempDir(), "keys.json")
	thief, err := OpenLocal(stolen, LocalOptions{Store: store.Options{NoSync: true, KeysPath: missing}})
	if err != nil {
		t.Fatal(err)
	}
	defer thief.Close()
	if _, err := thief.GetTag(ctx, static.Ref); err != nil {
		t.Errorf("reading a tag from the copy: %v", err)
	}
	_, err = thief.ParsePaymentRequest(ctx, orders.PaymentRequest{UID: static.UID, Content: static.Content})
	if !store.IsCode(err, "keys_missing") || !strings.Contains(err.Error(), missing) {
		t.Errorf("parsing a tag without the key file: %v, want keys_missing naming %s", err, missing)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("a key file was made for the copy of a keyed ledger")
	}
	_, err = thief.CreateAccount(ctx, store.CreateAccountRequest{Name: "Mallory", Kind: store.AccountPerson, Currency: "EUR"})
	if !store.IsCode(err, "keys_missing") {
		t.Errorf("writing the copy without its key file: %v, want keys_missing", err)
	}

	// The search that takes a second on an older ledger: every value of the copy that
	// could be a key, against every PAN with the card's BIN and last four digits.
	var stored struct {
		PANHash  string `json:"pan_hash"`
		PANLast4 string `json:"pan_last4"`
	}
	var candidates [][]byte
	err = thief.DB.View(ctx, func(tx *store.Tx) error {
		if _, err := tx.Get(store.BucketCards, card.ID, &stored); err != nil {
			return err
		}
		for _, b := range everyBucket {
			err := tx.ForEach(b, "", false, func(_ string, v []byte) error {
				if len(v) == 32 {
					candidates = append(candidates, bytes.Clone(v))
				}
				if k, err := hex.DecodeString(string(v)); err == nil && len(k) == 32 {
					candidates = append(candidates, k)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if stored.PANHash == "" || stored.PANLast4 != testPAN[12:] {
		t.Fatalf("card record %+v: the test proves nothing without a hash and last four", stored)
	}
	for _, k := range candidates {
		if found := searchPAN(k, testPAN[:6], stored.PANLast4, stored.PANHash); found != "" {
			t.Fatalf("the PAN %s came back from the copied ledger alone", found)
		}
	}
	// The same search with the key file's key finds it: the search is a real one.
	if found := searchPAN(pan, testPAN[:6], stored.PANLast4, stored.PANHash); found != testPAN {
		t.Fatalf("the search with the right key found %q, want the PAN", found)
	}
	t.Logf("%d candidate keys in the copy, none gives the PAN", len(candidates))
}

// searchPAN tries every Luhn-valid 16-digit PAN with the given BIN and last four under
// key: about 10^5 candidates.
func searchPAN(key []byte, bin, last4, want string) string {
	m := hmac.New(sha256.New, key)
	for mid := range 1000000 {
		pan := fmt.Sprintf("%s%06d%s", bin, mid, last4)
		if !cards.LuhnValid(pan) {
			continue
		}
		m.Reset()
		m.Write([]byte(pan))
		if hex.EncodeToString(m.Sum(nil)) == want {
			return pan
		}
	}
	return ""
}
