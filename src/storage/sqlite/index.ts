// The embedded SQLite implementation of the storage contract (src/storage/storage.ts).
//
// One connection per Storage. Transactions are serialised through an async queue and run as
// BEGIN IMMEDIATE ... COMMIT, so the write lock is taken up front (no upgrade deadlocks with
// other processes sharing the file; busy_timeout makes them wait instead of failing).
import Database from 'better-sqlite3';
import type { Repository, Storage } from '../storage.ts';
import { AccountStore } from './account-store.ts';
import { EntityStore } from './entity-store.ts';
import { applyMigrations } from './migrations.ts';
import { SqliteRepository, type RepositoryParts } from './repository.ts';
import { SerialQueue } from './serial-queue.ts';
import { StatementCache } from './statement-cache.ts';

export interface SqliteStorageOptions {
  /** File path, or ':memory:'. The parent directory must exist. */
  path: string;
  /** How long to wait for another process's write lock, in milliseconds. */
  busyTimeoutMs?: number;
}

export async function openSqliteStorage(options: SqliteStorageOptions): Promise<Storage> {
  const db = new Database(options.path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
    db.pragma('foreign_keys = ON');
    // SQLite's lower() folds ASCII only; text search must be case-insensitive for any script.
    db.function('unicode_lower', { deterministic: true }, (value: unknown) => (typeof value === 'string' ? value.toLowerCase() : value));
  } catch (error) {
    db.close();
    throw error;
  }
  return new SqliteStorage(db);
}

class SqliteStorage implements Storage {
  readonly #queue = new SerialQueue();
  readonly #parts: RepositoryParts;
  #closed = false;

  constructor(private readonly db: Database.Database) {
    const statements = new StatementCache(db);
    this.#parts = { statements, entities: new EntityStore(statements), accounts: new AccountStore(statements) };
  }

  migrate(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('storage is closed'));
    return this.#queue.run(async () => {
      this.#ensureOpen();
      applyMigrations(this.db);
    });
  }

  transaction<T>(work: (repo: Repository) => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('storage is closed'));
    return this.#queue.run(async () => {
      this.#ensureOpen();
      const { statements } = this.#parts;
      const repo = new SqliteRepository(this.#parts);
      statements.get('BEGIN IMMEDIATE').run();
      try {
        const result = await work(repo);
        repo.close();
        statements.get('COMMIT').run();
        return result;
      } catch (error) {
        repo.close();
        // SQLite may already have rolled back by itself (e.g. on SQLITE_FULL).
        if (this.db.inTransaction) statements.get('ROLLBACK').run();
        throw error;
      }
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.drain();
    this.db.close();
  }

  #ensureOpen(): void {
    // Jobs queued before close() still run; only the connection itself must be open.
    if (!this.db.open) throw new Error('storage is closed');
  }
}
