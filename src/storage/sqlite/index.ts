// The embedded SQLite implementation of the storage contract (src/storage/storage.ts).
//
// One connection per Storage. Transactions run one at a time through a group-commit queue
// (group-commit.ts) inside BEGIN IMMEDIATE ... COMMIT, so the write lock is taken up front (no
// lock-upgrade deadlocks with other connections sharing the file). When another connection
// holds the lock, BEGIN is retried asynchronously: SQLite's own busy_timeout would block the
// event loop, and with it the very transaction (of this process) that holds the lock.
import Database from 'better-sqlite3';
import type { Repository, Storage } from '../storage.ts';
import { AccountStore } from './account-store.ts';
import { startBackgroundCheckpointer, type BackgroundCheckpointer } from './checkpointer.ts';
import { EntityStore } from './entity-store.ts';
import { applyMigrations, verifyCatalogueColumns } from './migrations.ts';
import { GroupCommitRunner, type TransactionHost } from './group-commit.ts';
import { SqliteRepository, type RepositoryParts } from './repository.ts';
import { StatementCache } from './statement-cache.ts';

export interface SqliteStorageOptions {
  /** File path, or ':memory:'. The parent directory must exist. */
  path: string;
  /** How long to wait for another connection's write lock, in milliseconds. */
  busyTimeoutMs?: number;
  /**
   * Checkpoint the write-ahead log from a worker thread (default true for files), keeping the
   * page copying and fsyncs of checkpoints off the event loop.
   */
  backgroundCheckpoints?: boolean;
}

const MAX_RETRY_DELAY_MS = 20;
const CHECKPOINT_INTERVAL_MS = 50;
/**
 * With background checkpoints, the writer still checkpoints once the log reaches this many
 * pages (16 MiB): under continuous writes a PASSIVE checkpoint never catches up with the end of
 * the log, and only the writer can rewind it. Most pages are copied already by then.
 */
const BACKSTOP_WAL_FRAMES = 4000;

function isFile(path: string): boolean {
  return path !== '' && path !== ':memory:';
}

export async function openSqliteStorage(options: SqliteStorageOptions): Promise<Storage> {
  const db = new Database(options.path);
  try {
    const busyTimeoutMs = Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000));
    // Switching to WAL may need a moment of exclusive access while another connection opens.
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // Every transaction of a commit group runs in a savepoint, whose journal (the original of
    // each page it changes) SQLite keeps in memory only up to 64 KiB: past that it moves to a
    // temporary file for the rest of the group, and every page of every later transaction is
    // written there, a system call each (~5 per call in the engine bench). In memory it stays.
    // Temporary tables, indexes and sorts then stay in memory too; they hold at most what a
    // query returns to JavaScript, which is all in memory anyway.
    db.pragma('temp_store = MEMORY');
    db.pragma('busy_timeout = 0');
    // SQLite's lower() folds ASCII only; text search must be case-insensitive for any script.
    db.function('unicode_lower', { deterministic: true }, (value: unknown) => (typeof value === 'string' ? value.toLowerCase() : value));
    let checkpointer: BackgroundCheckpointer | null = null;
    if ((options.backgroundCheckpoints ?? true) && isFile(options.path)) {
      db.pragma(`wal_autocheckpoint = ${BACKSTOP_WAL_FRAMES}`);
      checkpointer = startBackgroundCheckpointer({ path: options.path, intervalMs: CHECKPOINT_INTERVAL_MS });
    }
    return new SqliteStorage(db, busyTimeoutMs, checkpointer);
  } catch (error) {
    db.close();
    throw error;
  }
}

function isBusy(error: unknown): boolean {
  return error instanceof Error && 'code' in error && (error.code === 'SQLITE_BUSY' || error.code === 'SQLITE_LOCKED');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class SqliteStorage implements Storage {
  readonly #runner: GroupCommitRunner;
  readonly #parts: RepositoryParts;
  #closed = false;
  /** Whether the last transaction ended with a successful COMMIT. */
  #committed = false;

  constructor(
    private readonly db: Database.Database,
    private readonly busyTimeoutMs: number,
    private readonly checkpointer: BackgroundCheckpointer | null,
  ) {
    const statements = new StatementCache(db);
    const parts: RepositoryParts = { statements, entities: new EntityStore(statements), accounts: new AccountStore(statements) };
    this.#parts = parts;
    const host: TransactionHost = {
      begin: () => this.#begin(),
      execute: (sql) => {
        // Cached accounts may hold what a rollback undoes (account-cache.ts).
        if (sql === 'ROLLBACK TO job' || sql === 'ROLLBACK') parts.accounts.forgetAll();
        try {
          statements.get(sql).run();
        } catch (error) {
          parts.accounts.forgetAll();
          throw error;
        }
        if (sql === 'COMMIT') this.#committed = true;
      },
      inTransaction: () => db.inTransaction,
      openRepository: () => new SqliteRepository(parts),
    };
    this.#runner = new GroupCommitRunner(host, undefined, undefined, true);
  }

  migrate(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('storage is closed'));
    return this.#runner.exclusive(async () => {
      this.#ensureOpen();
      // Migrations run at start-up, before any transaction of ours: a blocking wait is harmless.
      this.db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
      try {
        applyMigrations(this.db);
        verifyCatalogueColumns(this.db);
      } finally {
        this.db.pragma('busy_timeout = 0');
        this.#parts.accounts.forgetAll();
      }
    });
  }

  transaction<T>(work: (repo: Repository) => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('storage is closed'));
    return this.#runner.transaction(work);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#runner.drain();
    // The worker's connection goes first, so that closing ours (the last one) checkpoints the
    // whole log and removes it, as before.
    await this.checkpointer?.stop();
    this.db.close();
  }

  async #begin(): Promise<void> {
    this.#ensureOpen();
    // A transaction that ended other than by our COMMIT (SQLite may abandon one by itself, after
    // a full disk for example) may have left its writes in the account cache.
    if (!this.#committed) this.#parts.accounts.forgetAll();
    this.#committed = false;
    const begin = this.#parts.statements.get('BEGIN IMMEDIATE');
    const deadline = Date.now() + this.busyTimeoutMs;
    for (let delay = 1; ; delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS)) {
      let began = false;
      try {
        begin.run();
        began = true;
      } catch (error) {
        if (!isBusy(error) || Date.now() >= deadline) throw error;
      }
      if (began) {
        // Holding the write lock, nobody else can commit until we do: what they committed
        // before is all the account cache has to look for.
        let version: unknown;
        try {
          version = this.#parts.statements.get('PRAGMA data_version', 'pluck').get();
        } catch {
          version = {}; // unknown: equal to no other version, so everything cached is dropped
        }
        this.#parts.accounts.startTransaction(version);
        return;
      }
      await sleep(delay);
      this.#ensureOpen();
    }
  }

  #ensureOpen(): void {
    // Jobs queued before close() still run; only the connection itself must be open.
    if (!this.db.open) throw new Error('storage is closed');
  }
}
