// Fresh, isolated PostgreSQL schemas for tests: each gets a unique name and is dropped with
// everything in it when the test is done.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { openPostgresStorage, type PostgresStorageOptions } from '../../src/storage/postgres/index.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { SERVICES } from '../support/services.ts';

export const POSTGRES_URL = SERVICES.postgresql.url;
export const quietLogger = pino({ level: 'warn' });

export function uniqueSchemaName(label = 'test'): string {
  return `cr_${label}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** Runs `work` with a plain connection (outside any storage), for setup and inspection. */
export async function withAdminClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await withAdminClient((client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

export async function openTestStorage(
  schema: string,
  options: Partial<Omit<PostgresStorageOptions, 'schema'>> = {},
): Promise<Storage> {
  return openPostgresStorage({ url: POSTGRES_URL, poolSize: 1, logger: quietLogger, ...options, schema });
}

type QueryFunction = (...args: unknown[]) => unknown;

export interface QueryTrace {
  /** The text of every statement sent so far, in order. */
  texts: string[];
  /** Puts the original method back (once; later calls do nothing). */
  restore: () => void;
}

/**
 * Records the text of every statement any pg.Client sends until `restore` (the pool's clients
 * included), to count round trips.
 */
export function traceQueries(): QueryTrace {
  const prototype = pg.Client.prototype as unknown as { query: QueryFunction };
  const original = prototype.query;
  const texts: string[] = [];
  prototype.query = function (this: unknown, ...args: unknown[]): unknown {
    const first = args[0];
    if (typeof first === 'string') texts.push(first);
    else if (typeof first === 'object' && first !== null && 'text' in first && typeof first.text === 'string') texts.push(first.text);
    else texts.push('(a query without text)');
    return original.apply(this, args);
  };
  let restored = false;
  return {
    texts,
    restore: () => {
      if (restored) return;
      restored = true;
      prototype.query = original;
    },
  };
}
