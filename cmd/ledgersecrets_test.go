package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tagpay/tagpay/store"
)

// An older ledger, with its secrets inside, is upgraded in place and says so; the same
// command again has nothing to do.
func TestLedgerSecretsMove(t *testing.T) {
	ctx := context.Background()
	ledger := filepath.Join(t.TempDir(), "ledger.db")
	keys := filepath.Join(t.TempDir(), "keys.json")
	mac := bytes.Repeat([]byte{0x5c}, 32)
	db, err := store.Open(ledger, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(ctx, func(tx *store.Tx) error {
		tx.PutRaw(store.BucketMeta, "secret:tag_mac", mac)
		return tx.PutRaw(store.BucketSUNKeys, "tag_01x", []byte(`{"meta_key":"00112233445566778899AABBCCDDEEFF","file_key":"00112233445566778899AABBCCDDEEFF"}`))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	streams, _, out, errOut := Test()
	opts := &LedgerSecretsMoveOptions{IO: streams, Out: NewPrinter(streams, FormatTable), DB: ledger, Keys: keys, Move: store.MoveSecrets}
	if err := runLedgerSecretsMove(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "moved tag_mac out of ledger "+ledger+" into new key file "+keys+"; 1 SUN key record(s) encrypted") {
		t.Errorf("stderr %q does not say what moved", errOut)
	}
	if !strings.Contains(out.String(), "compacted\ttrue") {
		t.Errorf("stdout %q", out)
	}
	if info, err := os.Stat(keys); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", info, err)
	}
	if raw, _ := os.ReadFile(ledger); bytes.Contains(raw, mac) || bytes.Contains(raw, []byte("00112233445566778899")) {
		t.Error("the ledger still holds its secrets")
	}

	streams, _, out, _ = Test()
	opts.IO, opts.Out = streams, NewPrinter(streams, FormatJSON)
	if err := runLedgerSecretsMove(ctx, opts); err != nil {
		t.Fatal(err)
	}
	var rep store.MoveReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || !rep.AlreadyDone {
		t.Errorf("second run: %s (%v), want already_done", out, err)
	}

	opts.Keys = ""
	if err := runLedgerSecretsMove(ctx, opts); err == nil || !strings.Contains(err.Error(), "--keys") {
		t.Errorf("without a key file: %v", err)
	}
}
