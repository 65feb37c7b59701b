package store

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// keysPath is a key file path in a folder of its own, apart from the ledger's.
func keysPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "keys", "tagpay.keys")
}

func openKeys(t *testing.T, target, keys string) *DB {
	t.Helper()
	db, err := Open(target, Options{NoSync: true, LockTimeout: 50e6, KeysPath: keys})
	if err != nil {
		t.Fatalf("Open(%s): %v", target, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func wantCode(t *testing.T, err error, kind Kind, code string, mentions ...string) {
	t.Helper()
	if err == nil || KindOf(err) != kind || !IsCode(err, code) {
		t.Fatalf("error = %v, want %s/%s", err, kind, code)
	}
	for _, m := range mentions {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
}

func TestKeyFileIsMadeForANewLedger(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		keys := keysPath(t)
		db := openKeys(t, e.target(t), keys)
		info, err := os.Stat(keys)
		if err != nil {
			t.Fatalf("no key file after opening a new ledger: %v", err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("key file mode %04o, want 0600", info.Mode().Perm())
		}
		ring, err := db.Keyring()
		if err != nil {
			t.Fatal(err)
		}
		var check string
		db.View(bg, func(tx *Tx) error { check = string(tx.GetRaw(BucketMeta, metaKeysCheck)); return nil })
		if check != ring.sum {
			t.Errorf("ledger names key %q, the key file is %q", check, ring.sum)
		}
		// A second ledger may share the key file: it has nothing keyed yet.
		other := openKeys(t, e.target(t), keys)
		if _, err := other.Keyring(); err != nil {
			t.Errorf("a new ledger refused an existing key file: %v", err)
		}
	})
}

func TestNoKeyFileConfiguredRefusesSecretsOnly(t *testing.T) {
	db := openLedger(t)
	newAccount(t, db, "alice", AccountPerson, "EUR")
	err := db.View(bg, func(tx *Tx) error { _, err := tx.Secret(SecretTagMAC); return err })
	wantCode(t, err, KindUnavailable, "keys_not_configured", "--keys")
}

func TestMissingKeyFileLeavesTheLedgerReadOnly(t *testing.T) {
	onEngines(t, func(t *testing.T, e testEngine) {
		target, keys := e.target(t), keysPath(t)
		db := openKeys(t, target, keys)
		acct := newAccount(t, db, "alice", AccountPerson, "EUR")
		db.Close()
		if err := os.Remove(keys); err != nil {
			t.Fatal(err)
		}

		db = openKeys(t, target, keys)
		if _, err := os.Stat(keys); err == nil {
			t.Fatal("a key file was made for a ledger keyed by another one")
		}
		// Reads that need no secret still work.
		if _, err := db.GetAccount(bg, acct.ID); err != nil {
			t.Errorf("reading an account without the key file: %v", err)
		}
		err := db.View(bg, func(tx *Tx) error { _, err := tx.Secret(SecretPANHash); return err })
		wantCode(t, err, KindUnavailable, "keys_missing", keys, "restore")
		// Everything else is refused, naming the file.
		_, err = db.CreateAccount(bg, CreateAccountRequest{Name: "bob", Kind: AccountPerson, Currency: "EUR"})
		wantCode(t, err, KindUnavailable, "keys_missing", keys)
		err = db.Batch(bg, func(tx *Tx) error { return nil })
		wantCode(t, err, KindUnavailable, "keys_missing", keys)
	})
}

func TestAnotherLedgersKeyFileIsRefused(t *testing.T) {
	target, mine, theirs := boltEngineT.target(t), keysPath(t), keysPath(t)
	db := openKeys(t, target, mine)
	db.Close()
	openKeys(t, boltEngineT.target(t), theirs).Close()
	before, err := os.ReadFile(theirs)
	if err != nil {
		t.Fatal(err)
	}

	db = openKeys(t, target, theirs)
	err = db.View(bg, func(tx *Tx) error { _, err := tx.Secret(SecretTagMAC); return err })
	wantCode(t, err, KindUnavailable, "keys_mismatch", theirs)
	_, err = db.CreateAccount(bg, CreateAccountRequest{Name: "bob", Kind: AccountPerson, Currency: "EUR"})
	wantCode(t, err, KindUnavailable, "keys_mismatch")
	if after, _ := os.ReadFile(theirs); !bytes.Equal(before, after) {
		t.Error("the other ledger's key file was changed")
	}
}

func TestKeyFileReadableByOthersIsRefused(t *testing.T) {
	target, keys := boltEngineT.target(t), keysPath(t)
	openKeys(t, target, keys).Close()
	if err := os.Chmod(keys, 0o644); err != nil {
		t.Fatal(err)
	}
	db := openKeys(t, target, keys)
	err := db.View(bg, func(tx *Tx) error { _, err := tx.Secret(SecretTagMAC); return err })
	wantCode(t, err, KindUnavailable, "keys_insecure", keys, "0600")
}

func TestDerivedSecrets(t *testing.T) {
	keys := keysPath(t)
	db := openKeys(t, boltEngineT.target(t), keys)
	ring, err := db.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	uid := []byte{0x04, 0xDE, 0x5F, 0x1E, 0xAC, 0xC0, 0x40}
	a, b := ring.DeriveSecret("ntag21x_password", uid), ring.DeriveSecret("ntag21x_password", uid[:6])
	if len(a) != 32 || bytes.Equal(a, b) {
		t.Fatalf("DeriveSecret: %x and %x, want two different 32-byte secrets", a, b)
	}
	// Name and info never run into each other.
	if bytes.Equal(ring.DeriveSecret("ab", []byte("c")), ring.DeriveSecret("a", []byte("bc"))) {
		t.Error("DeriveSecret(ab, c) = DeriveSecret(a, bc)")
	}
	m1, m2 := ring.MasterKey("ntag424_sdm"), ring.MasterKey("ntag424_app")
	if len(m1) != 16 || bytes.Equal(m1, m2) {
		t.Fatalf("MasterKey: %x and %x, want two different AES-128 keys", m1, m2)
	}
	for _, v := range [][]byte{a, m1} {
		if bytes.Contains(mustRead(t, keys), []byte(hex.EncodeToString(v))) {
			t.Error("a derived secret is stored in the key file; it should need no storage")
		}
	}
	again, err := LoadKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.DeriveSecret("ntag21x_password", uid), a) || !bytes.Equal(again.MasterKey("ntag424_sdm"), m1) {
		t.Error("derived secrets changed when the key file was read again")
	}
	if bytes.Equal(ring.Secret(SecretTagMAC), ring.Secret(SecretPANHash)) {
		t.Error("tag MAC and PAN hash keys are the same")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	if IsDatabaseURL(path) {
		return nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

type testKeys struct {
	Meta string `json:"meta_key"`
	File string `json:"file_key"`
}

func TestSealedRecordsAreEncryptedAndBoundToTheirKey(t *testing.T) {
	target, keys := boltEngineT.target(t), keysPath(t)
	db := openKeys(t, target, keys)
	secret := testKeys{Meta: "00112233445566778899AABBCCDDEEFF", File: "FFEEDDCCBBAA99887766554433221100"}
	err := db.Update(bg, func(tx *Tx) error { return tx.PutSealed(BucketSUNKeys, "tag_a", secret) })
	if err != nil {
		t.Fatal(err)
	}
	var got testKeys
	err = db.View(bg, func(tx *Tx) error {
		ok, err := tx.GetSealed(BucketSUNKeys, "tag_a", &got)
		if !ok && err == nil {
			t.Error("sealed record not found")
		}
		return err
	})
	if err != nil || got != secret {
		t.Fatalf("GetSealed = %+v, %v; want %+v", got, err, secret)
	}
	// Moved to another tag's key, it does not open; stored in clear, it is refused.
	err = db.Update(bg, func(tx *Tx) error {
		if err := tx.PutRaw(BucketSUNKeys, "tag_b", tx.GetRaw(BucketSUNKeys, "tag_a")); err != nil {
			return err
		}
		raw, _ := json.Marshal(secret)
		return tx.PutRaw(BucketSUNKeys, "tag_c", raw)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tag_b", "tag_c"} {
		err = db.View(bg, func(tx *Tx) error { _, err := tx.GetSealed(BucketSUNKeys, k, &got); return err })
		wantCode(t, err, KindCorrupt, "ledger_corrupt", k)
	}
	db.Close()
	raw := mustRead(t, target)
	for _, k := range []string{"00112233445566778899", "FFEEDDCCBBAA99887766"} {
		if n := bytes.Count(raw, []byte(k)); n != 1 { // once: the clear tag_c above
			t.Errorf("the ledger file holds SUN key %s… %d times, want only tag_c's clear copy", k, n)
		}
	}
}

// legacyLedger makes a ledger as an older tagpay left it: its secrets in meta records and
// a SUN tag's keys in clear.
func legacyLedger(t *testing.T, target string) (mac, pan []byte, sun testKeys) {
	t.Helper()
	db, err := Open(target, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	mac, pan = make([]byte, 32), make([]byte, 32)
	rand.Read(mac)
	rand.Read(pan)
	sun = testKeys{Meta: "0123456789ABCDEF0123456789ABCDEF", File: "FEDCBA9876543210FEDCBA9876543210"}
	err = db.Update(bg, func(tx *Tx) error {
		raw, _ := json.Marshal(sun)
		tx.PutRaw(BucketMeta, "secret:tag_mac", mac)
		tx.PutRaw(BucketMeta, "secret:pan_hash", pan)
		return tx.PutRaw(BucketSUNKeys, "tag_01sun", raw)
	})
	if err != nil {
		t.Fatal(err)
	}
	newAccount(t, db, "alice", AccountPerson, "EUR")
	db.Close()
	return mac, pan, sun
}

func TestMoveSecretsOutOfAnOlderLedger(t *testing.T) {
	onEngines(t, testMoveSecrets)
}

func testMoveSecrets(t *testing.T, e testEngine) {
	target, keys := e.target(t), keysPath(t)
	isFile := e.name == "bbolt"
	mac, pan, sun := legacyLedger(t, target)
	if raw := mustRead(t, target); isFile && (!bytes.Contains(raw, mac) || !bytes.Contains(raw, []byte(sun.Meta))) {
		t.Fatal("the legacy ledger does not hold its secrets; the test proves nothing")
	}

	// Opened with a key file, the older ledger refuses secrets and makes no key file.
	db := openKeys(t, target, keys)
	err := db.View(bg, func(tx *Tx) error { _, err := tx.Secret(SecretTagMAC); return err })
	wantCode(t, err, KindUnavailable, "secrets_in_ledger", "tagpay ledger secrets move")
	if _, err := os.Stat(keys); err == nil {
		t.Fatal("a key file was made for a ledger that keeps its secrets inside")
	}
	db.Close()

	rep, err := MoveSecrets(bg, target, Options{NoSync: true, KeysPath: keys})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.KeyFileCreated || rep.SealedSUNKeys != 1 || strings.Join(rep.Moved, ",") != "pan_hash,tag_mac" || !rep.Compacted {
		t.Errorf("report %+v", rep)
	}
	raw := []byte{}
	if isFile {
		raw = mustRead(t, target)
	}
	for name, v := range map[string][]byte{
		"tag MAC key": mac, "PAN hash key": pan, "tag MAC key (hex)": []byte(hex.EncodeToString(mac)),
		"SUN meta key": []byte(sun.Meta), "SUN file key": []byte(sun.File),
		"SUN meta key (bytes)": mustHex(sun.Meta),
	} {
		if bytes.Contains(raw, v) {
			t.Errorf("the ledger file still holds the %s after the move", name)
		}
	}

	// The same secrets, now from the key file; the SUN keys open.
	db = openKeys(t, target, keys)
	var gotMAC, gotPAN []byte
	var gotSUN testKeys
	err = db.View(bg, func(tx *Tx) (err error) {
		if gotMAC, err = tx.Secret(SecretTagMAC); err != nil {
			return err
		}
		if gotPAN, err = tx.Secret(SecretPANHash); err != nil {
			return err
		}
		_, err = tx.GetSealed(BucketSUNKeys, "tag_01sun", &gotSUN)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotMAC, mac) || !bytes.Equal(gotPAN, pan) || gotSUN != sun {
		t.Error("the secrets changed in the move: tag contents and card hashes would no longer verify")
	}
	db.Close()

	// Again: nothing to do, and said so.
	rep, err = MoveSecrets(bg, target, Options{NoSync: true, KeysPath: keys})
	if err != nil || !rep.AlreadyDone {
		t.Errorf("second move = %+v, %v; want already done", rep, err)
	}
}

func TestMoveSecretsRefusesAKeyFileWithOtherKeys(t *testing.T) {
	target, keys := boltEngineT.target(t), keysPath(t)
	legacyLedger(t, target)
	openKeys(t, boltEngineT.target(t), keys).Close() // another ledger's key file
	before := mustRead(t, target)
	_, err := MoveSecrets(bg, target, Options{NoSync: true, KeysPath: keys})
	wantCode(t, err, KindConflict, "keys_in_use", keys)
	if !bytes.Equal(before, mustRead(t, target)) {
		t.Error("the refused move changed the ledger")
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestCheckText(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"Café Mü", true},
		{"東京 shop", true},
		{"", true},
		{"bell\a", false},
		{"esc\x1b[2J", false},
		{"tab\there", false},
		{"del\x7f", false},
		{"c1\u0085", false},
		{"abc\u202Edcba", false}, // right-to-left override
		{"zero\u200Bwidth", false},
		{"bom\uFEFF", false},
		{"soft\u00ADhyphen", false},
		{"bad\xffutf8", false},
		{strings.Repeat("é", 10), true},
		{strings.Repeat("é", 11), false},
	} {
		err := CheckText("label", c.in, 10)
		if c.ok != (err == nil) {
			t.Errorf("CheckText(%q) = %v, want ok %v", c.in, err, c.ok)
		}
		if err != nil && (KindOf(err) != KindInvalid || !IsCode(err, "invalid_label")) {
			t.Errorf("CheckText(%q) = %v, want invalid/invalid_label", c.in, err)
		}
	}
}

func TestAccountNamesAreCheckedText(t *testing.T) {
	db := openLedger(t)
	for _, name := range []string{"evil\u202Egnp.exe", "beep\a", "a\u200Db"} {
		_, err := db.CreateAccount(bg, CreateAccountRequest{Name: name, Kind: AccountPerson, Currency: "EUR"})
		wantCode(t, err, KindInvalid, "invalid_name")
	}
}
