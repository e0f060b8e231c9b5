// Conversion between domain values and the parameters / result values of node-postgres.
// Booleans are native, lists and objects travel as JSON text (columns of type json keep the
// text exactly, as SQLite does), and integers are BIGINT, which node-postgres returns as strings:
// they are turned back into numbers here, refusing any that a JS number cannot hold exactly.
import type { FieldKind } from '../../domain/entities.ts';

export type PgParam = string | number | boolean | null;

export function encodeValue(kind: FieldKind, value: unknown): PgParam {
  if (value === undefined || value === null) return null;
  switch (kind) {
    case 'bool':
      return typeof value === 'boolean' ? value : fail(kind, value);
    case 'json':
      return JSON.stringify(value);
    case 'int':
    case 'money':
    case 'micros':
    case 'date':
      // Money and timestamps are exact integers by contract; a fraction here is a caller's bug.
      return typeof value === 'number' && Number.isSafeInteger(value) ? value : fail(kind, value);
    case 'id':
    case 'string':
    case 'enum':
      if (typeof value !== 'string') fail(kind, value);
      // PostgreSQL text cannot hold U+0000; refuse it here with a clear message (SQLite would store it).
      if (value.includes('\u0000')) throw new TypeError(`cannot store a ${kind} containing a NUL character`);
      return value;
  }
}

export function decodeValue(kind: FieldKind, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case 'int':
    case 'money':
    case 'micros':
    case 'date':
      return decodeInteger(value);
    case 'json':
      // node-postgres parses json columns already; text only appears if a foreign writer used text.
      return typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
    default:
      return value;
  }
}

/** A BIGINT (string from node-postgres) as a number; throws rather than round an unsafe one. */
export function decodeInteger(value: unknown): number {
  const number = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(number)) throw new RangeError(`stored integer ${String(value)} is not a safe JS integer`);
  return number;
}

function fail(kind: FieldKind, value: unknown): never {
  const expected = kind === 'bool' ? 'a boolean' : kind === 'id' || kind === 'string' || kind === 'enum' ? 'a string' : 'a safe integer';
  throw new TypeError(`cannot store ${typeof value} ${String(JSON.stringify(value))} in a ${kind} field: expected ${expected}`);
}

/** Decodes a raw row (values in `columns` order, starting at `offset`) into a record. */
export function decodeRawRow(columns: readonly { name: string; kind: FieldKind }[], row: readonly unknown[], offset = 0): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i];
    record[column.name] = decodeValue(column.kind, row[offset + i]);
  }
  return record;
}

/** The PostgreSQL type a parameter of this kind is cast to. */
export function pgType(kind: FieldKind): string {
  switch (kind) {
    case 'id':
    case 'string':
    case 'enum':
      return 'text';
    case 'json':
      return 'json';
    case 'bool':
      return 'boolean';
    case 'int':
    case 'money':
    case 'micros':
    case 'date':
      return 'bigint';
  }
}
