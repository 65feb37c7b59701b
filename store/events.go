package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DomainEvent is one state change that matters outside the ledger, as the API shows the
// object it changed. It is written in the transaction that made the change, so it exists
// exactly when the change does.
type DomainEvent struct {
	ID       string          `json:"id"` // evt_…, time-ordered
	Type     string          `json:"type"`
	At       time.Time       `json:"created_at"`
	Subject  string          `json:"subject"`  // id of the object: the order, the tag, …
	Accounts []string        `json:"accounts"` // whose business it is; roles see the events of accounts they own
	Data     json.RawMessage `json:"data"`     // the object as the API shows it
}

// outboxPending is the outbox value of an event not yet handed to the webhooks.
var outboxPending = []byte("{}")

// Emit records event typ about subject, carrying object (as JSON), for the accounts it
// concerns, in this transaction. While any webhook endpoint exists it also queues the
// event in the outbox, so that the server hands it to the matching webhooks even if it
// stops right after the commit: one small record per event, written without reading
// any shared record or locking the endpoints (that would serialise the taps). An
// event made while no endpoint exists is not delivered to one created later, and a
// ledger without endpoints keeps no outbox.
func (tx *Tx) Emit(typ, subject string, object any, accounts ...string) error {
	// An object already encoded (by json.Marshal, for its own record) is not encoded again.
	data, ok := object.(json.RawMessage)
	if !ok {
		var err error
		if data, err = json.Marshal(object); err != nil {
			return fmt.Errorf("encoding the %s event of %s: %w", typ, subject, err)
		}
	}
	acc := make([]string, 0, len(accounts))
	for _, a := range accounts {
		if a != "" && !slices.Contains(acc, a) {
			acc = append(acc, a)
		}
	}
	// The data is stored without its derived money text (as PutJSON stores records), so
	// that a record written from the same encoding can refer to it (PutJSON).
	data = stripFormatted(data)
	e := DomainEvent{ID: tx.NewID(PrefixEvent), Type: typ, At: tx.now, Subject: subject, Accounts: acc, Data: data}
	if err := tx.Put(BucketEvents, e.ID, e); err != nil {
		return err
	}
	tx.snapshots = append(tx.snapshots, emitted{subject: subject, event: e.ID, data: data})
	return tx.PutRawWhileAny(BucketOutbox, e.ID, outboxPending, BucketWebhooks)
}

// VisibleTo reports whether actor a may see event e: admins see all, others the events
// of an account they own.
func (e DomainEvent) VisibleTo(a Actor) bool {
	if a.Role == RoleAdmin {
		return true
	}
	return slices.ContainsFunc(e.Accounts, a.Owns)
}

// IDFloor is the smallest id of the prefix that NewID could make at t or later: ids
// compare as strings in the order they were made, so a scan after IDFloor(t) sees every
// id made since t.
func IDFloor(prefix string, t time.Time) string {
	var raw [16]byte
	ms := t.UnixMilli()
	if ms < 0 {
		ms = 0
	}
	binary.BigEndian.PutUint64(raw[:8], uint64(ms)<<16)
	return prefix + "_" + encode128(raw)
}

// IDTime is when id was made, to the millisecond; false when it is not an id of prefix.
func IDTime(id, prefix string) (time.Time, bool) {
	if !ValidID(id, prefix) {
		return time.Time{}, false
	}
	var hi, lo uint64
	for _, r := range id[len(prefix)+1:] {
		v := uint64(strings.IndexRune(idAlphabet, r))
		hi = hi<<5 | lo>>59
		lo = lo<<5 | v
	}
	return time.UnixMilli(int64(hi >> 16)).UTC(), true
}

// ForEachAfter calls fn for the keys of bucket b after `after`, in key order, reading
// only those: a follower of the events asks for the few after the last one it saw, and
// must not walk the whole bucket each time. ErrStop ends the walk without error.
func (tx *Tx) ForEachAfter(b Bucket, after string, fn func(key string, value []byte) error) error {
	return tx.ForEachFrom(b, "", after, false, fn)
}

// MarshalJSON writes the event by hand (see JSONObject): one is written with every tap.
func (e DomainEvent) MarshalJSON() ([]byte, error) {
	o := NewJSONObject(256 + len(e.Data))
	o.Str("id", e.ID)
	o.Str("type", e.Type)
	if err := o.Time("created_at", e.At); err != nil {
		return nil, err
	}
	o.Str("subject", e.Subject)
	o.Strs("accounts", e.Accounts)
	if len(e.Data) > 0 && !json.Valid(e.Data) {
		return nil, fmt.Errorf("event %s: its data is not JSON", e.ID)
	}
	o.Raw("data", e.Data)
	return o.Bytes(), nil
}
