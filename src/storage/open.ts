// Opens the storage named by a database URL (configuration `database_url`) and brings its
// schema up to date.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { openSqliteStorage } from './sqlite/index.ts';
import type { Storage } from './storage.ts';

const ACCEPTED = 'sqlite:PATH (e.g. sqlite:data/rating.db or sqlite::memory:)';

export type StorageLocation = { kind: 'sqlite'; path: string };

/**
 * Parses a database URL. `sqlite:PATH` takes PATH relative to the working directory;
 * `sqlite://PATH` is accepted too, so `sqlite:///var/lib/rating.db` is an absolute path.
 */
export function parseDatabaseUrl(databaseUrl: string, cwd: string = process.cwd()): StorageLocation {
  const url = databaseUrl.trim();
  if (/^postgres(ql)?:\/\//i.test(url)) {
    throw new Error('PostgreSQL storage is not available in this version; use ' + ACCEPTED);
  }
  const match = /^sqlite:(.*)$/i.exec(url);
  if (match === null) {
    throw new Error(`unsupported database URL "${databaseUrl}": the accepted scheme is ${ACCEPTED}`);
  }
  const rest = match[1].startsWith('//') ? match[1].slice(2) : match[1];
  if (rest === '') throw new Error(`database URL "${databaseUrl}" names no file: expected ${ACCEPTED}`);
  if (rest === ':memory:') return { kind: 'sqlite', path: ':memory:' };
  return { kind: 'sqlite', path: resolve(cwd, rest) };
}

export async function openStorage(databaseUrl: string): Promise<Storage> {
  const location = parseDatabaseUrl(databaseUrl);
  if (location.path !== ':memory:') mkdirSync(dirname(location.path), { recursive: true });
  const storage = await openSqliteStorage({ path: location.path });
  try {
    await storage.migrate();
  } catch (error) {
    await storage.close();
    throw error;
  }
  return storage;
}
