package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgSchemaVersion is the layout of tables and views this code reads and writes on
// PostgreSQL. It is apart from SchemaVersion (the records, the same on both engines):
// a view can change without the records changing.
const pgSchemaVersion = 1

// pgMigrations[i] takes a database from version i to i+1. Each runs in the transaction
// that records the new version, under the schema advisory lock.
var pgMigrations = []string{
	// 0 → 1: the records, and read-only views of them for operators.
	`
CREATE TABLE tagpay_kv (
	bucket text NOT NULL,
	key bytea NOT NULL,
	value bytea NOT NULL,
	PRIMARY KEY (bucket, key)
);
COMMENT ON TABLE tagpay_kv IS 'tagpay ledger records: written by tagpay only; read the views';

-- A record that is not JSON (a secret, a counter) or is damaged reads as NULL, so that one
-- bad row does not break a view.
CREATE FUNCTION tagpay_json(v bytea) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
	RETURN convert_from(v, 'UTF8')::jsonb;
EXCEPTION WHEN others THEN
	RETURN NULL;
END $$;

-- Amounts are money objects ({"amount", "currency"}); records of older tagpays kept bare
-- minor units. Either reads as minor units.
CREATE FUNCTION tagpay_minor(j jsonb) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE jsonb_typeof(j) WHEN 'object' THEN (j->>'amount')::bigint WHEN 'number' THEN (j #>> '{}')::bigint END
$$;

CREATE VIEW accounts AS
SELECT d->>'id' AS id, d->>'name' AS name, d->>'kind' AS kind, d->>'currency' AS currency,
	tagpay_minor(d->'balance') AS balance, (d->>'created_at')::timestamptz AS created_at
FROM tagpay_kv, tagpay_json(value) AS d
WHERE bucket = 'accounts';

CREATE VIEW transfers AS
SELECT d->>'id' AS id, d->>'kind' AS kind, d->>'from' AS from_account, d->>'to' AS to_account,
	(d->'amount'->>'amount')::bigint AS amount, d->'amount'->>'currency' AS currency,
	d->>'ref' AS ref, d->>'memo' AS memo, (d->>'created_at')::timestamptz AS created_at
FROM tagpay_kv, tagpay_json(value) AS d
WHERE bucket = 'transfers';

CREATE VIEW postings AS
SELECT d->>'id' AS transfer, p.n AS posting, p.e->>'account' AS account,
	tagpay_minor(p.e->'amount') AS amount, d->'amount'->>'currency' AS currency,
	(d->>'created_at')::timestamptz AS created_at
FROM tagpay_kv, tagpay_json(value) AS d,
	jsonb_array_elements(d->'postings') WITH ORDINALITY AS p(e, n)
WHERE bucket = 'transfers';

CREATE VIEW orders AS
SELECT d->>'id' AS id, d->>'status' AS status, d->>'payer' AS payer, d->>'payee' AS payee,
	d->>'payee_name' AS payee_name, (d->'amount'->>'amount')::bigint AS amount,
	d->'amount'->>'currency' AS currency, (d->'refunded'->>'amount')::bigint AS refunded,
	d->>'memo' AS memo, d->>'reason' AS reason, d->>'tag' AS tag, d->>'reply' AS reply,
	d->'instrument'->>'kind' AS instrument, d->>'transfer' AS transfer,
	(d->>'created_at')::timestamptz AS created_at, (d->>'paid_at')::timestamptz AS paid_at
FROM tagpay_kv, tagpay_json(value) AS d
WHERE bucket = 'orders';

CREATE VIEW tags AS
SELECT d->>'id' AS id, d->>'ref' AS ref, d->>'uid' AS uid, d->>'kind' AS kind,
	d->>'merchant' AS merchant, d->>'label' AS label, d->>'status' AS status,
	d->>'reason' AS reason, (d->'amount'->>'amount')::bigint AS amount, d->>'currency' AS currency,
	d->>'base_url' AS base_url, (d->>'created_at')::timestamptz AS created_at,
	(d->>'updated_at')::timestamptz AS updated_at
FROM tagpay_kv, tagpay_json(value) AS d
WHERE bucket = 'tags';

CREATE VIEW events AS
SELECT d->>'id' AS id, (d->>'at')::timestamptz AS at, d->>'actor' AS actor, d->>'action' AS action,
	d->>'subject' AS subject, d->'detail' AS detail
FROM tagpay_kv, tagpay_json(value) AS d
WHERE bucket = 'audit';
`,
}

// migrate creates or upgrades the schema. Replicas starting together queue on an
// advisory lock, so one creates the tables and the others find them made. It uses a
// connection of its own, which takes the lock with it when it closes.
func (e *pgEngine) migrate(ctx context.Context, cfg *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(ctx, cfg.Copy())
	if err != nil {
		return e.setupFailure(ctx, err)
	}
	defer conn.Close(context.Background())
	var schema *string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return e.setupFailure(ctx, err)
	}
	if schema == nil {
		return Errorf(KindInvalid, "invalid_database_url", "database %s has no schema to hold the ledger: its search_path names none that exists", e.url)
	}
	e.schema = *schema
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", e.lockKey("schema")); err != nil {
		if ctx.Err() != nil {
			return Errorf(KindUnavailable, "ledger_in_use", "database %s: another tagpay has been upgrading its schema for too long", e.url)
		}
		return e.setupFailure(ctx, err)
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return e.setupFailure(ctx, err)
	}
	defer rollback(tx)
	_, err = tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS tagpay_schema (
		version integer NOT NULL,
		one boolean PRIMARY KEY DEFAULT true CHECK (one)
	)`)
	if err != nil {
		return e.setupFailure(ctx, err)
	}
	version := 0
	if err := tx.QueryRow(ctx, "SELECT version FROM tagpay_schema").Scan(&version); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return e.setupFailure(ctx, err)
	}
	if version > pgSchemaVersion {
		return Errorf(KindConflict, "schema_version", "database %s has schema version %d; this tagpay reads version %d", e.url, version, pgSchemaVersion)
	}
	if version == pgSchemaVersion {
		return nil
	}
	for v := version; v < pgSchemaVersion; v++ {
		if _, err := tx.Exec(ctx, pgMigrations[v]); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && (pe.Code == "42P07" || pe.Code == "42723") { // duplicate table or view, function
				return Wrap(KindConflict, "schema_conflict", e.failure(err), "database %s already has a table, view or function named like one of tagpay's; give tagpay a schema of its own (search_path in the URL)", e.url)
			}
			return e.setupFailure(ctx, fmt.Errorf("upgrading the schema to version %d: %w", v+1, e.failure(err)))
		}
	}
	if version == 0 {
		_, err = tx.Exec(ctx, sqlInsert+", ($1, $4, $5)", string(BucketMeta),
			metaMagic, magicValue, metaSchema, binary.BigEndian.AppendUint32(nil, SchemaVersion))
		if err == nil {
			_, err = tx.Exec(ctx, "INSERT INTO tagpay_schema (version) VALUES ($1)", pgSchemaVersion)
		}
	} else {
		_, err = tx.Exec(ctx, "UPDATE tagpay_schema SET version = $1", pgSchemaVersion)
	}
	if err != nil {
		return e.setupFailure(ctx, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return e.setupFailure(ctx, err)
	}
	return nil
}

func (e *pgEngine) setupFailure(ctx context.Context, err error) error {
	var se *Error
	if errors.As(err, &se) {
		return err
	}
	if ctx.Err() != nil {
		return Wrap(KindUnavailable, "ledger_unavailable", e.failure(err), "database %s did not answer in time", e.url)
	}
	return e.classify(e.failure(err), modeUpdate, false)
}
