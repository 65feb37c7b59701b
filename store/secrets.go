package store

import "crypto/rand"

// Secret returns the ledger's named 32-byte secret (the tag MAC key, the PAN hash key),
// creating it on first use. Secrets never leave the ledger: callers use them to compute
// MACs and hashes, and never print them.
func (tx *Tx) Secret(name string) ([]byte, error) {
	key := "secret:" + name
	if v := tx.GetRaw(BucketMeta, key); v != nil {
		return v, nil
	}
	if !tx.Writable() {
		return nil, Errorf(KindInternal, "secret_missing", "secret %q has not been created yet", name)
	}
	v := make([]byte, 32)
	rand.Read(v)
	return v, tx.PutRaw(BucketMeta, key, v)
}
