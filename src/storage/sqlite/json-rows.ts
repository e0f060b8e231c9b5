// Rows read as one JSON array instead of one value per column.
//
// better-sqlite3 builds a JavaScript value per column through V8's generic API, about 0.2 µs a
// column: for the engine's account reads (18 account columns, 13 of a running transaction)
// that was more than the read itself. SQLite's json_array() renders the row as one string and
// JSON.parse turns it into values natively, at a fraction of the cost. JSON columns go in
// through json(), so they arrive already parsed instead of as text to parse one by one.
//
// Values keep their types: text stays text, integers (safe integers by contract) stay numbers
// and booleans arrive as 0/1, to be decoded by the field's kind like raw rows are.
import type { FieldKind } from '../../domain/entities.ts';

export interface JsonColumn {
  /** An SQL expression (usually a qualified column name). */
  sql: string;
  kind: FieldKind;
}

/** `json_array(...)` of the columns, JSON columns embedded as JSON rather than as text. */
export function jsonArraySql(columns: readonly JsonColumn[]): string {
  return `json_array(${columns.map((c) => (c.kind === 'json' ? `json(${c.sql})` : c.sql)).join(', ')})`;
}

export type JsonRowDecoder = (values: readonly unknown[], offset?: number) => Record<string, unknown>;

/**
 * A decoder of parsed json_array rows (values in `fields` order from `offset`) into records.
 * Each record starts as a copy of a template that already has every field, so filling it in
 * changes no object shape: adding the fields one by one made V8 migrate every record through
 * a chain of hidden classes, which cost more than the decoding itself.
 */
export function jsonRowDecoder(fields: readonly (readonly [string, FieldKind])[]): JsonRowDecoder {
  const template: Record<string, unknown> = Object.fromEntries(fields.map(([field]) => [field, null]));
  const names = fields.map(([field]) => field);
  const isBool = fields.map(([, kind]) => kind === 'bool');
  return (values, offset = 0) => {
    const record = { ...template };
    for (let i = 0; i < names.length; i++) {
      const value = values[offset + i];
      record[names[i]] = isBool[i] && value !== null ? value !== 0 : value;
    }
    return record;
  };
}

/** Parses one json_array row; a row that is not an array is a bug in the query, not data. */
export function parseJsonRow(text: unknown): unknown[] {
  const values: unknown = typeof text === 'string' ? JSON.parse(text) : null;
  if (!Array.isArray(values)) throw new Error('expected a json_array row from SQLite');
  return values;
}
