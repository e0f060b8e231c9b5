// Opens the storage named by a database URL (configuration `database_url`) and brings its
// schema up to date.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { openPostgresStorage } from './postgres/index.ts';
import { openSqliteStorage } from './sqlite/index.ts';
import type { Storage } from './storage.ts';

const ACCEPTED =
  'sqlite:PATH (e.g. sqlite:data/rating.db or sqlite::memory:) or postgres://USER@HOST:PORT/DATABASE (postgresql:// too, optionally ?schema=NAME)';

export type StorageLocation = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

export interface OpenStorageOptions {
  /** PostgreSQL connections of this process (configuration `database_pool_size`); default 10. */
  poolSize?: number;
  /** Where PostgreSQL connection problems are reported. */
  logger?: Logger;
}

const DEFAULT_POOL_SIZE = 10;

/**
 * Parses a database URL. `sqlite:PATH` takes PATH relative to the working directory;
 * `sqlite://PATH` is accepted too, so `sqlite:///var/lib/rating.db` is an absolute path.
 * `postgres://` and `postgresql://` URLs are passed on as they are (node-postgres reads them).
 */
export function parseDatabaseUrl(databaseUrl: string, cwd: string = process.cwd()): StorageLocation {
  const url = databaseUrl.trim();
  if (/^postgres(ql)?:\/\//i.test(url)) return { kind: 'postgres', url };
  const match = /^sqlite:(.*)$/i.exec(url);
  if (match === null) {
    throw new Error(`unsupported database URL "${databaseUrl}": the accepted schemes are ${ACCEPTED}`);
  }
  const rest = match[1].startsWith('//') ? match[1].slice(2) : match[1];
  if (rest === '') throw new Error(`database URL "${databaseUrl}" names no file: expected ${ACCEPTED}`);
  if (rest === ':memory:') return { kind: 'sqlite', path: ':memory:' };
  return { kind: 'sqlite', path: resolve(cwd, rest) };
}

export async function openStorage(databaseUrl: string, options: OpenStorageOptions = {}): Promise<Storage> {
  const location = parseDatabaseUrl(databaseUrl);
  let storage: Storage;
  if (location.kind === 'postgres') {
    storage = await openPostgresStorage({
      url: location.url,
      poolSize: options.poolSize ?? DEFAULT_POOL_SIZE,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
  } else {
    if (location.path !== ':memory:') mkdirSync(dirname(location.path), { recursive: true });
    storage = await openSqliteStorage({ path: location.path });
  }
  try {
    await storage.migrate();
  } catch (error) {
    await storage.close();
    throw error;
  }
  return storage;
}
