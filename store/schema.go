package store

// Bucket names one bucket of records: a bbolt bucket, or on PostgreSQL the value of the
// bucket column of tagpay_kv. Every bucket of the ledger is declared here, once, and
// created when a ledger is created; domain packages use these names, never their own.
type Bucket string

const (
	BucketMeta        Bucket = "meta"         // schema version, key file binding (keys_check)
	BucketAccounts    Bucket = "accounts"     // acct_id → Account
	BucketWorld       Bucket = "world"        // currency → acct_id of that currency's world account
	BucketTransfers   Bucket = "transfers"    // tr_id → Transfer (with its two postings)
	BucketIdempotency Bucket = "idempotency"  // actor/key → IdempotencyRecord
	BucketAudit       Bucket = "audit"        // evt_id → Event
	BucketTags        Bucket = "tags"         // tag_id → orders.Tag
	BucketTagIndex    Bucket = "tag_index"    // "uid:<HEX>", "ref:<tagref>" → tag_id
	BucketReplies     Bucket = "replies"      // rep_id → orders.ParsingReply
	BucketOrders      Bucket = "orders"       // ord_id → orders.Order
	BucketOrderIndex  Bucket = "order_index"  // "payer:<acct_id>/<ord_id>", "payee:…", "tag:<tag_id>/…" → nothing
	BucketDevices     Bucket = "devices"      // dev_id → cards.Device
	BucketLogins      Bucket = "logins"       // acct_id/dev_id → cards.Login
	BucketCards       Bucket = "cards"        // card_id → cards.Card
	BucketTokens      Bucket = "tokens"       // tok_id → cards.Token
	BucketTokenIndex  Bucket = "token_index"  // token number → tok_id
	BucketKeys        Bucket = "keys"         // key_id → api key record (hash only)
	BucketKeyIndex    Bucket = "key_index"    // key hash → key_id
	BucketSUNCounters Bucket = "sun_counters" // tag_id → last SUN counter seen (big-endian uint32)
	BucketSUNKeys     Bucket = "sun_keys"     // tag_id → the SUN tag's meta and file keys, sealed under the key file; never returned
	BucketEvents      Bucket = "events"       // evt_id → DomainEvent, what happened as the API shows it
	BucketOutbox      Bucket = "outbox"       // evt_id → OutboxItem: events not yet handed to webhooks; evt_id/whk_id → a delivery still due
	BucketWebhooks    Bucket = "webhooks"     // whk_id → webhook endpoint (with its signing secret; never returned)
	BucketDeliveries  Bucket = "deliveries"   // whk_id/att_id → one delivery attempt
)

// allBuckets is created in every new ledger and checked on open.
var allBuckets = []Bucket{
	BucketMeta, BucketAccounts, BucketWorld, BucketTransfers, BucketIdempotency, BucketAudit,
	BucketTags, BucketTagIndex, BucketReplies, BucketOrders, BucketOrderIndex, BucketDevices, BucketLogins,
	BucketCards, BucketTokens, BucketTokenIndex, BucketKeys, BucketKeyIndex, BucketSUNCounters,
	BucketSUNKeys, BucketEvents, BucketOutbox, BucketWebhooks, BucketDeliveries,
}

// appendOnly are the buckets whose keys are time-ordered ids, so that new keys land at
// the end.
var appendOnly = map[Bucket]bool{
	BucketAudit: true, BucketTransfers: true, BucketOrders: true, BucketReplies: true,
	BucketEvents: true, BucketOutbox: true,
	// Not time-ordered as a whole, but each prefix (a payer, a payee, a tag) grows at
	// its end, so a split page is not written into again.
	BucketOrderIndex: true,
}

// addedBuckets came after the first ledgers were written: a bbolt file without them is
// still of SchemaVersion, and gets them, empty, when opened for writing. (On PostgreSQL a
// bucket is only a column value, so there is nothing to add.)
var addedBuckets = []Bucket{BucketOrderIndex, BucketEvents, BucketOutbox, BucketWebhooks, BucketDeliveries}

// boltBuckets are a bbolt file's own, besides allBuckets: made with the file, or when a
// file without them is first opened for writing, and never copied (Copy).
var boltBuckets = []Bucket{bucketIdemFilter}

// SchemaVersion is the layout of the records this code reads and writes, on both engines.
// A ledger of another version is refused rather than guessed at.
const SchemaVersion = 1

// boltSchemaVersion is what the schema version of a bbolt file says: the records of
// SchemaVersion, some of them packed (pack.go) from version 2 on, idempotency records in
// generations (idemgen.go) from version 3 on. A file of an earlier version is read as it
// is and marked 3 when it is first opened for writing, so that an older tagpay refuses
// it instead of misreading it: one of version 2 would not find the records of a
// generation, and would run a retried payment again.
const boltSchemaVersion = 3

var (
	metaSchema = []byte("schema_version")
	metaMagic  = []byte("application")
	magicValue = []byte("tagpay-ledger")
)
