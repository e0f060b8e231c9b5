// Conversion between domain values and SQLite column values. SQLite has no boolean or JSON
// type, so booleans travel as 0/1 and lists/objects as JSON text; everything else is stored as
// is. Callers always see exactly the types of src/domain/types.ts.
import type { FieldKind } from '../../domain/entities.ts';

export type SqlValue = string | number | bigint | null;

export function encodeValue(kind: FieldKind, value: unknown): SqlValue {
  if (value === undefined || value === null) return null;
  switch (kind) {
    case 'bool':
      return value === true ? 1 : value === false ? 0 : fail(kind, value);
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
      return typeof value === 'string' ? value : fail(kind, value);
  }
}

export function decodeValue(kind: FieldKind, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case 'bool':
      return value !== 0;
    case 'json':
      return typeof value === 'string' ? (JSON.parse(value) as unknown) : null;
    case 'int':
    case 'money':
    case 'micros':
    case 'date':
      // Money and timestamps are safe integers by contract; a bigint only appears if a foreign
      // writer stored something larger, which we surface rather than silently round.
      return typeof value === 'bigint' ? Number(value) : value;
    default:
      return value;
  }
}

function fail(kind: FieldKind, value: unknown): never {
  const expected = kind === 'bool' ? 'a boolean' : kind === 'id' || kind === 'string' || kind === 'enum' ? 'a string' : 'a safe integer';
  throw new TypeError(`cannot store ${typeof value} ${String(JSON.stringify(value))} in a ${kind} field: expected ${expected}`);
}

/** Decodes a raw row (values in `fields` order, starting at `offset`) into a record. */
export function decodeRawRow(fields: readonly (readonly [string, FieldKind])[], row: readonly unknown[], offset = 0): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (let i = 0; i < fields.length; i++) {
    const [field, kind] = fields[i];
    record[field] = decodeValue(kind, row[offset + i]);
  }
  return record;
}
