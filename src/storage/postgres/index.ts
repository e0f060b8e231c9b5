// The PostgreSQL implementation of the storage contract (src/storage/storage.ts), for several
// engine processes sharing one database. A node-postgres Pool gives each transaction its own
// connection; transactions run at SERIALIZABLE isolation and are retried on conflicts
// (transaction.ts). All tables live in one schema, set as every connection's search_path.
import pg from 'pg';
import pino, { type Logger } from 'pino';
import type { Repository, Storage, TransactionHint } from '../storage.ts';
import { resolvePostgresLocation, redact, sessionStartupOptions } from './connection.ts';
import { applyMigrations, verifyCatalogueColumns, type Migration, MIGRATIONS } from './migrations.ts';
import { RatesChangeListener } from './rates-listener.ts';
import { RatesVersionCache } from './rates-version-cache.ts';
import { LANE_TABLE, quoteIdentifier as q } from './sql.ts';
import { TransactionLine, type TransactionSettings } from './transaction.ts';

export interface PostgresStorageOptions {
  /** postgres://user:password@host:port/database, optionally with ?schema=NAME. */
  url: string;
  /** Connections of this storage, i.e. how many of its transactions run at once. */
  poolSize: number;
  /** Schema holding the tables (created if missing); default the URL's `schema`, else public. */
  schema?: string;
  /** Where connection errors and give-ups are reported; default a pino logger on stdout. */
  logger?: Logger;
  /** Attempts of a transaction that keeps losing serialization conflicts; default 10. */
  maxAttempts?: number;
  /** Migrations to apply (tests only). */
  migrations?: readonly Migration[];
}

const DEFAULT_MAX_ATTEMPTS = 10;
// Advisory lock key space of canyan-rating migrations: the class id ("CANY"), then the schema.
const MIGRATION_LOCK_CLASS = 0x43414e59;

// The migration whose rates trigger notifies changes (migrations.ts).
const RATES_NOTIFY_MIGRATION = 2;

// Collations whose lower() folds every script, best first; "C" columns only fold ASCII.
const FOLD_COLLATIONS = ['und-x-icu', 'C.utf8', 'C.UTF-8', 'en_US.utf8'];

export async function openPostgresStorage(options: PostgresStorageOptions): Promise<Storage> {
  const location = resolvePostgresLocation(options.url, options.schema);
  const logger = (options.logger ?? pino()).child({ component: 'postgres-storage', schema: location.schema });
  const poolSize = Number.isFinite(options.poolSize) ? Math.max(1, Math.trunc(options.poolSize)) : 1;
  const pool = new pg.Pool({ connectionString: location.connectionString, options: sessionStartupOptions(location), max: poolSize });
  // An idle connection that dies (server restart) is reported here; without a listener it
  // would be an uncaught 'error' event and end the process. The pool replaces it on demand.
  pool.on('error', (error) => logger.error({ err: error }, 'idle PostgreSQL connection failed; the pool will open a new one'));
  try {
    const foldCollation = await pickFoldCollation(pool);
    const ratesVersions = new RatesVersionCache();
    const listener = new RatesChangeListener({
      connectionString: location.connectionString,
      startupOptions: location.startupOptions,
      schema: location.schema,
      cache: ratesVersions,
      logger,
    });
    return new PostgresStorage(pool, poolSize, location.schema, listener, {
      // Found through the connections' search_path: the schema's own lane.
      laneTable: q(LANE_TABLE),
      maxAttempts: Number.isFinite(options.maxAttempts) ? Math.max(1, Math.trunc(options.maxAttempts ?? 1)) : DEFAULT_MAX_ATTEMPTS,
      logger,
      listOptions: { foldCollation },
      ratesVersions,
    }, options.migrations ?? MIGRATIONS);
  } catch (error) {
    await pool.end();
    throw new Error(`cannot open PostgreSQL storage at ${redact(location.connectionString)}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}

async function pickFoldCollation(pool: pg.Pool): Promise<string> {
  const result = await pool.query<{ collname: string }>('SELECT collname FROM pg_collation WHERE collname = ANY($1::text[])', [FOLD_COLLATIONS]);
  const present = new Set(result.rows.map((row) => row.collname));
  // "default" is the database's collation: right for UTF-8 databases with a real locale.
  return FOLD_COLLATIONS.find((name) => present.has(name)) ?? 'default';
}

class PostgresStorage implements Storage {
  readonly #inFlight = new Set<Promise<unknown>>();
  #closing: Promise<void> | null = null;
  private readonly line: TransactionLine;

  constructor(
    private readonly pool: pg.Pool,
    poolSize: number,
    private readonly schema: string,
    private readonly ratesListener: RatesChangeListener,
    private readonly settings: TransactionSettings,
    private readonly migrations: readonly Migration[],
  ) {
    this.line = new TransactionLine(pool, poolSize, settings);
  }

  // Rates versions are cached only once this process has seen the schema migrated: before the
  // migration that makes the rates trigger notify, a change would not reach the cache.
  migrate(): Promise<void> {
    return this.#track(async () => {
      await this.#migrate();
      if (this.migrations.some((migration) => migration.version === RATES_NOTIFY_MIGRATION)) await this.ratesListener.start();
    });
  }

  transaction<T>(work: (repo: Repository) => Promise<T>, hint?: TransactionHint): Promise<T> {
    return this.#track(() => this.line.run(work, hint));
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      // Transactions already started (or waiting for a connection) finish first.
      await Promise.allSettled([...this.#inFlight]);
      await this.ratesListener.stop();
      await this.pool.end();
    })();
    return this.#closing;
  }

  /** Starts `start` unless closing, and keeps it in the set close() waits for. */
  #track<T>(start: () => Promise<T>): Promise<T> {
    if (this.#closing !== null) return Promise.reject(new Error('storage is closed'));
    const operation = start();
    this.#inFlight.add(operation);
    const forget = (): void => {
      this.#inFlight.delete(operation);
    };
    operation.then(forget, forget);
    return operation;
  }

  // Several processes may start at once: a session-level advisory lock per schema lets one of
  // them migrate while the others wait, then find nothing left to do.
  async #migrate(): Promise<void> {
    const client = await this.pool.connect();
    const onError = (error: Error): void => this.settings.logger.error({ err: error }, 'PostgreSQL connection error during migration');
    client.on('error', onError);
    let broken: Error | undefined;
    try {
      await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [MIGRATION_LOCK_CLASS, this.schema]);
      try {
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${q(this.schema)}`);
        const applied = await applyMigrations(client, this.migrations);
        if (applied.length > 0) this.settings.logger.info({ applied }, 'schema migrations applied');
        await verifyCatalogueColumns(client);
      } finally {
        await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [MIGRATION_LOCK_CLASS, this.schema]);
      }
    } catch (error) {
      broken = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      client.removeListener('error', onError);
      // A failed migration may leave a session-level lock or state behind: drop the connection.
      client.release(broken);
    }
  }
}
