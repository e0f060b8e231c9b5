// Versioned schema migrations for PostgreSQL. The caller holds an advisory lock (see
// index.ts), so processes starting together apply each migration exactly once; each migration
// runs in its own transaction (DDL is transactional here) and is recorded in schema_migrations.
import type { ClientBase } from 'pg';
import { initialSchemaDdl, OUTCOMES_BY_TRANSACTION_DDL, ratesNotificationDdl } from './schema.ts';
import { LANE_TABLE, RATES_CHANNEL, SEQUENCE_COLUMN } from './sql.ts';
import { PG_TABLE_SPECS } from './table-spec.ts';

export interface Migration {
  version: number;
  name: string;
  sql: () => string;
}

/**
 * Ordered by version. Never edit an applied migration: append a new one. Version 1 is generated
 * from the field catalogue, so a field added to ENTITIES later needs a migration that adds its
 * column to databases created before (verifyCatalogueColumns reports the ones missing).
 */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial schema', sql: initialSchemaDdl },
  { version: 2, name: 'rates changes notify', sql: () => ratesNotificationDdl(RATES_CHANNEL) },
  { version: 3, name: 'outcomes by transaction tag (hash index)', sql: () => OUTCOMES_BY_TRANSACTION_DDL },
  // Locked (never written) by every storage transaction; it replaced a session-level advisory lock.
  { version: 4, name: 'transaction lane table', sql: () => `CREATE TABLE ${LANE_TABLE} ()` },
];

const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER NOT NULL PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`;

export async function appliedMigrationVersions(client: ClientBase): Promise<number[]> {
  const result = await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
  return result.rows.map((row) => Number(row.version));
}

/** Applies every pending migration; returns the versions applied by this call. */
export async function applyMigrations(client: ClientBase, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  await client.query(CREATE_MIGRATIONS_TABLE);
  // Running older code on a database a newer version has migrated would write rows that schema
  // no longer expects: refuse, and say which version is needed.
  const known = new Set(migrations.map((migration) => migration.version));
  const present = await appliedMigrationVersions(client);
  const unknown = present.filter((version) => !known.has(version));
  if (unknown.length > 0) {
    throw new Error(
      `the database has schema migration(s) ${unknown.join(', ')} that this version of canyan-rating does not know ` +
        `(it knows up to ${Math.max(...known)}): it was written by a newer canyan-rating; upgrade instead of downgrading`,
    );
  }
  const applied: number[] = [];
  const done = new Set(present);
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (done.has(migration.version)) continue;
    await client.query('BEGIN');
    try {
      await client.query(migration.sql());
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw new Error(`schema migration ${migration.version} (${migration.name}) failed: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
    applied.push(migration.version);
  }
  return applied;
}

/** Throws when a table of the current schema lacks a column of the field catalogue (a missing migration). */
export async function verifyCatalogueColumns(client: ClientBase): Promise<void> {
  const result = await client.query<{ table_name: string; column_name: string }>(
    'SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()',
  );
  const present = new Set(result.rows.map((row) => `${row.table_name}.${row.column_name}`));
  const missing: string[] = [];
  for (const spec of Object.values(PG_TABLE_SPECS)) {
    for (const column of [SEQUENCE_COLUMN, ...spec.columns.map((c) => c.name)]) {
      const name = `${spec.entity.table}.${column}`;
      if (!present.has(name)) missing.push(name);
    }
  }
  if (missing.length > 0) {
    throw new Error(`database schema is older than the field catalogue (missing ${missing.join(', ')}): a migration is needed`);
  }
}
