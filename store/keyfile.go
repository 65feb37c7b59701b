package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// A ledger's master secrets live in a key file beside nothing of the ledger: a copy of
// the ledger file (or a dump of its database) alone then holds no key to its tags, its
// SUN keys or its card numbers. The file is JSON, mode 0600:
//
//	{"format": "tagpay-keys", "version": 1, "created_at": "…",
//	 "keys": {"root": "<64 hex>", "tag_mac": "<64 hex>", "pan_hash": "<64 hex>"}}
//
// tag_mac and pan_hash are kept as they are, since tag contents and card hashes already
// made under them must stay valid when a ledger's secrets move out. Every other secret
// (the key that encrypts records in the ledger, per-purpose master keys) is derived
// from root, so a key file never needs to change once written: replicas sharing one
// copy of it never diverge.

const (
	keyFileFormat  = "tagpay-keys"
	keyFileVersion = 1
	keyLen         = 32
	keyRoot        = "root"
)

// Names of the secrets a key file holds as such.
const (
	SecretTagMAC  = "tag_mac"
	SecretPANHash = "pan_hash"
)

// Keyring is the loaded content of a key file. It is immutable and safe for concurrent
// use.
type Keyring struct {
	path string
	keys map[string][]byte
	aead cipher.AEAD
	sum  string // binds a ledger to this key file; see check
}

type keyFileDoc struct {
	Format    string            `json:"format"`
	Version   int               `json:"version"`
	CreatedAt time.Time         `json:"created_at"`
	Keys      map[string]string `json:"keys"`
}

// Path is the key file the keyring was read from.
func (k *Keyring) Path() string { return k.path }

// ID names the keyring in messages: a short digest that reveals nothing of the keys.
func (k *Keyring) ID() string { return k.sum[:12] }

// check is what a ledger stores to know which key file it belongs to: a digest of every
// key in the file, so a key file that differs in any key is told apart.
func keyCheck(keys map[string][]byte) string {
	names := make([]string, 0, len(keys))
	for n := range keys {
		names = append(names, n)
	}
	slices.Sort(names)
	h := sha256.New()
	h.Write([]byte("tagpay key check v1"))
	for _, n := range names {
		h.Write([]byte{0, byte(len(n))})
		h.Write([]byte(n))
		h.Write(keys[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func newKeyring(path string, keys map[string][]byte) (*Keyring, error) {
	root := keys[keyRoot]
	if len(root) != keyLen {
		return nil, Errorf(KindCorrupt, "keys_damaged", "key file %s has no %d-byte root key", path, keyLen)
	}
	sealKey, err := hkdf.Expand(sha256.New, root, "tagpay seal v1", keyLen)
	if err != nil {
		return nil, fmt.Errorf("deriving the sealing key: %w", err)
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	return &Keyring{path: path, keys: keys, aead: aead, sum: keyCheck(keys)}, nil
}

// Secret is the named 32-byte secret: the one the key file holds under that name
// (tag_mac, pan_hash, or any moved out of an older ledger), else one derived from the
// root key for that name alone.
func (k *Keyring) Secret(name string) []byte {
	if name != keyRoot {
		if v, ok := k.keys[name]; ok {
			return slices.Clone(v)
		}
	}
	return k.expand("tagpay secret v1"+lengthPrefixed(name), keyLen)
}

// MasterKey is the AES-128 master key of one purpose (say "ntag424_sdm" or
// "ntag21x_password"), for a per-tag diversification such as AN10922's to start from.
// Each purpose name gives an independent key; the same name always gives the same key.
func (k *Keyring) MasterKey(name string) []byte {
	return k.expand("tagpay master v1"+lengthPrefixed(name), 16)
}

// DeriveSecret is a 32-byte secret for purpose name and context info (a tag's UID, say):
// HKDF-SHA256 under the root key. Distinct (name, info) pairs give independent secrets;
// take a prefix for a shorter one (an NTAG21x password is 4 bytes).
func (k *Keyring) DeriveSecret(name string, info []byte) []byte {
	return k.expand("tagpay derive v1"+lengthPrefixed(name)+string(info), keyLen)
}

// lengthPrefixed keeps a purpose name from running into what follows it.
func lengthPrefixed(s string) string {
	return string([]byte{byte(len(s) >> 8), byte(len(s))}) + s
}

func (k *Keyring) expand(info string, n int) []byte {
	out, err := hkdf.Expand(sha256.New, k.keys[keyRoot], info, n)
	if err != nil {
		// Only a length beyond 255 hash blocks fails, and every length here is fixed.
		panic(err)
	}
	return out
}

// sealedMagic starts every sealed record. Its first byte can begin no JSON value, so a
// record written in clear by an older tagpay is told apart from a sealed one.
var sealedMagic = []byte{0, 'T', 'P', 'S', 1}

func sealedAD(b Bucket, key string) []byte {
	return []byte("tagpay sealed v1\x00" + string(b) + "\x00" + key)
}

// seal encrypts plain for the record at b/key: the associated data binds it there, so a
// sealed value moved to another record does not open.
func (k *Keyring) seal(b Bucket, key string, plain []byte) []byte {
	nonce := make([]byte, k.aead.NonceSize())
	rand.Read(nonce)
	out := append(slices.Clone(sealedMagic), nonce...)
	return k.aead.Seal(out, nonce, plain, sealedAD(b, key))
}

func isSealed(v []byte) bool {
	return len(v) >= len(sealedMagic) && subtle.ConstantTimeCompare(v[:len(sealedMagic)], sealedMagic) == 1
}

func (k *Keyring) open(b Bucket, key string, v []byte) ([]byte, error) {
	if !isSealed(v) {
		return nil, Errorf(KindCorrupt, "ledger_corrupt", "record %s/%s should be encrypted and is not", b, key)
	}
	rest := v[len(sealedMagic):]
	n := k.aead.NonceSize()
	if len(rest) < n+k.aead.Overhead() {
		return nil, Errorf(KindCorrupt, "ledger_corrupt", "encrypted record %s/%s is truncated", b, key)
	}
	plain, err := k.aead.Open(nil, rest[:n], rest[n:], sealedAD(b, key))
	if err != nil {
		return nil, Errorf(KindCorrupt, "ledger_corrupt", "encrypted record %s/%s does not open under key file %s (damaged, or moved from another record)", b, key, k.path)
	}
	return plain, nil
}

// LoadKeyring reads the key file at path. A missing file is KindUnavailable with code
// keys_missing; a file others may read is refused, as ssh refuses such a private key.
func LoadKeyring(path string) (*Keyring, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Wrap(KindUnavailable, "keys_missing", err, "key file %s is missing", path)
	}
	if err != nil {
		return nil, Wrap(KindUnavailable, "keys_unreadable", err, "cannot read key file %s", path)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, Wrap(KindUnavailable, "keys_unreadable", err, "cannot read key file %s", path)
	}
	if !info.Mode().IsRegular() {
		return nil, Errorf(KindUnavailable, "keys_unreadable", "key file %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		return nil, Errorf(KindUnavailable, "keys_insecure", "key file %s may be read by others (mode %04o); make it mode 0600 (chmod 600)", path, info.Mode().Perm())
	}
	var doc keyFileDoc
	dec := json.NewDecoder(f)
	if err := dec.Decode(&doc); err != nil {
		return nil, Wrap(KindCorrupt, "keys_damaged", err, "key file %s is damaged", path)
	}
	if doc.Format != keyFileFormat {
		return nil, Errorf(KindCorrupt, "keys_damaged", "%s is not a tagpay key file", path)
	}
	if doc.Version != keyFileVersion {
		return nil, Errorf(KindConflict, "keys_version", "key file %s has version %d; this tagpay reads version %d", path, doc.Version, keyFileVersion)
	}
	keys := map[string][]byte{}
	for name, h := range doc.Keys {
		v, err := hex.DecodeString(h)
		if err != nil || len(v) != keyLen {
			// Never echo the value.
			return nil, Errorf(KindCorrupt, "keys_damaged", "key %q of key file %s is not %d bytes of hex", name, path, keyLen)
		}
		keys[name] = v
	}
	return newKeyring(path, keys)
}

// freshKeys are the keys of a new key file: a random root, and the given secrets (those
// moved out of a ledger) or random ones.
func freshKeys(given map[string][]byte) map[string][]byte {
	keys := map[string][]byte{}
	for _, name := range []string{keyRoot, SecretTagMAC, SecretPANHash} {
		v := make([]byte, keyLen)
		rand.Read(v)
		keys[name] = v
	}
	for name, v := range given {
		keys[name] = slices.Clone(v)
	}
	return keys
}

// createKeyFile writes a new key file at path, mode 0600, and never over an existing
// one: the file is written whole and synced beside path, then linked into place, so a
// crash leaves either no key file or a complete one.
func createKeyFile(path string, keys map[string][]byte) (*Keyring, error) {
	ring, err := newKeyring(path, keys)
	if err != nil {
		return nil, err
	}
	doc := keyFileDoc{Format: keyFileFormat, Version: keyFileVersion, CreatedAt: time.Now().UTC().Truncate(time.Second), Keys: map[string]string{}}
	for name, v := range keys {
		doc.Keys[name] = hex.EncodeToString(v)
	}
	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding key file: %w", err)
	}
	raw = append(raw, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, Wrap(KindUnavailable, "keys_unwritable", err, "cannot create the folder of key file %s", path)
	}
	tmp, err := os.CreateTemp(dir, ".tagpay-keys-*")
	if err != nil {
		return nil, Wrap(KindUnavailable, "keys_unwritable", err, "cannot write key file %s", path)
	}
	defer os.Remove(tmp.Name())
	fail := func(err error) (*Keyring, error) {
		tmp.Close()
		return nil, Wrap(KindUnavailable, "keys_unwritable", err, "cannot write key file %s", path)
	}
	if err := tmp.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := tmp.Write(raw); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return nil, Wrap(KindUnavailable, "keys_unwritable", err, "cannot write key file %s", path)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, Errorf(KindConflict, "keys_exist", "key file %s already exists; refusing to replace it", path)
		}
		return nil, Wrap(KindUnavailable, "keys_unwritable", err, "cannot write key file %s", path)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return ring, nil
}

// cleanKeysPath makes a key file path absolute, so that messages name one file whatever
// the working folder of the reader.
func cleanKeysPath(p string) string {
	p = strings.TrimSpace(p)
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}
