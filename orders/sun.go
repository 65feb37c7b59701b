package orders

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/tagpay/tagpay/nfc"
	"github.com/tagpay/tagpay/store"
)

// checkSUN verifies the SUN message of a content parsed from SUN tag t: the base is
// the tag's, the CMAC verifies under the tag's keys, the UID inside is the tag's and the
// read counter is newer than any seen. It returns the counter, which the caller stores
// in the same transaction as whatever the tap produced.
func checkSUN(tx *store.Tx, t Tag, c Content, raw string) (uint32, error) {
	if c.Kind != TagSUN || c.Base() != t.Content {
		return 0, store.Errorf(store.KindDeclined, "content_altered", "content altered (MAC check failed): the URL is not the registered SUN URL of tag %s", t.Ref).WithParam("content")
	}
	var keys sunKeys
	ok, err := tx.GetSealed(store.BucketSUNKeys, t.ID, &keys)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, store.Errorf(store.KindCorrupt, "ledger_corrupt", "SUN tag %s has no keys in the ledger", t.ID)
	}
	meta, err1 := hex.DecodeString(keys.MetaKey)
	file, err2 := hex.DecodeString(keys.FileKey)
	if err1 != nil || err2 != nil {
		return 0, store.Errorf(store.KindCorrupt, "ledger_corrupt", "the SUN keys of tag %s are damaged", t.ID)
	}
	res, err := nfc.VerifySUN(raw, meta, file)
	if err != nil {
		return 0, store.Wrap(store.KindDeclined, "sun_invalid", err, "SUN CMAC invalid").WithParam("content")
	}
	if !res.Valid {
		return 0, store.Errorf(store.KindDeclined, "sun_invalid", "SUN CMAC invalid: the URL was not made by this tag").WithParam("content")
	}
	if got := strings.ToUpper(hex.EncodeToString(res.UID)); got != t.UID {
		return 0, store.Errorf(store.KindDeclined, "possible_clone", "content does not match this tag (possible clone): the SUN message names UID %s", got).WithParam("content")
	}
	last, seen, err := sunCounter(tx, t.ID)
	if err != nil {
		return 0, err
	}
	if seen && res.Counter <= last {
		return 0, store.Errorf(store.KindDeclined, "sun_replayed", "SUN counter replayed: read counter %d, last seen %d", res.Counter, last).WithParam("content")
	}
	return res.Counter, nil
}

// sunCounter is the last read counter seen for a SUN tag.
func sunCounter(tx *store.Tx, tagID string) (uint32, bool, error) {
	v := tx.GetRaw(store.BucketSUNCounters, tagID)
	switch {
	case v == nil:
		return 0, false, nil
	case len(v) != 4:
		return 0, false, store.Errorf(store.KindCorrupt, "ledger_corrupt", "the SUN counter of tag %s is damaged", tagID)
	}
	return binary.BigEndian.Uint32(v), true, nil
}

func putSUNCounter(tx *store.Tx, tagID string, n uint32) error {
	if err := tx.PutRaw(store.BucketSUNCounters, tagID, binary.BigEndian.AppendUint32(nil, n)); err != nil {
		return fmt.Errorf("storing the SUN counter of %s: %w", tagID, err)
	}
	return nil
}
