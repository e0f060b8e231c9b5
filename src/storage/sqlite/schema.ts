// DDL of the first schema version, generated from the field catalogue so that tables and the
// domain types cannot drift apart. Later schema changes must be new migrations (see
// migrations.ts), because a database that already applied version 1 never runs it again.
import type { FieldKind } from '../../domain/entities.ts';
import type { EntityName } from '../../domain/types.ts';
import { quoteIdentifier as q, SEQUENCE_COLUMN } from './sql-names.ts';
import { TABLE_SPECS, type ColumnSpec, type TableSpec } from './table-spec.ts';

/** Tables whose writes change the rates a tenant's calls are priced with. */
export const RATE_ENTITIES: readonly EntityName[] = ['carrier', 'pricelist', 'pricelist_rate'];

export const RUNNING_TABLE = 'running_transactions';
export const OUTCOMES_TABLE = 'operation_outcomes';
export const RATES_VERSION_TABLE = 'rates_versions';

function sqlType(kind: FieldKind): string {
  switch (kind) {
    case 'id':
    case 'string':
    case 'enum':
    case 'json':
      return 'TEXT';
    case 'int':
    case 'money':
    case 'micros':
    case 'date':
    case 'bool':
      return 'INTEGER';
  }
}

function columnDefinition(column: ColumnSpec): string {
  const parts = [q(column.name), sqlType(column.kind)];
  if (column.notNull) parts.push('NOT NULL');
  if (column.kind === 'id') parts.push('UNIQUE');
  if (column.kind === 'bool') parts.push(`CHECK (${q(column.name)} IN (0, 1))`);
  if (column.kind === 'json') parts.push(`CHECK (${q(column.name)} IS NULL OR json_valid(${q(column.name)}))`);
  return parts.join(' ');
}

// The sequence column is a plain INTEGER PRIMARY KEY: SQLite gives a new row max(rowid) + 1,
// which sorts after every existing row (the natural order) without AUTOINCREMENT's extra
// bookkeeping write on every insert.
function entityTableDdl(spec: TableSpec): string {
  const table = spec.entity.table;
  const columns = [`${q(SEQUENCE_COLUMN)} INTEGER PRIMARY KEY`, ...spec.columns.map(columnDefinition)];
  return [
    `CREATE TABLE ${q(table)} (\n  ${columns.join(',\n  ')}\n) STRICT;`,
    `CREATE UNIQUE INDEX ${q(`${table}_natural_key`)} ON ${q(table)} (${spec.entity.key.map(q).join(', ')});`,
  ].join('\n');
}

function bumpRatesVersion(tenantExpression: string): string {
  return (
    `INSERT INTO ${RATES_VERSION_TABLE} (tenant, version) VALUES (${tenantExpression}, 1) ` +
    `ON CONFLICT (tenant) DO UPDATE SET version = version + 1;`
  );
}

// Triggers rather than repository code, so that no write path (present or future) can forget
// to invalidate the cached rate indexes; they run inside the writing transaction.
function ratesVersionTriggers(table: string): string {
  return [
    `CREATE TRIGGER ${q(`${table}_rates_version_insert`)} AFTER INSERT ON ${q(table)} BEGIN ${bumpRatesVersion('NEW.tenant')} END;`,
    `CREATE TRIGGER ${q(`${table}_rates_version_delete`)} AFTER DELETE ON ${q(table)} BEGIN ${bumpRatesVersion('OLD.tenant')} END;`,
    `CREATE TRIGGER ${q(`${table}_rates_version_update`)} AFTER UPDATE ON ${q(table)} BEGIN ` +
      `${bumpRatesVersion('OLD.tenant')} ` +
      `INSERT INTO ${RATES_VERSION_TABLE} (tenant, version) SELECT NEW.tenant, 1 WHERE NEW.tenant <> OLD.tenant ` +
      `ON CONFLICT (tenant) DO UPDATE SET version = version + 1; END;`,
  ].join('\n');
}

// Version 2 (migration 2): a plain counter can come back. A transaction that bumped it to N+1 and
// was rolled back after a rate cache indexed its rates leaves N behind, and the next committed
// edit makes N+1 again: the cache would then serve the rolled-back rates. So every bump draws a
// fresh random value of 52 bits instead (a safe integer; a repeat is a 1 in 2^52 chance), never 0,
// which stands for "never written".
const RANDOM_VERSION = '(1 + abs(random() % 4503599627370495))';

function bumpToRandomVersion(tenantExpression: string): string {
  return (
    `INSERT INTO ${RATES_VERSION_TABLE} (tenant, version) VALUES (${tenantExpression}, ${RANDOM_VERSION}) ` +
    `ON CONFLICT (tenant) DO UPDATE SET version = excluded.version;`
  );
}

/** Replaces the counting triggers of version 1 by ones that bump to a unique random version. */
export function uniqueRatesVersionDdl(): string {
  const statements: string[] = [];
  for (const entity of RATE_ENTITIES) {
    const table = TABLE_SPECS[entity].entity.table;
    const trigger = (event: string): string => q(`${table}_rates_version_${event}`);
    statements.push(
      `DROP TRIGGER IF EXISTS ${trigger('insert')};`,
      `DROP TRIGGER IF EXISTS ${trigger('delete')};`,
      `DROP TRIGGER IF EXISTS ${trigger('update')};`,
      `CREATE TRIGGER ${trigger('insert')} AFTER INSERT ON ${q(table)} BEGIN ${bumpToRandomVersion('NEW.tenant')} END;`,
      `CREATE TRIGGER ${trigger('delete')} AFTER DELETE ON ${q(table)} BEGIN ${bumpToRandomVersion('OLD.tenant')} END;`,
      `CREATE TRIGGER ${trigger('update')} AFTER UPDATE ON ${q(table)} BEGIN ` +
        `${bumpToRandomVersion('OLD.tenant')} ` +
        `INSERT INTO ${RATES_VERSION_TABLE} (tenant, version) SELECT NEW.tenant, ${RANDOM_VERSION} WHERE NEW.tenant <> OLD.tenant ` +
        `ON CONFLICT (tenant) DO UPDATE SET version = excluded.version; END;`,
    );
  }
  return statements.join('\n');
}

export function initialSchemaDdl(): string {
  const statements: string[] = [];
  for (const spec of Object.values(TABLE_SPECS)) statements.push(entityTableDdl(spec));

  // Running transactions hang off the account row by id, so they follow the account when its
  // tag or tenant is changed by an update by id, and disappear with it.
  statements.push(`CREATE TABLE ${RUNNING_TABLE} (
  ${q(SEQUENCE_COLUMN)} INTEGER PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE ON UPDATE CASCADE,
  transaction_tag TEXT NOT NULL,
  proxy_tag TEXT,
  source TEXT,
  source_ip TEXT,
  destination TEXT,
  carrier_ip TEXT,
  tags TEXT CHECK (tags IS NULL OR json_valid(tags)),
  destination_rate TEXT CHECK (destination_rate IS NULL OR json_valid(destination_rate)),
  in_progress INTEGER NOT NULL CHECK (in_progress IN (0, 1)),
  inbound INTEGER NOT NULL CHECK (inbound IN (0, 1)),
  "primary" INTEGER NOT NULL CHECK ("primary" IN (0, 1)),
  timestamp_begin INTEGER NOT NULL,
  timestamp_end INTEGER
) STRICT;
CREATE UNIQUE INDEX ${RUNNING_TABLE}_account_transaction ON ${RUNNING_TABLE} (account_id, transaction_tag);
CREATE INDEX ${RUNNING_TABLE}_transaction ON ${RUNNING_TABLE} (transaction_tag);`);

  statements.push(`CREATE TABLE ${OUTCOMES_TABLE} (
  tenant TEXT NOT NULL,
  transaction_tag TEXT NOT NULL,
  account_tag TEXT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('ended', 'rolled_back', 'recorded')),
  at INTEGER NOT NULL,
  PRIMARY KEY (tenant, transaction_tag, account_tag)
) STRICT, WITHOUT ROWID;`);

  statements.push(`CREATE TABLE ${RATES_VERSION_TABLE} (
  tenant TEXT NOT NULL PRIMARY KEY,
  version INTEGER NOT NULL
) STRICT;`);
  for (const entity of RATE_ENTITIES) statements.push(ratesVersionTriggers(TABLE_SPECS[entity].entity.table));

  return statements.join('\n\n');
}
