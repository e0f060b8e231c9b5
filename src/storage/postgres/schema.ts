// DDL of the first PostgreSQL schema version, generated from the field catalogue like the SQLite
// one, so tables and domain types cannot drift apart. Later changes must be new migrations
// (migrations.ts): a database that applied version 1 never runs it again.
import type { FieldKind } from '../../domain/entities.ts';
import type { EntityName } from '../../domain/types.ts';
import { OUTCOMES_TABLE, quoteIdentifier as q, RATES_VERSION_TABLE, RUNNING_TABLE, SEQUENCE_COLUMN } from './sql.ts';
import { PG_TABLE_SPECS, type PgColumnSpec, type PgTableSpec } from './table-spec.ts';

/** Tables whose writes change the rates a tenant's calls are priced with. */
export const RATE_ENTITIES: readonly EntityName[] = ['carrier', 'pricelist', 'pricelist_rate'];

// Text compares and sorts byte by byte (COLLATE "C"), as SQLite's BINARY collation does, so
// lists sort the same on both and natural keys are equal exactly when their bytes are.
const TEXT = 'TEXT COLLATE "C"';

function sqlType(kind: FieldKind): string {
  switch (kind) {
    case 'id':
    case 'string':
    case 'enum':
      return TEXT;
    case 'json':
      return 'JSON';
    case 'bool':
      return 'BOOLEAN';
    case 'int':
    case 'money':
    case 'micros':
    case 'date':
      return 'BIGINT';
  }
}

function columnDefinition(column: PgColumnSpec): string {
  const parts = [q(column.name), sqlType(column.kind)];
  if (column.notNull) parts.push('NOT NULL');
  if (column.kind === 'id') parts.push('UNIQUE');
  return parts.join(' ');
}

// The sequence is an identity column: rows get increasing numbers in insertion order, which is
// the natural order lists fall back to.
function entityTableDdl(spec: PgTableSpec): string {
  const table = spec.entity.table;
  const columns = [`${q(SEQUENCE_COLUMN)} BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY`, ...spec.columns.map(columnDefinition)];
  return [
    `CREATE TABLE ${q(table)} (\n  ${columns.join(',\n  ')}\n);`,
    `CREATE UNIQUE INDEX ${q(`${table}_natural_key`)} ON ${q(table)} (${spec.entity.key.map(q).join(', ')});`,
  ].join('\n');
}

// A rolled-back edit must never leave a version that a later, different edit reuses (a cache
// filled inside the rolled-back transaction would then serve its rates), so every bump draws a
// fresh random 52-bit value (a safe integer), never 0, which stands for "never written".
const RANDOM_VERSION = '(1 + floor(random() * 4503599627370494))::bigint';

// A trigger rather than repository code, so that no write path can forget to invalidate the
// cached rate indexes; it runs inside the writing transaction. SET search_path FROM CURRENT pins
// the schema the function was created in.
function ratesVersionFunctionDdl(): string {
  const bump = (tenant: string): string =>
    `INSERT INTO ${RATES_VERSION_TABLE} (tenant, version) VALUES (${tenant}, ${RANDOM_VERSION}) ` +
    'ON CONFLICT (tenant) DO UPDATE SET version = EXCLUDED.version;';
  return `CREATE FUNCTION bump_rates_version() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF TG_OP = 'UPDATE' OR TG_OP = 'DELETE' THEN
    ${bump('OLD.tenant')}
  END IF;
  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.tenant IS DISTINCT FROM OLD.tenant) THEN
    ${bump('NEW.tenant')}
  END IF;
  RETURN NULL;
END
$$;`;
}

/**
 * Migration 2: the bump also notifies (delivered when the writing transaction commits), so that
 * processes caching rates versions (rates-version-cache.ts) drop them. The payload is the schema,
 * since schemas of one database share the channel; PostgreSQL sends one notification per
 * transaction for identical ones, however many rows it wrote.
 */
export function ratesNotificationDdl(channel: string): string {
  const bump = (tenant: string): string =>
    `INSERT INTO ${RATES_VERSION_TABLE} (tenant, version) VALUES (${tenant}, ${RANDOM_VERSION}) ` +
    'ON CONFLICT (tenant) DO UPDATE SET version = EXCLUDED.version;';
  return `CREATE OR REPLACE FUNCTION bump_rates_version() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF TG_OP = 'UPDATE' OR TG_OP = 'DELETE' THEN
    ${bump('OLD.tenant')}
  END IF;
  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.tenant IS DISTINCT FROM OLD.tenant) THEN
    ${bump('NEW.tenant')}
  END IF;
  PERFORM pg_notify('${channel}', current_schema());
  RETURN NULL;
END
$$;`;
}

/**
 * Migration 3. A begin checks that its call is not settled yet by looking up the call's outcomes;
 * under SERIALIZABLE that read locks the B-tree page where the key would be, and calls with
 * neighbouring tags (Call-IDs with a counter) share that page, so every concurrent end that
 * stored an outcome there made a read-write conflict with the begin, and often one of them failed
 * and ran again. A hash index locks only the key's bucket: neighbouring tags land in different
 * buckets. Buckets are added as the table grows (one per ~300 rows at the default fill); filled
 * to 10 %, a bucket splits every ~40 rows, so a young table already has enough of them (bench,
 * 2,000 calls from empty: 400 repeated transactions at the default fill, 137 at 10 %), for an
 * index of about 200 bytes per outcome row. (account-store.ts makes the check use it.)
 */
export const OUTCOMES_BY_TRANSACTION_DDL = `CREATE INDEX ${OUTCOMES_TABLE}_transaction ON ${OUTCOMES_TABLE} USING hash (transaction_tag) WITH (fillfactor = 10);`;

export function initialSchemaDdl(): string {
  const statements: string[] = [];
  for (const spec of Object.values(PG_TABLE_SPECS)) statements.push(entityTableDdl(spec));

  // Running transactions hang off the account row by id, so they follow the account when its
  // tag or tenant is changed by an update by id, and disappear with it.
  statements.push(`CREATE TABLE ${RUNNING_TABLE} (
  ${q(SEQUENCE_COLUMN)} BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id ${TEXT} NOT NULL REFERENCES accounts (id) ON DELETE CASCADE ON UPDATE CASCADE,
  transaction_tag ${TEXT} NOT NULL,
  proxy_tag ${TEXT},
  source ${TEXT},
  source_ip ${TEXT},
  destination ${TEXT},
  carrier_ip ${TEXT},
  tags JSON,
  destination_rate JSON,
  in_progress BOOLEAN NOT NULL,
  inbound BOOLEAN NOT NULL,
  "primary" BOOLEAN NOT NULL,
  timestamp_begin BIGINT NOT NULL,
  timestamp_end BIGINT
);
CREATE UNIQUE INDEX ${RUNNING_TABLE}_account_transaction ON ${RUNNING_TABLE} (account_id, transaction_tag);
CREATE INDEX ${RUNNING_TABLE}_transaction ON ${RUNNING_TABLE} (transaction_tag);`);

  statements.push(`CREATE TABLE ${OUTCOMES_TABLE} (
  tenant ${TEXT} NOT NULL,
  transaction_tag ${TEXT} NOT NULL,
  account_tag ${TEXT} NOT NULL,
  outcome ${TEXT} NOT NULL CHECK (outcome IN ('ended', 'rolled_back', 'recorded')),
  at BIGINT NOT NULL,
  PRIMARY KEY (tenant, transaction_tag, account_tag)
);`);

  statements.push(`CREATE TABLE ${RATES_VERSION_TABLE} (
  tenant ${TEXT} NOT NULL PRIMARY KEY,
  version BIGINT NOT NULL
);`);
  statements.push(ratesVersionFunctionDdl());
  for (const entity of RATE_ENTITIES) {
    const table = PG_TABLE_SPECS[entity].entity.table;
    statements.push(
      `CREATE TRIGGER ${q(`${table}_rates_version`)} AFTER INSERT OR UPDATE OR DELETE ON ${q(table)} ` +
        'FOR EACH ROW EXECUTE FUNCTION bump_rates_version();',
    );
  }
  return statements.join('\n\n');
}
