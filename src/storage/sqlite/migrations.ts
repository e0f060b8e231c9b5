// Versioned schema migrations. Each migration runs once, in its own IMMEDIATE transaction,
// and is recorded in schema_migrations; the applied set is re-read inside that transaction so
// that two processes starting on the same file cannot apply a migration twice.
import type Database from 'better-sqlite3';
import { initialSchemaDdl, uniqueRatesVersionDdl } from './schema.ts';
import { SEQUENCE_COLUMN } from './sql-names.ts';
import { TABLE_SPECS } from './table-spec.ts';

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
  { version: 2, name: 'unique random rates versions', sql: uniqueRatesVersionDdl },
];

const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER NOT NULL PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL
) STRICT`;

/** Applies every pending migration; returns the versions applied by this call. */
export function applyMigrations(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  db.exec(CREATE_MIGRATIONS_TABLE);
  // Running older code on a database a newer version has migrated would write rows that schema
  // no longer expects: refuse, and say which version is needed.
  const known = new Set(migrations.map((migration) => migration.version));
  const unknown = (db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all() as number[]).filter(
    (version) => !known.has(version),
  );
  if (unknown.length > 0) {
    throw new Error(
      `the database has schema migration(s) ${unknown.join(', ')} that this version of canyan-rating does not know ` +
        `(it knows up to ${Math.max(...known)}): it was written by a newer canyan-rating; upgrade instead of downgrading`,
    );
  }
  const isApplied = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').pluck();
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const applied: number[] = [];
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    const apply = db.transaction(() => {
      if (isApplied.get(migration.version) !== undefined) return false;
      db.exec(migration.sql());
      record.run(migration.version, migration.name, new Date().toISOString());
      return true;
    });
    if (apply.immediate()) applied.push(migration.version);
  }
  return applied;
}

export function appliedMigrationVersions(db: Database.Database): number[] {
  return db
    .prepare('SELECT version FROM schema_migrations ORDER BY version')
    .pluck()
    .all()
    .map((v) => Number(v));
}

/** Throws when a table lacks a column of the field catalogue (a missing migration). */
export function verifyCatalogueColumns(db: Database.Database): void {
  const missing: string[] = [];
  for (const spec of Object.values(TABLE_SPECS)) {
    const present = new Set(
      db
        .prepare('SELECT name FROM pragma_table_info(?)')
        .pluck()
        .all(spec.entity.table)
        .map((name) => String(name)),
    );
    if (!present.has(SEQUENCE_COLUMN)) missing.push(`${spec.entity.table}.${SEQUENCE_COLUMN}`);
    for (const column of spec.columns) {
      if (!present.has(column.name)) missing.push(`${spec.entity.table}.${column.name}`);
    }
  }
  if (missing.length > 0) {
    throw new Error(`database schema is older than the field catalogue (missing ${missing.join(', ')}): a migration is needed`);
  }
}
